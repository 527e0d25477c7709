"""Comparison tables as pandas DataFrames: measured rows (mean ± std over seeds) with the published figures of the
same method beside them, clearly marked as published.

Directions and units come from :data:`colorbench.metrics.METRICS` (the declaration table); a metric a results file
lacks is shown as ``n/a``, never dropped silently, so the columns of every report are the same.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import pandas as pd

from colorbench.bench.published import PublishedRow, format_value, load_published
from colorbench.metrics import METRICS
from colorbench.report.load import BASELINES, pretrained_false

DEFAULT_METRICS = ("psnr", "ssim", "mae_ab", "delta_e76", "colorfulness", "delta_colorfulness",
                   "js_a", "js_b", "kl_a", "kl_b")
C2F_TABLE1 = ("Table 1a", "Table 1b", "Table 1c")


def label(method: str, variant: str | float | None) -> str:
    """``method`` or ``method [variant]`` (the default variant is left out)."""
    v = "" if variant is None or (isinstance(variant, float) and math.isnan(variant)) else str(variant)
    return method if v in ("", "default") else f"{method} [{v}]"


def header(metric: str) -> str:
    """Column title with the declared direction and unit, e.g. ``psnr ↑ (dB)``; unknown metrics get no arrow."""
    info = METRICS.get(metric)
    if info is None:
        return metric
    unit = f" ({info.unit})" if info.unit and info.unit not in ("", "1") else ""
    return f"{metric} {'↑' if info.higher_is_better else '↓'}{unit}"


def summary(metrics: pd.DataFrame, names: Sequence[str] = DEFAULT_METRICS) -> pd.DataFrame:
    """Numeric summary of ok rows: index = label, columns ``seeds``, ``<metric>_mean``, ``<metric>_std`` (NaN std
    for a single seed; NaN mean for a metric the file lacks), ``pretrained_false`` (backbones not loaded)."""
    ok = metrics[metrics["status"] == "ok"] if "status" in metrics else metrics
    out = []
    for (method, variant), g in ok.groupby(["method", "variant"], sort=False):
        rec = {"label": label(method, variant), "method": method, "variant": variant, "seeds": len(g)}
        for m in names:
            vals = pd.to_numeric(g[m], errors="coerce") if m in g else pd.Series([math.nan] * len(g))
            vals = vals[vals.notna()]
            rec[f"{m}_mean"] = float(vals.mean()) if len(vals) else math.nan
            rec[f"{m}_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else math.nan
        rec["pretrained_false"] = sorted({b for _, r in g.iterrows() for b in pretrained_false(r)})
        out.append(rec)
    df = pd.DataFrame(out)
    if df.empty:
        return df
    order = sorted(range(len(df)), key=lambda i: (df.method[i] not in BASELINES, df.method[i], str(df.variant[i])))
    return df.iloc[order].set_index("label")


def best(summary_df: pd.DataFrame, metric: str) -> str | None:
    """Label of the best measured mean for ``metric`` by its declared direction (None when all are NaN)."""
    col = summary_df.get(f"{metric}_mean")
    if col is None or col.isna().all() or metric not in METRICS:
        return None
    return str(col.idxmax() if METRICS[metric].higher_is_better else col.idxmin())


def _fmt(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    a = abs(v)
    return f"{v:.4f}" if a < 1 else f"{v:.3f}" if a < 100 else f"{v:.1f}"


def measured_table(summary_df: pd.DataFrame, names: Sequence[str] = DEFAULT_METRICS) -> pd.DataFrame:
    """Display table: ``value`` (one seed) or ``mean ± std`` (several), ``★`` on the best per column, ``n/a`` where
    the metric is missing; a ``note`` column flags ``pretrained=false`` rows."""
    rows = {}
    winners = {m: best(summary_df, m) for m in names}
    for lab, r in summary_df.iterrows():
        cells = {"seeds": int(r["seeds"]), "kind": "measured"}
        for m in names:
            mean, std = r.get(f"{m}_mean", math.nan), r.get(f"{m}_std", math.nan)
            s = _fmt(mean)
            if not math.isnan(std):
                s += f" ± {_fmt(std)}"
            if winners[m] == lab:
                s += " ★"
            cells[header(m)] = s
        flags = r.get("pretrained_false") or []
        cells["note"] = f"pretrained=false ({', '.join(flags)})" if flags else ""
        rows[lab] = cells
    return pd.DataFrame.from_dict(rows, orient="index")


def published_rows(exclude_tables: Iterable[str] = C2F_TABLE1) -> list[PublishedRow]:
    """Published rows whose metric maps to one of ours (``colorbench/reference/published.csv``)."""
    skip = set(exclude_tables)
    return [r for r in load_published() if r.table not in skip and r.our_metric in METRICS]


def _published_groups(rows: Sequence[PublishedRow]) -> dict[tuple[str, ...], dict[str, PublishedRow]]:
    groups: dict[tuple[str, ...], dict[str, PublishedRow]] = {}
    for r in rows:
        m, v = r.ours
        groups.setdefault((m, v or "default", r.source, r.table, r.dataset, r.resolution), {})[r.our_metric] = r
    return groups


def _pub_cell(r: PublishedRow | None) -> str:
    return "" if r is None else format_value(r)


def comparison_table(summary_df: pd.DataFrame, names: Sequence[str] = DEFAULT_METRICS,
                     published: Sequence[PublishedRow] | None = None) -> pd.DataFrame:
    """Measured rows, each followed by the published rows of the same method/variant (``kind = published``,
    source, dataset and resolution in ``note``); published rows with no measured twin come last, marked
    ``published, not measured here``."""
    published = published_rows() if published is None else published
    measured = measured_table(summary_df, names) if not summary_df.empty else pd.DataFrame()
    groups = _published_groups(published)
    out: list[tuple[str, dict]] = []
    used = set()
    have = {(r.method, r.variant): lab for lab, r in summary_df.iterrows()} if not summary_df.empty else {}
    for lab, cells in measured.iterrows():
        out.append((lab, dict(cells)))
        key = (summary_df.loc[lab, "method"], summary_df.loc[lab, "variant"])
        for gk, g in groups.items():
            if (gk[0], gk[1]) == key:
                used.add(gk)
                out.append((f"  {lab} (published)", _published_cells(gk, g, names, twin=True)))
    for gk, g in groups.items():
        if gk not in used:
            name = label(gk[0], gk[1])
            out.append((f"{name} (published)", _published_cells(gk, g, names, twin=(gk[0], gk[1]) in have)))
    df = pd.DataFrame([c for _, c in out], index=[lab for lab, _ in out])
    cols = ["kind", "seeds"] + [header(m) for m in names] + ["note"]
    return df.reindex(columns=cols).fillna("")


def _published_cells(key: tuple[str, ...], g: dict[str, PublishedRow], names: Sequence[str], twin: bool) -> dict:
    _, _, source, table, dataset, resolution = key
    cells = {"kind": "published", "seeds": ""}
    for m in names:
        cells[header(m)] = _pub_cell(g.get(m))
    where = f"{source} {table}, {dataset}, {resolution}"
    cells["note"] = where if twin else f"{where}; published, not measured here"
    return cells


def runtime_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """ms per image of ``colorize`` (batch 1) at every timed size of the trained cells: index = label, one column
    per ``WxH`` size, sizes in ascending pixel count (NaN where a size was not timed or ran out of memory)."""
    cols = [c for c in metrics.columns if c.startswith("ms_per_image_")]
    sizes = sorted((c[len("ms_per_image_"):] for c in cols), key=lambda s: math.prod(int(x) for x in s.split("x")))
    ok = metrics[metrics["status"] == "ok"] if "status" in metrics else metrics
    rows = {}
    for (method, variant), g in ok.groupby(["method", "variant"], sort=False):
        rows[label(method, variant)] = {s: float(pd.to_numeric(g[f"ms_per_image_{s}"], errors="coerce").median())
                                        for s in sizes}
    return pd.DataFrame.from_dict(rows, orient="index", columns=sizes)

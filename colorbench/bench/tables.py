"""Result tables: ``metrics.csv`` rows, and ``table.md`` (mean ± std over seeds, or a bootstrap 95% interval
over test images for one seed; best per column in bold; ↑/↓ from the metrics' declarations; ``n/a`` with reasons).

Functions here take plain rows (the ``row.json`` dicts of :mod:`colorbench.bench.cell`) and metric declarations
``{name: {"direction": "higher"|"lower", "unit": str, "description": str}}``, so they are testable with fake rows.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from colorbench.bench.published import HISTOGRAM_METRICS

TIMING_COLUMNS = ("train_seconds", "train_images_per_s", "eval_seconds", "cell_seconds", "peak_memory_mb",
                  "finished", "started")
"""Columns that change from run to run on the same inputs (excluded when comparing two runs' rows)."""

BASELINES = ("gray", "mean_color")


def declarations(table: Mapping[str, Any] | None = None) -> dict[str, dict[str, str]]:
    """Normalise ``colorbench.metrics.METRICS`` (dicts, dataclasses, namedtuples or tuples) to plain dicts."""
    if table is None:
        from colorbench.metrics import METRICS as table  # noqa: N811
    out = {}
    for name, entry in table.items():
        if isinstance(entry, Mapping):
            d = dict(entry)
        elif hasattr(entry, "_asdict"):
            d = dict(entry._asdict())
        elif hasattr(entry, "__dataclass_fields__"):
            d = {k: getattr(entry, k) for k in entry.__dataclass_fields__}
        else:
            d = dict(zip(("direction", "unit", "description"), entry))
        direction = str(d.get("direction", d.get("higher_is_better", ""))).lower()
        if direction in ("true", "up", "max", "higher", "↑"):
            direction = "higher"
        elif direction in ("false", "down", "min", "lower", "↓"):
            direction = "lower"
        out[name] = {"direction": direction, "unit": str(d.get("unit", "") or ""),
                     "description": str(d.get("description", "") or "")}
    return out


def arrow(decl: Mapping[str, str]) -> str:
    return {"higher": "↑", "lower": "↓"}.get(decl.get("direction", ""), "")


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)


def flatten_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """One ``metrics.csv`` row: identity, every metric, runtime per size, then provenance."""
    flat: dict[str, Any] = {k: row.get(k) for k in ("method", "variant", "dataset", "seed", "status")}
    flat.update(row.get("metrics", {}))
    for r in row.get("runtime", []):
        tag = r["size"]
        flat[f"ms_per_image_{tag}"] = r.get("ms_per_image")
        flat[f"images_per_s_{tag}"] = r.get("images_per_s")
        flat[f"peak_memory_mb_{tag}"] = r.get("peak_memory_mb")
    prov = dict(row.get("provenance", {}))
    flat["config_hash"] = row.get("key")
    flat["code_hash"] = row.get("code_hash")
    for k, v in prov.items():
        flat[k] = v
    if row.get("error"):
        flat["error"] = row["error"]
    return flat


def bootstrap_ci(values: Sequence[float], n_boot: int = 2000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (finite values only; seeded, so repeatable)."""
    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if x.size == 0:
        return (math.nan, math.nan)
    if x.size == 1:
        return (float(x[0]), float(x[0]))
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)


def _fmt(v: float, metric: str) -> str:
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    a = abs(v)
    if metric in ("psnr",) or a >= 100:
        return f"{v:.2f}"
    if a >= 1:
        return f"{v:.3f}"
    return f"{v:.4f}"


def label(method: str, variant: str) -> str:
    return method if variant in ("default", "", None) else f"{method} [{variant}]"


def summarise(rows: Iterable[Mapping[str, Any]], per_image: Iterable[Mapping[str, Any]],
              metrics: Sequence[str]) -> list[dict[str, Any]]:
    """One entry per (method, variant): ``{"label", "n_seeds", metric: {"mean", "text", "na"}}``.

    Several seeds: mean ± sample std over seeds. One seed: the value with a bootstrap 95% interval over the test
    images when the metric is per-image (present in ``per_image``), else the value alone.
    """
    rows = list(rows)
    per_image = list(per_image)
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["method"], r.get("variant", "default")), []).append(r)
    out = []
    for (method, variant), grp in groups.items():
        ok = [r for r in grp if r.get("status", "ok") == "ok"]
        entry: dict[str, Any] = {"label": label(method, variant), "method": method, "variant": variant,
                                 "n_seeds": len(ok), "failed": [r.get("error", "failed") for r in grp if r not in ok]}
        for m in metrics:
            vals = [r["metrics"].get(m) for r in ok]
            nums = [float(v) for v in vals if is_number(v)]
            reasons = sorted({str(r.get("na_reasons", {}).get(m, "not reported by the evaluator"))
                              for r, v in zip(ok, vals) if not is_number(v)})
            if not ok:
                entry[m] = {"mean": math.nan, "text": "n/a", "na": entry["failed"][0] if entry["failed"] else "no row"}
            elif not nums:
                entry[m] = {"mean": math.nan, "text": "n/a", "na": "; ".join(reasons)}
            elif len(nums) > 1:
                mean, std = float(np.mean(nums)), float(np.std(nums, ddof=1))
                entry[m] = {"mean": mean, "text": f"{_fmt(mean, m)} ± {_fmt(std, m)}", "na": ""}
            else:
                mean = nums[0]
                text = _fmt(mean, m)
                key = ok[0].get("key")
                img = [float(p[m]) for p in per_image
                       if p.get("key") == key and m in p and p[m] not in ("", None)]
                if len(img) > 1 and math.isfinite(mean):
                    lo, hi = bootstrap_ci(img)
                    text += f" [{_fmt(lo, m)}, {_fmt(hi, m)}]"
                entry[m] = {"mean": mean, "text": text, "na": ""}
        out.append(entry)
    return out


def _constant(values: Iterable[float]) -> bool:
    """All values equal up to float noise (e.g. colorfulness_true: the truth's figure, the same for every method)."""
    vals = [v for v in values if is_number(v)]
    return not vals or max(vals) - min(vals) <= 1e-5 * max(1.0, max(abs(v) for v in vals))  # float32 noise


def best_labels(summary: Sequence[Mapping[str, Any]], metric: str, direction: str) -> set[str]:
    vals = [(e["label"], e[metric]["mean"]) for e in summary if is_number(e[metric]["mean"])]
    if _constant(v for _, v in vals) or direction not in ("higher", "lower"):
        return set()  # nothing to rank (e.g. a reference column that is the same for every method)
    target = max(v for _, v in vals) if direction == "higher" else min(v for _, v in vals)
    return {lab for lab, v in vals if v == target}


def header(metric: str, decl: Mapping[str, str], legacy: bool) -> str:
    unit = f" ({decl['unit']})" if decl.get("unit") else ""
    form = (" legacy" if legacy else " canonical") if metric in HISTOGRAM_METRICS else ""
    return f"{metric}{form} {arrow(decl)}{unit}".replace("  ", " ")


def markdown_table(rows: Iterable[Mapping[str, Any]], per_image: Iterable[Mapping[str, Any]],
                   decls: Mapping[str, Mapping[str, str]], *, legacy: bool = False) -> tuple[str, list[str]]:
    """The measured table as markdown, and the footnotes (n/a reasons, failures). Best per column in bold."""
    rows = [r for r in rows if r.get("kind", "train") == "train"]
    metrics = [m for m in decls if any(m in r.get("metrics", {}) for r in rows)]
    summary = summarise(rows, per_image, metrics)
    bests = {m: best_labels(summary, m, decls[m]["direction"]) for m in metrics}
    notes: list[str] = []
    lines = ["| method | seeds | " + " | ".join(header(m, decls[m], legacy) for m in metrics) + " |",
             "|---|---|" + "---|" * len(metrics)]
    for e in summary:
        cells = []
        for m in metrics:
            c = e[m]
            if c["na"]:
                note = f"{e['label']} failed: {c['na']}" if e["failed"] and not e["n_seeds"] else f"{m}: {c['na']}"
                if note not in notes:
                    notes.append(note)
                cells.append(f"n/a[^{notes.index(note) + 1}]")
            elif e["label"] in bests[m]:
                cells.append(f"**{c['text']}**")
            else:
                cells.append(c["text"])
        lines.append(f"| {e['label']} | {e['n_seeds']} | " + " | ".join(cells) + " |")
    return "\n".join(lines), notes


def baseline_comparison(rows: Iterable[Mapping[str, Any]],
                        decls: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, dict[str, bool]]]:
    """For every trained (non-baseline) method: ``{label: {metric: {"gray": beats?, "mean_color": beats?}}}``
    on the mean over seeds; a metric or baseline that is missing is left out."""
    rows = [r for r in rows if r.get("kind", "train") == "train" and r.get("status", "ok") == "ok"]
    metrics = [m for m in decls if decls[m]["direction"] in ("higher", "lower")]
    summary = {e["label"]: e for e in summarise(rows, [], metrics)}
    out: dict[str, dict[str, dict[str, bool]]] = {}
    constant = {m for m in metrics if _constant(e[m]["mean"] for e in summary.values())}
    metrics = [m for m in metrics if m not in constant]  # e.g. colorfulness_true: a reference, not a score
    for lab, e in summary.items():
        if e["method"] in BASELINES:
            continue
        res: dict[str, dict[str, bool]] = {}
        for m in metrics:
            mine = e[m]["mean"]
            if not is_number(mine):
                continue
            for b in BASELINES:
                if b in summary and is_number(summary[b][m]["mean"]):
                    theirs = summary[b][m]["mean"]
                    res.setdefault(m, {})[b] = mine > theirs if decls[m]["direction"] == "higher" else mine < theirs
        out[lab] = res
    return out

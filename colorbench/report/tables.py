"""The results tables, once: labels, headers, number formats, intervals, best marks, ties, flags and the
comparison against the baselines, over one table of rows (``metrics.csv``, one row per cell) and its per-image
twin (``per_image.csv``). ``make bench`` writes ``table.md`` with these functions and the notebooks show the same
tables as DataFrames, so the two cannot disagree.

* Goals come from :data:`colorbench.metrics.METRICS`: higher, lower, or closest to the ground truth (a figure with a
  ``_true`` twin); reference and diagnostic figures are never ranked.
* Marks follow :mod:`colorbench.report.stats`: one family of tests per table (every best-row and every baseline
  comparison, Holm-corrected together); the best row is bold only when its difference from every other eligible
  row survives; otherwise the rows that tie with it are named under the table.
* Flags: a frozen component running with random weights, or degenerate output in the majority of a row's seeds
  (:mod:`colorbench.report.flags`, checked per seed against the truth's own figures), is printed beside the row,
  and such a row is never bold and never ✓; a minority of degenerate seeds is printed and the row competes.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from colorbench.metrics.table import HISTOGRAM_METRICS, METRICS, MetricInfo
from colorbench.report import family as fam
from colorbench.report import stats
from colorbench.report.bootstrap import Design, interval, p_value
from colorbench.report.flags import SeedFlags, rules_text, seed_flags
from colorbench.report.item_histograms import ItemHistograms
from colorbench.report.load import text_variants
from colorbench.report.replicates import Row, design_of, pooled_truth, row_replicates

TABLE_METRICS = ("psnr", "ssim", "colorfulness", "delta_colorfulness", "colorfulness_abs", "delta_colorfulness_abs",
                 "mae_ab", "delta_e76", "js_a", "js_b", "kl_a", "kl_b", "lpips_alex", "lpips_vgg", "fid", "fid_tv")
"""Ranked columns of the main table, in order (the diagnostics and the truth's colourfulness appear in the flags
and the caption). A column no row has a value for is left out, and one note under the table names it
(:func:`not_computed_note`)."""

TIMING_COLUMNS = ("train_seconds", "train_images_per_s", "eval_seconds", "cell_seconds", "peak_memory_mb",
                  "finished", "started")
"""Columns that change from run to run on the same inputs (excluded when comparing two runs' rows)."""


# ----------------------------------------------------------------------------------------------- basics
def label(method: str, variant: Any = "default") -> str:
    """``method`` or ``method [variant]`` (the default variant is left out)."""
    v = "" if variant is None or (isinstance(variant, float) and math.isnan(variant)) else str(variant)
    return method if v in ("", "default") else f"{method} [{v}]"


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and not math.isnan(v)


def fmt(v: Any, metric: str = "") -> str:
    """One format for every figure in every table: PSNR and values ≥ 100 with 2 decimals, ≥ 1 with 3, else 4."""
    if not is_number(v):
        return "n/a"
    v = float(v)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    a = abs(v)
    if metric == "psnr" or a >= 100:
        return f"{v:.2f}"
    return f"{v:.3f}" if a >= 1 else f"{v:.4f}"


def header(metric: str, legacy: bool = False) -> str:
    """Column title with the goal's arrow and the unit, e.g. ``psnr ↑ (dB)``; histogram columns say their form."""
    info = METRICS.get(metric)
    if info is None:
        return metric
    unit = f" ({info.unit})" if info.unit and info.unit not in ("", "1") else ""
    form = (" legacy" if legacy else "") if metric in HISTOGRAM_METRICS else ""
    features = f" [{info.extractor}]" if info.pooled == "features" else ""  # two FIDs: say which network
    return f"{metric}{form} {info.arrow}{unit}{features}".replace("  ", " ").strip()


def baseline_methods() -> set[str]:
    """Registered methods that declare ``is_baseline``."""
    from colorbench.registry import get_method, list_methods

    return {m for m in list_methods() if get_method(m).is_baseline}


def flatten_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """One ``metrics.csv`` row from a cell's ``row.json``: identity, every figure, runtime per size, then
    provenance (nested values as JSON)."""
    flat: dict[str, Any] = {k: row.get(k) for k in ("kind", "method", "variant", "dataset", "seed", "status")}
    figures = dict(row.get("metrics", {}))
    flat.update({k: figures.pop(k) for k in METRICS if k in figures})  # a fixed column order, cached or not
    flat.update(dict(sorted(figures.items())))
    for r in row.get("runtime", []):
        tag = r["size"]
        for k in ("ms_per_image", "ms_min", "ms_max", "images_per_s", "peak_memory_mb", "warmup", "repeats"):
            flat[f"{k}_{tag}"] = r.get(k)
        if r.get("status", "ok") != "ok":
            flat[f"status_{tag}"] = r.get("status")
        if is_number(r.get("params")):
            flat["params"] = int(r["params"])
    flat["config_hash"] = row.get("key")
    flat["code_hash"] = row.get("code_hash")
    flat["data_fingerprint"] = row.get("data_fingerprint")
    flat["environment"] = row.get("environment")
    flat["numeric_mode"] = row.get("numeric_mode")
    flat["cpu_isa"] = row.get("cpu_isa")
    for k, v in sorted(dict(row.get("provenance", {})).items()):
        flat[k] = v
    for k, v in sorted(dict(row.get("na_reasons", {})).items()):
        flat[f"{k}_note"] = v
    if row.get("error"):
        flat["error"] = row["error"]
    return {k: json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v for k, v in flat.items()}


def _json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _column(frame: pd.DataFrame, name: str) -> list[Any]:
    """A JSON column of ``metrics.csv`` decoded (missing cells as None)."""
    if name not in frame:
        return []
    return [_json(v) if isinstance(v, str) else (v if isinstance(v, (dict, list)) else None) for v in frame[name]]


def ok_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """The finished train rows (``status == "ok"``; runtime rows and failures dropped)."""
    out = metrics
    if "status" in out:
        out = out[out["status"] == "ok"]
    if "kind" in out:
        out = out[out["kind"].fillna("train") == "train"]
    return out


# ---------------------------------------------------------------------------------------------- summary
@dataclass
class Summary:
    """One dataset's rows summarised: ``frame`` (index = label; ``method``, ``variant``, ``seeds``, and per figure
    ``<m>_mean``, ``<m>_std`` over seeds, ``<m>_lo``/``<m>_hi`` its 95% two-level bootstrap interval), the
    bootstrap replicates behind the tests (``replicates[(label, figure)]``, on ``design``), each row's flags, and
    (computed once, on first use) the family of tests behind every mark (:func:`family`)."""

    frame: pd.DataFrame
    per_image: pd.DataFrame
    seeds: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # label -> metric -> per-seed values
    flags: dict[str, list[str]] = field(default_factory=dict)  # label -> why it is excluded from marks
    notes: dict[str, str] = field(default_factory=dict)  # label -> the method's table note
    na: dict[str, dict[str, str]] = field(default_factory=dict)  # label -> metric -> why n/a
    failed: dict[str, str] = field(default_factory=dict)  # label -> error of a failed cell
    reported: tuple[str, ...] = ()  # figures the rows have a column for (n/a cells included)
    seed_flags: dict[str, SeedFlags] = field(default_factory=dict)  # label -> per-seed degenerate verdicts
    replicates: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # (label, figure) -> [resamples]
    design: Design | None = None
    pooled_tested: bool = False  # the pooled figures have replicates (per-item histograms were given)
    tests: fam.Family | None = None  # filled by family()
    dataset: str | None = None  # the one dataset (protocol) of the rows; None when absent or mixed

    @property
    def labels(self) -> list[str]:
        return list(self.frame.index)

    def is_baseline(self, lab: str) -> bool:
        return bool(self.frame.loc[lab, "baseline"])

    def eligible(self, lab: str) -> bool:
        """May carry a bold mark or a ✓: not flagged (random frozen weights, a majority of degenerate seeds)."""
        return not self.flags.get(lab)

    def flag_text(self, lab: str) -> str:
        """What the flags column says of a row: its exclusion reasons, or its minority of degenerate seeds."""
        parts = list(self.flags.get(lab, []))
        sf = self.seed_flags.get(lab)
        if sf is not None and sf.broken and not sf.majority:
            parts.append(sf.text())
        return "; ".join(parts)


def summarise(metrics: pd.DataFrame, per_image: pd.DataFrame | None = None,
              names: Sequence[str] = tuple(METRICS), histograms: ItemHistograms | None = None) -> Summary:
    """Summarise the finished train rows of one dataset (see :class:`Summary`). Baselines come first.
    ``histograms``: the cells' per-item histogram counts (``item_histograms.npz``), which the pooled figures'
    intervals and tests need; without them those figures are shown but not compared."""
    from colorbench.registry import get_method, list_methods

    per_image = per_image if per_image is not None else pd.DataFrame()
    registered = set(list_methods())
    baselines = baseline_methods()
    failed = {}
    if "status" in metrics:
        for _, r in metrics[(metrics["status"] != "ok") & (metrics.get("kind", "train") == "train")].iterrows():
            failed[label(r["method"], r.get("variant"))] = str(r.get("error", "failed"))
    ok = text_variants(ok_rows(metrics).copy())
    records, seeds, na, groups = [], {}, {}, {}
    for (method, variant), g in ok.groupby(["method", "variant"], sort=False):
        lab = label(method, variant)
        groups[lab] = g
        rec: dict[str, Any] = {"label": lab, "method": method, "variant": variant, "seeds": len(g),
                               "baseline": method in baselines}
        seeds[lab], na[lab] = {}, {}
        for m in names:
            vals = pd.to_numeric(g[m], errors="coerce") if m in g else pd.Series([math.nan] * len(g))
            finite = vals[vals.notna()]
            seeds[lab][m] = [float(v) for v in finite]
            rec[f"{m}_mean"] = float(finite.mean()) if len(finite) else math.nan
            rec[f"{m}_std"] = float(finite.std(ddof=1)) if len(finite) > 1 else math.nan
            rec[f"{m}_lo"] = rec[f"{m}_hi"] = math.nan
            if not len(finite):
                note = g[f"{m}_note"].dropna().astype(str).unique() if f"{m}_note" in g else []
                na[lab][m] = "; ".join(note) or "not reported by the evaluator"
        rec["legacy"] = "histograms" in g and bool((g["histograms"].astype(str) == "legacy").any())
        rec["random_frozen"] = sorted({b for v in _column(g, "random_frozen") for b in (v or [])})
        rec["pretrained_false"] = sorted({k for v in _column(g, "pretrained") if isinstance(v, dict)
                                          for k, loaded in v.items() if loaded is False})
        records.append(rec)
    frame = pd.DataFrame(records)
    names_seen = ok["dataset"].dropna().astype(str).unique() if "dataset" in ok else []
    dataset = str(names_seen[0]) if len(names_seen) == 1 else None
    if frame.empty:
        return Summary(frame, per_image, failed=failed, dataset=dataset)
    order = sorted(range(len(frame)), key=lambda i: (not frame.baseline[i], frame.method[i], str(frame.variant[i])))
    frame = frame.iloc[order].set_index("label")
    checked = {lab: seed_flags(groups[lab]) for lab in frame.index if not frame.loc[lab, "baseline"]}
    flags = {lab: _flags(frame.loc[lab], checked.get(lab)) for lab in frame.index}
    design, reps = _replicates(frame, groups, per_image, histograms, names)
    for (lab, m), r in reps.items():
        if f"{m}_mean" in frame and is_number(frame.loc[lab, f"{m}_mean"]):
            frame.loc[lab, f"{m}_lo"], frame.loc[lab, f"{m}_hi"] = interval(r, stats.LEVEL)
    notes = {}
    for lab, r in frame.iterrows():
        if r["method"] in registered:
            note = get_method(r["method"]).table_notes.get(r["variant"], "")
            if note:
                notes[lab] = note
    reported = tuple(m for m in names if m in metrics)
    pooled = any(m in HISTOGRAM_METRICS for _, m in reps)
    return Summary(frame, per_image, seeds, {k: v for k, v in flags.items() if v}, notes, na, failed, reported,
                   checked, reps, design, pooled, dataset=dataset)


def _replicates(frame: pd.DataFrame, groups: Mapping[str, pd.DataFrame], per_image: pd.DataFrame,
                histograms: ItemHistograms | None, names: Sequence[str]
                ) -> tuple[Design | None, dict[tuple[str, str], np.ndarray]]:
    """Every row's bootstrap replicates of ``names`` (and of the truth twins they are ranked against)."""
    design = design_of(per_image, histograms)
    if design is None:
        return None, {}
    wanted = list(dict.fromkeys([*names, *(METRICS[m].truth for m in names if m in METRICS and METRICS[m].truth)]))
    out = {}
    truth = {}
    for lab in frame.index:
        r = frame.loc[lab]
        seeds = [int(v) for v in groups[lab]["seed"]] if "seed" in groups[lab] else [0]
        row = Row(lab, r["method"], str(r["variant"]), seeds, bool(r.get("legacy", False)))
        if row.legacy not in truth and any(m in HISTOGRAM_METRICS for m in wanted):
            truth[row.legacy] = pooled_truth(design, histograms, row.legacy)
        for m, reps in row_replicates(design, row, per_image, histograms, wanted, truth.get(row.legacy)).items():
            out[(lab, m)] = reps
    return design, out


def _flags(r: pd.Series, checked: SeedFlags | None) -> list[str]:
    """Why a row must not be read as the method: a frozen component with random weights, or degenerate output in
    the majority of its seeds (:mod:`colorbench.report.flags`; baselines are exempt, degenerate by design)."""
    out = []
    if r.get("random_frozen"):
        out.append(f"random weights in frozen {', '.join(r['random_frozen'])} (no pretrained file on disk): not "
                   "the published method")
    if checked is not None and checked.majority:
        out.append(checked.text() + " (a majority: not compared)")
    return out


# ------------------------------------------------------------------------------------------------ marks
@dataclass
class Mark:
    """A column's verdict: ``best`` (bold) or, when the best row is not really better than all others, ``tied``
    (the best row and those that tie with it); ``untested``: the column could not be tested (no replicates of the
    best row, e.g. pooled figures without per-item histograms): no mark at all."""

    best: str | None = None
    tied: list[str] = field(default_factory=list)
    untested: bool = False


def _mean_score(s: Summary, lab: str, info: MetricInfo) -> float:
    mean = s.frame.loc[lab, f"{info.name}_mean"]
    if not is_number(mean):
        return math.nan
    if info.goal == "higher":
        return -float(mean)
    if info.goal == "truth":
        return abs(float(mean) - float(s.frame.loc[lab, f"{info.truth}_mean"]))
    return float(mean)


def score_replicates(s: Summary, lab: str, metric: str) -> np.ndarray | None:
    """``[resamples]`` replicates of a row's lower-is-better score on ``metric`` (the figure, its negation, or
    its distance from the truth's figure, both resampled together); None when the row has none."""
    info = METRICS[metric]
    v = s.replicates.get((lab, metric))
    if v is None:
        return None
    if info.goal == "higher":
        return -v
    if info.goal == "truth":
        t = s.replicates.get((lab, info.truth))
        return None if t is None else np.abs(v - t)
    return v


def _has_mean(s: Summary, lab: str, metric: str) -> bool:
    return f"{metric}_mean" in s.frame and is_number(s.frame.loc[lab].get(f"{metric}_mean"))


def _eligible_scores(s: Summary, metric: str) -> list[tuple[str, float]] | None:
    """``(label, score)`` of the eligible rows with a number on ``metric`` (lower score = better, by its goal);
    None when the metric is not ranked or not in the summary."""
    info = METRICS.get(metric)
    if info is None or not info.ranked or f"{metric}_mean" not in s.frame:
        return None
    scored = [(lab, _mean_score(s, lab, info)) for lab in s.labels if s.eligible(lab)]
    return [(lab, v) for lab, v in scored if is_number(v)]


def _pairs(s: Summary, names: Sequence[str]) -> list[tuple[str, str, str]]:
    """Every comparison the marks and the baseline check make on ``names``: each eligible row against the best,
    each eligible non-baseline row against each baseline."""
    out = []
    for m in names:
        scored = _eligible_scores(s, m)
        if not scored:
            continue
        if len(scored) >= 2:
            top = min(scored, key=lambda x: x[1])[0]
            out += [(m, top, lab) for lab, _ in scored if lab != top]
        base = [b for b in s.labels if s.is_baseline(b) and _has_mean(s, b, m)]
        out += [(m, lab, b) for lab, _ in scored if not s.is_baseline(lab) for b in base]
    return out


def family(s: Summary) -> fam.Family:
    """The table's family of tests (computed once per summary): every comparison of :func:`marks` and
    :func:`against_baselines` over the table's ranked columns (:data:`TABLE_METRICS` present), Holm-corrected
    together. The README's table, with fewer columns, reads the same verdicts."""
    if s.tests is None:
        s.tests = fam.build(_pairs(s, columns(s, TABLE_METRICS)), lambda lab, m: score_replicates(s, lab, m),
                            lambda lab, m: _mean_score(s, lab, METRICS[m]))
    return s.tests


def compare(s: Summary, a: str, b: str, metric: str) -> int:
    """-1 when row ``a`` is really better than row ``b`` on ``metric`` (by its goal), +1 really worse, 0 a tie or
    untested: the family's corrected verdict (:func:`family`); a pair outside the family is tested alone at
    ``alpha`` (uncorrected)."""
    test, sign = family(s).find(metric, a, b)
    if test is not None:
        return sign * test.verdict
    ra, rb = score_replicates(s, a, metric), score_replicates(s, b, metric)
    if ra is None or rb is None:
        return 0
    d = ra - rb
    if not p_value(d) <= fam.ALPHA:
        return 0
    return -1 if np.count_nonzero(d <= 0) > np.count_nonzero(d >= 0) else 1


def marks(s: Summary, names: Sequence[str] = TABLE_METRICS) -> dict[str, Mark]:
    """Per ranked metric: the bold row, or the rows tied for best. Only eligible rows (not flagged) compete."""
    out = {}
    for m in names:
        scored = _eligible_scores(s, m)
        if scored is None:
            continue
        if len(scored) < 2:
            out[m] = Mark(best=scored[0][0] if scored else None)
            continue
        best = min(scored, key=lambda x: x[1])[0]
        if score_replicates(s, best, m) is None:
            out[m] = Mark(untested=True)
            continue
        tied = [lab for lab, _ in scored if lab != best and compare(s, best, lab, m) >= 0]
        out[m] = Mark(best=None if tied else best, tied=[best, *tied] if tied else [])
    return out


def against_baselines(s: Summary, names: Sequence[str] = TABLE_METRICS) -> dict[str, dict[str, dict[str, str]]]:
    """For every non-baseline row: ``{label: {metric: {baseline label: "✓" | "✗" | "tie" | "—" | "n/a"}}}``;
    "—" for a flagged row (never ✓), "n/a" where the pair cannot be tested (no replicates)."""
    base = [lab for lab in s.labels if s.is_baseline(lab)]
    out: dict[str, dict[str, dict[str, str]]] = {}
    for lab in s.labels:
        if s.is_baseline(lab):
            continue
        res: dict[str, dict[str, str]] = {}
        for m in names:
            info = METRICS.get(m)
            if info is None or not info.ranked or not _has_mean(s, lab, m):
                continue
            for b in base:
                if not _has_mean(s, b, m):
                    continue
                if not s.eligible(lab):
                    verdict = "—"
                elif score_replicates(s, lab, m) is None or score_replicates(s, b, m) is None:
                    verdict = "n/a"
                else:
                    verdict = {-1: "✓", 1: "✗", 0: "tie"}[compare(s, lab, b, m)]
                res.setdefault(m, {})[b] = verdict
        out[lab] = res
    return out


def detectable(s: Summary, names: Sequence[str] = TABLE_METRICS) -> pd.DataFrame:
    """Per tested column: the smallest difference this design can detect (the half-width of a paired
    difference's interval at the Bonferroni level alpha/m, median over the column's tests; min and max beside),
    the family size, the number of tests in the column and how many survive. One row per metric, in the
    column's unit."""
    f = family(s)
    rows = []
    for m in columns(s, names):
        tests = [t for t in f.tests.values() if t.metric == m]
        if not tests:
            continue
        widths = [t.half_width for t in tests if math.isfinite(t.half_width)]
        rows.append({"metric": m, "unit": METRICS[m].unit, "tests": len(tests), "family_size": f.m,
                     "bonferroni_level": f.level, "detectable": f.detectable(m),
                     "detectable_min": min(widths) if widths else math.nan,
                     "detectable_max": max(widths) if widths else math.nan,
                     "surviving": sum(t.survives for t in tests)})
    return pd.DataFrame(rows, columns=["metric", "unit", "tests", "family_size", "bonferroni_level", "detectable",
                                       "detectable_min", "detectable_max", "surviving"])


def rule_text(s: Summary) -> str:
    """The table's statistics rule with this table's numbers (photos, items, family size)."""
    d = s.design
    return stats.rule(family(s).m, d.n_photos if d else None, d.n_items if d else None, s.pooled_tested,
                      bool(getattr(d, "named", False)))


def detectable_text(s: Summary, names: Sequence[str] = TABLE_METRICS) -> str:
    """One sentence: per column, the smallest difference the design can detect."""
    table = detectable(s, names)
    if table.empty:
        return ""
    f = family(s)
    parts = [f"{r.metric} {fmt(r.detectable, r.metric)}{' ' + r.unit if r.unit not in ('', '1') else ''} "
             f"({r.surviving} of {r.tests} survive)" for r in table.itertuples()]
    return (f"Smallest difference this design can detect, per column: the half-width of a paired difference's "
            f"interval at the Bonferroni level α/m = {f.level:.2g}, median over the column's comparisons (in "
            "`detectable.csv`): " + "; ".join(parts) + ".")


# ------------------------------------------------------------------------------------------- rendering
def cell_text(s: Summary, lab: str, m: str) -> str:
    """``mean [lo, hi]`` (a per-image figure: its 95% bootstrap interval over images) with ``± std`` over seeds
    when there are several, or ``n/a``."""
    r = s.frame.loc[lab]
    mean = r.get(f"{m}_mean", math.nan)
    if not is_number(mean):
        return "n/a"
    text = fmt(mean, m)
    lo, hi = r.get(f"{m}_lo", math.nan), r.get(f"{m}_hi", math.nan)
    if is_number(lo) and is_number(hi) and not (lo == hi == mean):
        text += f" [{fmt(lo, m)}, {fmt(hi, m)}]"
    std = r.get(f"{m}_std", math.nan)
    if is_number(std):
        text += f" ±{fmt(std, m)}"
    return text


def columns(s: Summary, names: Sequence[str] = TABLE_METRICS) -> list[str]:
    """The metrics of ``names`` some row has a value for (shown as n/a with the reason where a row lacks it); a
    figure no row has (not computed, or n/a everywhere) is left out and named by :func:`not_computed_note`."""
    return [m for m in names if m in s.reported and f"{m}_mean" in s.frame
            and bool(pd.to_numeric(s.frame[f"{m}_mean"], errors="coerce").notna().any())]


def not_computed_note(s: Summary, names: Sequence[str] = TABLE_METRICS) -> str:
    """One sentence naming the metrics of ``names`` that no row has, and why (their rows' n/a reasons when the
    results carry some; else: not asked for, with the ``--metrics`` that asks), or ``""``."""
    shown = set(columns(s, names))
    left = [m for m in names if m not in shown]
    if not left:
        return ""
    reasons: dict[str, list[str]] = {}
    for m in left:
        given = sorted({r for lab in s.na for k, r in s.na[lab].items() if k == m and r != "not reported by the "
                        "evaluator"})
        info = METRICS.get(m)
        if given:
            why = "; ".join(given)
        elif info is not None and info.weights:
            why = "not asked for (they need pretrained weights: `--metrics field` or the names)"
        else:
            why = "not in these results (computed by a newer evaluator: rerun the cells)"
        reasons.setdefault(why, []).append(m)
    return "Not computed: " + "; ".join(f"{', '.join(ms)}: {why}" for why, ms in reasons.items()) + "."


def markdown(s: Summary, names: Sequence[str] = TABLE_METRICS, legacy: bool = False) -> tuple[str, list[str]]:
    """The measured table as Markdown and its footnotes (flags, n/a reasons, ties, failures)."""
    cols = columns(s, names)
    mk = marks(s, cols)
    notes: list[str] = []

    def foot(text: str) -> str:
        if text not in notes:
            notes.append(text)
        return f"[^{notes.index(text) + 1}]"

    lines = ["| method | seeds | " + " | ".join(header(m, legacy) for m in cols) + " | flags |",
             "|---|---|" + "---|" * len(cols) + "---|"]
    for lab in s.labels:
        cells = []
        for m in cols:
            text = cell_text(s, lab, m)
            if text == "n/a":
                text += foot(f"{lab}, {m}: {s.na.get(lab, {}).get(m, 'not reported')}")
            elif mk.get(m) and mk[m].best == lab:
                text = f"**{text}**"
            elif mk.get(m) and lab in mk[m].tied:
                text += " ="
            cells.append(text)
        flag = s.flag_text(lab)
        if lab in s.notes:
            flag = (flag + " " if flag else "") + foot(f"{lab}: {s.notes[lab]}")
        name = f"{lab} (baseline)" if s.is_baseline(lab) else lab
        lines.append(f"| {name} | {int(s.frame.loc[lab, 'seeds'])} | " + " | ".join(cells) + f" | {flag} |")
    for lab, err in s.failed.items():
        if lab not in s.frame.index:
            lines.append(f"| {lab} | 0 | " + " | ".join("failed" for _ in cols) + f" | failed: {err} |")
    ties = [f"{m}: {', '.join(mk[m].tied)}" for m in cols if mk.get(m) and mk[m].tied]
    if ties:
        notes.append("Tied for best (`=` in the table; the best mean is not really better than these): "
                     + "; ".join(ties) + ".")
    left = not_computed_note(s, names)
    if left:
        notes.append(left)
    untested = [m for m in cols if mk.get(m) and mk[m].untested]
    if untested:
        notes.append(f"Not compared: {', '.join(untested)} (no bootstrap replicates: pooled figures need the cells' "
                     "per-item histograms, which these results do not have).")
    return "\n".join(lines), notes


def comparison_markdown(s: Summary, names: Sequence[str] = TABLE_METRICS) -> str:
    """Every non-baseline row against each baseline: ✓ really better, ✗ really worse, tie, — flagged row."""
    comp = against_baselines(s, columns(s, names))
    metrics = [m for m in columns(s, names) if any(m in res for res in comp.values())]
    if not comp or not metrics:
        return ""
    lines = ["| method | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for lab, res in comp.items():
        cells = [" · ".join(f"{b} {v}" for b, v in res.get(m, {}).items()) for m in metrics]
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def separated(s: Summary, names: Sequence[str] = TABLE_METRICS) -> dict[str, list[str]]:
    """``{label: [metrics]}``: the metrics on which a row is really better than every baseline."""
    out = {}
    for lab, res in against_baselines(s, names).items():
        wins = [m for m, per in res.items() if per and all(v == "✓" for v in per.values())]
        if wins:
            out[lab] = wins
    return out


def unchecked_rules(s: Summary) -> list[str]:
    """Degenerate-output rules that could not be checked on some non-baseline seed (a figure missing, e.g.
    results written before the evaluator reported the truth's own figure)."""
    return sorted({name for sf in s.seed_flags.values() for name in sf.unchecked})


def flag_rules() -> str:
    """The degenerate-output thresholds and the per-seed majority rule, for the caption under a table."""
    return rules_text()


def measured_table(s: Summary, names: Sequence[str] = TABLE_METRICS) -> pd.DataFrame:
    """The same table as :func:`markdown` as a DataFrame (★ on the bold cell, ``=`` on a tie), for notebooks."""
    cols = columns(s, names)
    mk = marks(s, cols)
    rows = {}
    for lab in s.labels:
        cells: dict[str, Any] = {"seeds": int(s.frame.loc[lab, "seeds"]), "kind": "measured"}
        for m in cols:
            text = cell_text(s, lab, m)
            if mk.get(m) and mk[m].best == lab:
                text += " ★"
            elif mk.get(m) and lab in mk[m].tied:
                text += " ="
            cells[header(m)] = text
        cells["flags"] = "; ".join([t for t in (s.flag_text(lab),) if t] + ([s.notes[lab]] if lab in s.notes else []))
        rows[lab] = cells
    return pd.DataFrame.from_dict(rows, orient="index")


def comparison_table(s: Summary, names: Sequence[str] = TABLE_METRICS, published: Iterable | None = None
                     ) -> pd.DataFrame:
    """Measured rows, each followed by the published rows of its method and variant on the rows' protocol
    (:func:`colorbench.report.published.shown_beside`, the one rule for every table; ``kind = published``; source,
    dataset and resolution in ``flags``). ``published``: rows to show instead (given rows with no measured twin come
    last, marked)."""
    from colorbench.report.published import format_value, shown_beside

    cols = columns(s, names) if not s.frame.empty else list(names)
    if published is None:
        shown = [] if s.frame.empty else zip(s.frame["method"], s.frame["variant"])
        published = shown_beside(s.dataset, shown, cols)
    published = list(published)
    measured = measured_table(s, names) if not s.frame.empty else pd.DataFrame()
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for r in published:
        m, v = r.ours
        groups.setdefault((m, v or "default", r.source, r.table, r.dataset, r.resolution), {})[r.our_metric] = r
    out: list[tuple[str, dict]] = []
    used = set()

    def pub_cells(key: tuple[str, ...], g: dict[str, Any], twin: bool) -> dict:
        cells: dict[str, Any] = {"kind": "published", "seeds": ""}
        for m in cols:
            cells[header(m)] = format_value(g[m]) if m in g else ""
        where = f"{key[2]} {key[3]}, {key[4]}, {key[5]}"
        cells["flags"] = where if twin else f"{where}; published, not measured here"
        return cells

    for lab, cells in measured.iterrows():
        out.append((lab, dict(cells)))
        key = (s.frame.loc[lab, "method"], s.frame.loc[lab, "variant"])
        for gk, g in groups.items():
            if (gk[0], gk[1]) == key:
                used.add(gk)
                out.append((f"  {lab} (published)", pub_cells(gk, g, True)))
    for gk, g in groups.items():
        if gk not in used:
            out.append((f"{label(gk[0], gk[1])} (published)", pub_cells(gk, g, False)))
    df = pd.DataFrame([c for _, c in out], index=[lab for lab, _ in out])
    return df.reindex(columns=["kind", "seeds"] + [header(m) for m in cols] + ["flags"]).fillna("")


def best(s: Summary, metric: str) -> str | None:
    """The row with the best mean on ``metric`` by its goal among eligible rows (None when none), whether or not
    the difference is real (see :func:`marks` for that)."""
    scored = _eligible_scores(s, metric)
    return min(scored, key=lambda x: x[1])[0] if scored else None

"""Published reference figures (``colorbench/reference/published.csv``) and how their names map to ours.

The source documents name methods, variants and metrics their own way. Which of our cells a published row
corresponds to is declared by the method that reproduces it (``Method.published``, beside the method's code);
:func:`method_map` collects those declarations, and rows no method claims keep a note from
:data:`UNCLAIMED`. Published rows are shown in every table as *published*, never mixed with measured rows, with
their dataset and resolution; SSIM above 1 is flagged as impossible, and histogram divergences are labelled
``legacy`` (un-normalised mean-count histograms).

Which published rows a table of measured rows shows is one rule, :func:`shown_beside`, for every table: the rows
measured on the table's protocol (``published.csv``'s ``protocol`` column: our dataset whose recipe pins the images
and preprocessing), for a method and variant the table shows, under a metric column it has. The others stay in
their source's reproduction table (:mod:`colorbench.report.reproduction`).
"""
from __future__ import annotations

import csv
import functools
import tomllib
from dataclasses import dataclass
from typing import Iterable
from importlib import resources

from colorbench.color import AB_SCALE
from colorbench.metrics.table import HISTOGRAM_METRICS

UNCLAIMED: dict[tuple[str, str, str], tuple[str, str, str]] = {
    ("tarres", "ground_truth", ""): ("ground truth", "", "real photos in the perceptual study (colorbench study)"),
    ("tarres", "unet_seg", "shared decoder"): ("(not implemented)", "", "Tarrés Table 5 segmentation model"),
}
"""Published rows that are not a colourisation method of ours: (source, method, variant) -> (name, "", note)."""


def method_map() -> dict[tuple[str, str, str], tuple[str, str, str]]:
    """``(source, published method, published variant) -> (our method, our variant, how)``: every registered
    method's ``published`` declaration, then :data:`UNCLAIMED` (built once per set of registered methods)."""
    from colorbench.registry import list_methods

    return _method_map(tuple(list_methods()))


@functools.lru_cache(maxsize=4)
def _method_map(names: tuple[str, ...]) -> dict[tuple[str, str, str], tuple[str, str, str]]:
    from colorbench.registry import get_method

    out: dict[tuple[str, str, str], tuple[str, str, str]] = {}
    for name in names:
        for key, (variant, how) in get_method(name).published.items():
            out[tuple(key)] = (name, variant, how)
    for key, value in UNCLAIMED.items():
        out.setdefault(key, value)
    return out


# published metric -> (our column, note)
METRIC_MAP: dict[str, tuple[str, str]] = {
    "mae_test": ("mae_ab", "mean |Δab| on ab/110, test split (a source's other unit is converted: sources.toml)"),
    "mae_train": ("(not measured)", "training-set MAE: colorbench reports the test split only"),
    "mae_val": ("(not measured)", "validation MAE: colorbench reports the test split only"),
    "turing_test_detected": ("(study)", "share told apart from real: `colorbench study`, not `bench`"),
    "naturalness": ("(study)", "share judged real: `colorbench study report`"),
    "psnr": ("psnr", "dB on RGB, data range 1"),
    "ssim": ("ssim", "Gaussian 11, σ 1.5; cannot exceed 1"),
    "js_a": ("js_a", "published in legacy form"),
    "js_b": ("js_b", "published in legacy form"),
    "kl_a": ("kl_a", "published in legacy form (values ≫ ln 2 need un-normalised histograms)"),
    "kl_b": ("kl_b", "published in legacy form"),
    "seconds": ("runtime ms/img", "per image; the paper does not state its hardware"),
}

@dataclass(frozen=True)
class Source:
    """One source document (``colorbench/reference/sources.toml``): how to cite it, our dataset for its data, what
    is known of its test split, its reproduction-table layout, and the ab unit of its MAE (ours: ab/110)."""

    key: str
    cite: str
    dataset: str
    split: str
    split_known: bool
    layout: str = "methods"
    mae_unit: float = AB_SCALE
    figures: str = ""
    methods: tuple[str, ...] = ()
    test_dataset: str = ""  # our dataset holding the document's own test images, when not `dataset`'s test split

    def to_ours(self, metric: str) -> float:
        """Factor from this source's unit of ``metric`` to ours (MAE on ab/``mae_unit`` -> ab/110; else 1)."""
        return self.mae_unit / AB_SCALE if metric.startswith("mae") else 1.0


@functools.lru_cache(maxsize=1)
def load_sources() -> dict[str, Source]:
    """Every source document of ``sources.toml``, by the key ``published.csv`` names it with."""
    text = resources.files("colorbench").joinpath("reference/sources.toml").read_text(encoding="utf-8")
    out = {}
    for key, entry in tomllib.loads(text).items():
        entry = dict(entry)
        entry["methods"] = tuple(entry.get("methods", ()))
        out[key] = Source(key=key, **entry)
    return out


@dataclass(frozen=True)
class PublishedRow:
    """One figure of ``published.csv``: ``dataset`` in the source's words; ``protocol`` our dataset whose recipe
    pins the same images and preprocessing ("" when none of ours does); ``metric`` the source's name, or ours where
    the figure's variant has its own (``fid_tv``, ``colorfulness_abs``)."""

    source: str
    table: str
    dataset: str
    method: str
    variant: str
    resolution: str
    metric: str
    value: float
    note: str
    protocol: str = ""

    @property
    def ours(self) -> tuple[str, str]:
        method, variant, _ = method_map().get((self.source, self.method, self.variant),
                                              (self.method, self.variant, ""))
        return method, variant

    @property
    def our_value(self) -> float:
        """The published value in our unit (KTH's MAE on ab/127.5 becomes ab/110); the same for other metrics."""
        src = load_sources().get(self.source)
        return self.value * (src.to_ours(self.metric) if src else 1.0)

    @property
    def our_metric(self) -> str:
        return METRIC_MAP.get(self.metric, (self.metric, ""))[0]

    @property
    def impossible(self) -> bool:
        return self.metric == "ssim" and self.value > 1


@functools.lru_cache(maxsize=1)
def _load() -> tuple[PublishedRow, ...]:
    text = resources.files("colorbench").joinpath("reference/published.csv").read_text(encoding="utf-8")
    rows = []
    for r in csv.DictReader(text.splitlines()):
        rows.append(PublishedRow(r["source"], r["table"], r["dataset"], r["method"], r["variant"] or "",
                                 r["resolution"], r["metric"], float(r["value"]), r.get("note") or "",
                                 r.get("protocol") or ""))
    return tuple(rows)


def load_published() -> list[PublishedRow]:
    """Every row of the shipped ``published.csv`` (the one loader of published figures)."""
    return list(_load())


def format_value(row: PublishedRow) -> str:
    """The published figure as our tables show it: in our unit (with the published value and its unit beside it
    when they differ), flagged when impossible or in the legacy histogram form."""
    s = f"{row.value:g}"
    if row.our_value != row.value:
        src = load_sources()[row.source]
        s = f"{row.our_value:.4f} (published {row.value:g} on ab/{src.mae_unit:g})"
    if row.impossible:
        s += " ⚠ impossible (SSIM ≤ 1)"
    elif row.metric in HISTOGRAM_METRICS:
        s += " (legacy)"
    return s


def shown_beside(protocol: str | None, methods: Iterable[tuple[str, str]], metrics: Iterable[str]
                 ) -> list[PublishedRow]:
    """The published rows a table of measured rows shows (the one rule for every table): measured on the table's
    ``protocol`` (its dataset name; None or "" shows none), for a ``(method, variant)`` the table shows (a published
    row's variant as :func:`method_map` maps it; none is ``default``), under one of the table's ``metrics`` (our
    names: a published ``fid_tv`` is never shown in a ``fid`` column). Everything else stays in the source's
    reproduction table."""
    if not protocol:
        return []
    shown = {(str(m), str(v or "default")) for m, v in methods}
    columns = set(metrics)
    out = []
    for row in load_published():
        method, variant = row.ours
        if row.protocol == protocol and (method, variant or "default") in shown and row.our_metric in columns:
            out.append(row)
    return out


def published_table(metrics: list[str], rows: Iterable[PublishedRow]) -> str:
    """Markdown: one row per (source, table, method, variant, resolution) of ``rows`` with our metric columns that
    it reports (the rows :func:`shown_beside` picks for a table)."""
    groups: dict[tuple[str, ...], dict[str, PublishedRow]] = {}
    tables: dict[tuple[str, ...], list[str]] = {}
    for row in rows:
        key = (row.source, row.table, row.dataset, row.method, row.variant, row.resolution)  # a row per table:
        groups.setdefault(key, {})[row.our_metric if row.our_metric in metrics else row.metric] = row  # never merged
        if row.table not in tables.setdefault(key, []):
            tables[key].append(row.table)
    cols: list[str] = []
    for g in groups.values():
        cols.extend(c for c in g if c not in cols)
    ordered = [c for c in metrics if c in cols] + [c for c in cols if c not in metrics]
    lines = ["| published | source | dataset | resolution | " + " | ".join(ordered) + " |",
             "|---" * (4 + len(ordered)) + "|"]
    names = method_map()
    for key, g in groups.items():
        source, table, dataset, method, variant, res = key
        ours_m, ours_v, _ = names.get((source, method, variant), (method, variant, ""))
        name = ours_m + (f" [{ours_v}]" if ours_v and ours_v != "default" else "")
        cells = [format_value(g[c]) if c in g else "" for c in ordered]
        lines.append(f"| *{name}* (published) | {source} {table} | {dataset} | {res} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def mapping_table() -> str:
    """Markdown: how the published names map to ours (methods and metrics)."""
    lines = ["| source | published method | published variant | ours | note |", "|---|---|---|---|---|"]
    for (source, method, variant), (m, v, how) in method_map().items():
        ours = f"`{m}`" + (f" variant `{v}`" if v and v != "default" else "")
        lines.append(f"| {source} | {method} | {variant} | {ours} | {how} |")
    lines += ["", "| published metric | ours | note |", "|---|---|---|"]
    lines += [f"| {k} | `{v}` | {note} |" for k, (v, note) in METRIC_MAP.items()]
    return "\n".join(lines)


def paper_seconds(method: str) -> dict[tuple[str, str], float]:
    """Published ``seconds`` of the rows ``method`` reproduces: ``{(our variant, resolution): seconds}``."""
    out = {}
    for row in load_published():
        if row.metric == "seconds" and row.ours[0] == method:
            out[(row.ours[1], row.resolution)] = row.value
    return out

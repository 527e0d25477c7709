"""One reproduction table per source document, in the document's own layout, unit and split.

Each published figure (``colorbench/reference/published.csv``) stands beside ours from the cell that reproduces it
(the method's ``published`` declaration names the method and variant; ``sources.toml`` names the dataset), in the
source's unit: KTH's MAE is on ab/127.5, so ours (ab/110) is multiplied by 110/127.5 (MAE is a mean absolute
difference, so the report's +0.5 shift cancels). A cell that has not run says so, with the command that runs it
and, when a dry run of the profile was recorded (``dryrun.csv``), its projected wall time on the dry run's device.
Every table says what is known of the source's test split: unless our test split holds the very same images
(``split_known``), a published figure and ours are never measured on the same photos.

Inputs are the files a bench run writes under ``results/<profile>/``: ``<dataset>/metrics.csv``,
``runtime.csv`` and ``dryrun.csv`` (``colorbench bench --dry-run``); any may be absent.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from colorbench import _atomic as atomic
from colorbench.color import AB_SCALE
from colorbench.errors import UserError
from colorbench.report.published import METRIC_MAP, PublishedRow, Source, load_published, load_sources, method_map
from colorbench.metrics.table import HISTOGRAM_METRICS
from colorbench.report.load import read_table
from colorbench.report.tables import fmt, is_number, label

NOT_RUN = "not run"


def load_profile_outputs(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(metrics of every dataset, runtime, dry run)`` read from ``results/<profile>/`` (empty frames when absent)."""
    parts = [read_table(p) for p in sorted(folder.glob("*/metrics.csv"))]
    metrics = pd.concat([p for p in parts if not p.empty], ignore_index=True) if any(not p.empty for p in parts) \
        else pd.DataFrame()
    return metrics, read_table(folder / "runtime.csv"), read_table(folder / "dryrun.csv")


class _Ours:
    """Our side of the tables: measured means over seeds, runtime medians and dry-run projections."""

    def __init__(self, profile: str, metrics: pd.DataFrame, runtime: pd.DataFrame, dry: pd.DataFrame) -> None:
        self.profile = profile
        self.metrics = metrics
        self.runtime = runtime
        self.dry = dry

    def _rows(self, frame: pd.DataFrame, method: str, variant: str, dataset: str | None) -> pd.DataFrame:
        if frame.empty or "method" not in frame:
            return frame
        keep = (frame["method"] == method) & (frame["variant"] == (variant or "default"))
        if dataset is not None and "dataset" in frame:
            keep &= frame["dataset"] == dataset
        if "status" in frame:
            keep &= frame["status"] == "ok"
        return frame[keep]

    def seeds(self, method: str, variant: str, dataset: str) -> int:
        return len(self._rows(self.metrics, method, variant, dataset))

    def figure(self, method: str, variant: str, dataset: str, metric: str) -> float | str | None:
        """Mean over seeds; for a histogram figure only in the legacy form the sources publish (else a note)."""
        rows = self._rows(self.metrics, method, variant, dataset)
        if rows.empty or metric not in rows:
            return None
        if metric in HISTOGRAM_METRICS and "histograms" in rows and (rows["histograms"] != "legacy").any():
            return "other form (set eval.legacy_histograms)"
        vals = pd.to_numeric(rows[metric], errors="coerce").dropna()
        return float(vals.mean()) if len(vals) else None

    def seconds(self, method: str, variant: str, size: str) -> float | None:
        rows = self._rows(self.runtime, method, variant, None)
        col = f"ms_per_image_{size}"
        if rows.empty or col not in rows:
            return None
        vals = pd.to_numeric(rows[col], errors="coerce").dropna()
        return float(vals.iloc[0]) / 1000 if len(vals) else None

    def runtime_device(self) -> str:
        return str(self.runtime["device"].iloc[0]) if "device" in self.runtime and len(self.runtime) else ""

    def status(self, method: str, variant: str, dataset: str) -> str:
        """``measured, N seeds`` or ``not run: `command` (projected ...)``."""
        n = self.seeds(method, variant, dataset)
        if n:
            return f"measured, {n} seed{'s' if n > 1 else ''}"
        command = f"`colorbench bench --profile {self.profile} --methods {method} --datasets {dataset}`"
        return f"{NOT_RUN}: {command}{self._projection(method, variant, dataset)}"

    def _projection(self, method: str, variant: str, dataset: str) -> str:
        rows = self._rows(self.dry, method, variant, dataset)
        if rows.empty or "wall_s" not in rows:
            return ""
        if "kind" in rows:
            rows = rows[rows["kind"] == "train"]
        wall = pd.to_numeric(rows["wall_s"], errors="coerce").dropna()
        if wall.empty:
            return ""
        row = rows.loc[wall.index[0]]
        device = str(row.get("device") or "this device")
        kind = "GPU-hours" if device.startswith("cuda") else "hours"
        ran = []
        for what, now, cell in (("batch", "batch", "paper_batch"), ("crop", "size", "paper_size")):
            if str(row.get(now)) != str(row.get(cell)) and is_number(pd.to_numeric(row.get(now), errors="coerce")):
                ran.append(f"{what} {int(row[now])} of {int(row[cell])}")
        how = f", measured at {' and '.join(ran)}, scaled linearly" if ran else ""
        extra = "" if device.startswith("cuda") else "; a CPU projection: `--dry-run --device cuda` gives GPU-hours"
        return f" (dry run: ≈{float(wall.iloc[0]) / 3600:,.1f} {kind} on {device}{how}{extra})"


def _ours_text(value: float | str | None, metric: str) -> str:
    if isinstance(value, str):
        return value
    return fmt(value, metric) if value is not None and is_number(value) else NOT_RUN


def _pub(row: PublishedRow) -> str:
    text = f"{row.value:g}"
    if row.metric == "ssim" and row.value > 1:
        text += " ⚠"
    return text


def _head(src: Source) -> list[str]:
    same = ("Our test split holds the same images." if src.split_known else
            "Our test split is not theirs: a published figure and ours are never measured on the same photos.")
    lines = [f"# Reproduction: {src.cite}", "", f"Our dataset: `{src.dataset}`.", "", f"Test split: {src.split} {same}",
             "", f"Ours are measured on `{src.dataset}`'s protocol: {_protocol_text(src.dataset)}."]
    if src.test_dataset:
        lines += [f"The document's own test images are `{src.test_dataset}`'s protocol: "
                  f"{_protocol_text(src.test_dataset)}."]
    lines += [""]
    if src.mae_unit != AB_SCALE:
        lines += [f"MAE is on the source's scale, ab/{src.mae_unit:g}: ours (ab/110) × 110/{src.mae_unit:g}.", ""]
    return lines


def _protocol_text(dataset: str) -> str:
    from colorbench.data import dataset_info

    try:
        return dataset_info(dataset).protocol.describe()
    except UserError:
        return "(unknown dataset)"


def _metric_note(metric: str) -> str:
    ours, note = METRIC_MAP.get(metric, (metric, ""))
    return f"`{metric}` → {ours}" + (f": {note}" if note else "")


def _methods_table(src: Source, table: str, rows: list[PublishedRow], ours: _Ours) -> list[str]:
    names = method_map()
    metrics: list[str] = []
    entries: dict[tuple[str, str], dict[str, PublishedRow]] = {}
    for r in rows:
        if r.metric not in metrics:
            metrics.append(r.metric)
        entries.setdefault((r.method, r.variant), {})[r.metric] = r
    lines = [f"## {table}", "", "Each cell: published · ours.", "",
             "| published | ours | " + " | ".join(metrics) + " | our cell |", "|---" * (3 + len(metrics)) + "|"]
    for (method, variant), by_metric in entries.items():
        m, v, _ = names.get((src.key, method, variant), (method, variant, ""))
        implemented = m in _registered()
        cells = []
        for metric in metrics:
            pub = _pub(by_metric[metric]) if metric in by_metric else ""
            our_metric = METRIC_MAP.get(metric, (metric, ""))[0]
            if not implemented or not pub:
                cells.append(pub)
                continue
            if our_metric.startswith("("):
                cells.append(f"{pub} · {our_metric.strip('()')}")
                continue
            value = ours.figure(m, v, src.dataset, our_metric)
            if isinstance(value, float):
                value /= src.to_ours(metric)
            cells.append(f"{pub} · {_ours_text(value, our_metric)}")
        published = method + (f" ({variant})" if variant else "")
        ours_name = f"`{label(m, v)}`" if implemented else m
        status = ours.status(m, v, src.dataset) if implemented else "no colorbench method"
        lines.append(f"| {published} | {ours_name} | " + " | ".join(cells) + f" | {status} |")
    hows = [f"`{label(m, v)}`: {how}" for m, v, how in (names.get((src.key, k[0], k[1]), ("", "", ""))
                                                         for k in entries) if how and m in _registered()]
    if hows:
        lines += ["", "Configurations (what each of our rows runs, and which of the source's text or code it "
                      "follows): " + "; ".join(hows) + "."]
    lines += ["", "Metrics: " + "; ".join(_metric_note(x) for x in metrics) + ".", ""]
    return lines


def _resolution_tables(src: Source, table: str, rows: list[PublishedRow], ours: _Ours) -> list[str]:
    names = method_map()
    metric = rows[0].metric
    settings: list[tuple[str, str]] = []
    sizes: list[str] = []
    values: dict[tuple[str, str, str], PublishedRow] = {}
    for r in rows:
        if (r.method, r.variant) not in settings:
            settings.append((r.method, r.variant))
        if r.resolution not in sizes:
            sizes.append(r.resolution)
        values[(r.method, r.variant, r.resolution)] = r
    ours_names = [names.get((src.key, m, v), (m, v, ""))[:2] for m, v in settings]
    head = [m + (f" {v}" if v else "") for m, v in settings]
    lines = [f"## {table}: {metric}", "", "Each cell: published · ours.", "",
             "| resolution | " + " | ".join(head) + " |", "|---" * (1 + len(head)) + "|"]
    for size in sizes:
        cells = []
        for (m, v), (om, ov) in zip(settings, ours_names):
            r = values.get((m, v, size))
            if r is None:
                cells.append("")
                continue
            if metric == "seconds":
                cells.append(f"{_pub(r)} · {_ours_text(ours.seconds(om, ov, size), metric)}")
            else:  # quality at these sizes is the resolution rebuild's, from the trained cell
                trained = ours.seeds(om, _trained_variant(om, ov), src.dataset)
                cells.append(f"{_pub(r)} · {'rebuild' if trained else NOT_RUN}")
        lines.append(f"| {size} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Columns: " + "; ".join(f"{h} = `{label(om, ov)}`" for h, (om, ov) in zip(head, ours_names)) + ".")
    hows = [f"`{label(*names[(src.key, m, v)][:2])}`: {names[(src.key, m, v)][2]}" for m, v in settings
            if names.get((src.key, m, v), ("", "", ""))[2]]
    if hows:
        lines.append("Configurations: " + "; ".join(hows) + ".")
    if metric == "seconds":
        where = ours.runtime_device()
        lines.append(f"Ours: median seconds per image from the profile's runtime cells{f' ({where})' if where else ''}"
                     "; the source does not state its hardware.")
    else:
        trained = sorted({(om, _trained_variant(om, ov)) for om, ov in ours_names})
        status = "; ".join(f"`{label(om, ov)}`: {ours.status(om, ov, src.dataset)}" for om, ov in trained)
        lines.append(f"Ours at these sizes come from the resolution rebuild (colorbench.report.resolution and its "
                     f"notebook) on the trained cells, not from the bench's protocol rows: `rebuild` where the cell "
                     f"has run. Cells: {status}.")
    return lines + [""]


def _trained_variant(method: str, variant: str) -> str:
    """The trained variant a row's figures come from: an inference-time setting (``runtime_variants``) is a call
    of the default model; anything else is its own trained variant."""
    from colorbench.registry import get_method

    return "default" if variant in get_method(method).runtime_variants else variant


def _cells_table(src: Source, ours: _Ours, variants: dict[str, list[str]]) -> list[str]:
    """For a source that publishes no figures: our paper cells of its methods, measured or not run."""
    metrics = ("psnr", "ssim", "mae_ab")
    lines = [f"The source publishes no figures ({src.figures}); our cells on its data:", "",
             "| ours | " + " | ".join(metrics) + " | our cell |", "|---" * (2 + len(metrics)) + "|"]
    for method in src.methods:
        for variant in variants.get(method, ["default"]):
            cells = [_ours_text(ours.figure(method, variant, src.dataset, m), m) for m in metrics]
            lines.append(f"| `{label(method, variant)}` | " + " | ".join(cells)
                         + f" | {ours.status(method, variant, src.dataset)} |")
    return lines + [""]


def _registered() -> set[str]:
    from colorbench.registry import list_methods

    return set(list_methods())


def reproduction_tables(profile: str, metrics: pd.DataFrame | None = None, runtime: pd.DataFrame | None = None,
                        dry: pd.DataFrame | None = None, datasets: list[str] | None = None,
                        variants: dict[str, list[str]] | None = None) -> dict[str, str]:
    """``{source key: markdown}`` for every source whose dataset is in ``datasets`` (all when None).
    ``variants``: the profile's variants per method (the rows of a source without published figures)."""
    ours = _Ours(profile, *(f if f is not None else pd.DataFrame() for f in (metrics, runtime, dry)))
    by_table: dict[str, dict[str, list[PublishedRow]]] = {}
    for r in load_published():
        by_table.setdefault(r.source, {}).setdefault(r.table, []).append(r)
    out = {}
    for key, src in load_sources().items():
        if datasets is not None and src.dataset not in datasets:
            continue
        lines = _head(src)
        if src.figures:
            lines += _cells_table(src, ours, variants or {})
        for table, rows in by_table.get(key, {}).items():
            lines += (_resolution_tables if src.layout == "resolution" else _methods_table)(src, table, rows, ours)
        out[key] = "\n".join(lines).rstrip() + "\n"
    return out


def write_reproduction(folder: Path, profile: str, datasets: list[str],
                       variants: dict[str, list[str]] | None = None) -> list[Path]:
    """Write ``folder/reproduction/<source>.md`` for the sources on ``datasets`` from the CSVs in ``folder``
    (``results/<profile>/``); returns the paths written (none when no source uses these datasets)."""
    metrics, runtime, dry = load_profile_outputs(folder)
    tables = reproduction_tables(profile, metrics, runtime, dry, datasets=datasets, variants=variants)
    return [atomic.write_text(folder / "reproduction" / f"{key}.md", text) for key, text in tables.items()]


def dry_rows_frame(rows: list[Any], device: str) -> list[dict[str, Any]]:
    """The dry run's rows as flat dicts for ``dryrun.csv`` (marks joined, the device on every row)."""
    import dataclasses

    out = []
    for r in rows:
        d = dataclasses.asdict(r)
        d["marks"] = "; ".join(d.get("marks") or [])
        d["device"] = device
        out.append({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()})
    return out

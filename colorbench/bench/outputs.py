"""Write a profile's results from cell records: ``results/<profile>/<dataset>/{metrics.csv, per_image.csv,
table.md, histograms.png, samples.png, loss_curves.png}`` and ``results/<profile>/{runtime.md, runtime.png}``.

A *record* is a cell's folder (``row.json`` plus its artifacts), in the ``runs/`` cache or in a shard's folder;
the same function serves a plain run and ``--merge``.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from colorbench.bench import atomic, plots
from colorbench.bench.published import mapping_table, published_table
from colorbench.bench.runtime_table import collect, runtime_markdown
from colorbench.bench.tables import baseline_comparison, declarations, flatten_row, label, markdown_table


def load_record(folder: Path) -> dict[str, Any] | None:
    """``row.json`` of a cell folder with ``_folder`` set, or None when the cell is not done."""
    path = folder / "row.json"
    if not path.is_file():
        return None
    row = json.loads(path.read_text())
    row["_folder"] = str(folder)
    return row


def read_per_image(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        path = Path(row.get("_folder", "")) / "per_image.csv"
        if path.is_file():
            with open(path, newline="") as f:
                for r in csv.DictReader(f):
                    out.append({k: _num(v) for k, v in r.items()})
    return out


def _num(v: str) -> Any:
    try:
        return float(v) if v not in ("",) else None
    except ValueError:
        return v


def _sort_key(row: dict[str, Any]) -> tuple:
    from colorbench.bench.tables import BASELINES

    return (row["method"] not in BASELINES, row["method"], row.get("variant", ""), row.get("seed", 0))


def write_dataset(out_dir: Path, dataset: str, rows: list[dict[str, Any]], profile: str,
                  decls: dict[str, dict[str, str]], watch: dict[str, str]) -> list[Path]:
    """Every file of one dataset's folder; returns the paths written."""
    rows = sorted(rows, key=_sort_key)
    written = []
    flat = [flatten_row(r) for r in rows]
    written.append(atomic.write_csv(out_dir / "metrics.csv", flat))
    per_image = read_per_image(rows)
    if per_image:
        written.append(atomic.write_csv(out_dir / "per_image.csv", per_image))
    legacy = any(r.get("provenance", {}).get("histograms") == "legacy" for r in rows)
    table, notes = markdown_table(rows, per_image, decls, legacy=legacy)
    comparison = baseline_comparison(rows, decls)
    text = [f"# `{profile}` profile on `{dataset}`", "",
            _settings_line(rows), "",
            "Measured here. One seed: value [bootstrap 95% interval of the mean over test images] for per-image "
            "metrics (dataset-level figures such as the pooled histogram divergences have no interval); several "
            "seeds: mean ± std over seeds. **Bold**: best measured value per column. ↑ higher is better, "
            "↓ lower is better. Histogram divergences are in the canonical form (pooled, normalised, "
            "DESIGN.md) unless the header says legacy.", "", table, ""]
    text += [f"[^{i}]: {n}" for i, n in enumerate(notes, 1)]
    random_init = sorted({f"{label(r['method'], r.get('variant', 'default'))} "
                          f"({', '.join(k for k, v in flags.items() if not v)})"
                          for r in rows if (flags := r.get("provenance", {}).get("pretrained") or {})
                          and not all(flags.values())})
    if random_init:
        text += ["", "Pretrained backbones not on disk, so initialised randomly (`pretrained=false` in metrics.csv; "
                 "`colorbench weights list` / `fetch`): " + "; ".join(random_init) + "."]
    if comparison:
        text += ["", "## Against the baselines", "",
                 "✓ = beats the baseline (gray / mean_color) on that metric, ✗ = does not.", "",
                 _comparison_table(comparison)]
    metric_names = list(decls)
    text += ["", "## Published reference figures (not measured here)", "",
             "Copied from the source documents (`colorbench/reference/published.csv`), on *their* datasets and "
             "resolutions, so they are context, not a ranking against the rows above. Their histogram figures are "
             "in the legacy (un-normalised) form; SSIM above 1 is impossible and flagged. C2F timings are in "
             "`../runtime.md`.", "", published_table(metric_names), "",
             "### Names: published → colorbench", "", mapping_table(), ""]
    written.append(atomic.write_text(out_dir / "table.md", "\n".join(text)))
    hists, samples, logs = {}, {}, {}
    for r in rows:  # plots show the first seed of each (method, variant)
        lab = label(r["method"], r.get("variant", "default"))
        if r.get("status") != "ok" or lab in hists:
            continue
        folder = Path(r.get("_folder", ""))
        if (folder / "hist.npz").is_file():
            with np.load(folder / "hist.npz") as z:
                hists[lab] = {k: z[k] for k in z.files}
        if (folder / "samples.npz").is_file():
            with np.load(folder / "samples.npz") as z:
                samples[lab] = {k: z[k] for k in z.files}
        logs[lab] = (folder / "loss.csv", watch.get(r["method"], "loss"))
    for path in (plots.histograms(out_dir / "histograms.png", hists, legacy),
                 plots.sample_grid(out_dir / "samples.png", samples),
                 plots.loss_curves(out_dir / "loss_curves.png", logs)):
        if path:
            written.append(path)
    return written


def _settings_line(rows: list[dict[str, Any]]) -> str:
    prov = [r.get("provenance", {}) for r in rows if r.get("status") == "ok"]
    if not prov:
        return ""
    p = prov[0]
    parts = [f"device {p.get('device')}", f"commit {str(p.get('git_commit'))[:12]}",
             f"training crop {p.get('size')} px", f"{p.get('test_images')} test images at {p.get('test_size')} px"]
    steps = sorted({(r['method'], r.get('provenance', {}).get('train_steps')) for r in rows})
    parts.append("train steps: " + ", ".join(f"{m} {s}" for m, s in steps))
    return "Settings: " + "; ".join(parts) + "."


def _comparison_table(comparison: dict[str, dict[str, dict[str, bool]]]) -> str:
    metrics: list[str] = []
    for res in comparison.values():
        metrics += [m for m in res if m not in metrics]
    lines = ["| method | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for lab, res in comparison.items():
        cells = [" · ".join(f"{b.split('_')[0]} {'✓' if ok else '✗'}" for b, ok in res.get(m, {}).items())
                 for m in metrics]
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_outputs(results: Path, profile: str, rows: list[dict[str, Any]], device: str = "") -> list[Path]:
    """All files of ``results/<profile>/`` from finished rows; returns the paths written."""
    from colorbench.registry import get_method, list_methods

    decls = declarations()
    registered = set(list_methods())
    watch = {m: get_method(m).watch_loss for m in {r["method"] for r in rows} if m in registered}
    root = results / profile
    written: list[Path] = []
    by_dataset: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r.get("kind", "train") == "train":
            by_dataset.setdefault(r["dataset"], []).append(r)
    for dataset, drows in sorted(by_dataset.items()):
        written += write_dataset(root / dataset, dataset, drows, profile, decls, watch)
    timed = [r for r in rows if r.get("runtime")]
    if timed:
        dev = device or next((r["provenance"].get("device") for r in timed if r.get("provenance")), "")
        written.append(atomic.write_text(root / "runtime.md", runtime_markdown(timed, device=dev)))
        fig = plots.runtime_plot(root / "runtime.png", collect(timed))
        if fig:
            written.append(fig)
    return written

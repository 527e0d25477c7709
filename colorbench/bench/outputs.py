"""Write a profile's results from cell records: ``results/<profile>/<dataset>/{metrics.csv, per_image.csv,
item_histograms.npz, table.md, detectable.csv, histograms.png, samples.jpg, loss_curves.png, curves.csv,
frontier.png}`` and
``results/<profile>/{runtime.csv, runtime.md, runtime.png}``, and the README's results table between its markers.

A *record* is a cell's folder (``row.json`` plus its artifacts), in the ``runs/`` cache or in a shard's folder;
the same function serves a plain run and ``--merge``. Every table is built by :mod:`colorbench.report` from the
CSV files just written, exactly as the notebooks read them.
"""
from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from colorbench import _atomic as atomic
from colorbench.data.registry import dataset_label
from colorbench.report import figures, frontier, item_histograms, reproduction, runtime
from colorbench.report.load import read_table
from colorbench.report.published import mapping_table, published_table, shown_beside
from colorbench.report.tables import (TABLE_METRICS, comparison_markdown, detectable, detectable_text, flag_rules,
                                      flatten_row, label, markdown, rule_text, separated, summarise,
                                      unchecked_rules)

README_START = "<!-- results:{profile}:start (written by make bench; do not edit) -->"
README_METRICS = ("psnr", "ssim", "colorfulness", "delta_colorfulness", "mae_ab", "js_a", "js_b")
"""The README's columns (table.md has every figure): the same table, marks and flags, fewer columns."""
README_END = "<!-- results:{profile}:end -->"


def load_record(folder: Path) -> dict[str, Any] | None:
    """``row.json`` of a cell folder with ``_folder`` set, or None when the cell is not done."""
    path = folder / "row.json"
    if not path.is_file():
        return None
    row = json.loads(path.read_text())
    row["_folder"] = str(folder)
    return row


def _per_image(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frames = [pd.read_csv(Path(r["_folder"]) / "per_image.csv") for r in rows
              if (Path(r.get("_folder", "")) / "per_image.csv").is_file()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _item_histograms(rows: list[dict[str, Any]]) -> item_histograms.ItemHistograms | None:
    """The cells' per-item histogram counts (their ``hist.npz``), joined; None when no cell kept them."""
    cells = []
    for r in rows:
        path = Path(r.get("_folder", "")) / "hist.npz"
        if r.get("status") == "ok" and path.is_file():
            with np.load(path) as z:
                cells.append(((r["method"], str(r.get("variant") or "default"), int(r.get("seed", 0))),
                              {k: z[k] for k in z.files if k.startswith("items_")}))
    try:
        return item_histograms.collect(cells)
    except ValueError as exc:  # a dataset whose test items follow the run's seed (synthetic): nothing to pair
        warnings.warn(f"{exc}; the pooled figures (JS, KL) are not compared in this table", stacklevel=2)
        return None


def _sort_key(row: dict[str, Any]) -> tuple:
    from colorbench.report.tables import baseline_methods

    return (row["method"] not in baseline_methods(), row["method"], row.get("variant", ""), row.get("seed", 0))


def write_dataset(out_dir: Path, dataset: str, rows: list[dict[str, Any]], profile: str,
                  watch: dict[str, str], styles: dict[str, Any] | None = None) -> tuple[list[Path], str]:
    """Every file of one dataset's folder; returns the paths written and the README's table. ``styles``: the
    profile's series styles (:func:`colorbench.report.figures.series_styles`), so a label looks the same in every
    figure."""
    rows = sorted(rows, key=_sort_key)
    written = [atomic.write_csv(out_dir / "metrics.csv", [flatten_row(r) for r in rows])]
    per_image = _per_image(rows)
    if not per_image.empty:
        written.append(atomic.write_csv(out_dir / "per_image.csv", per_image.to_dict("records")))
    curves = frontier.curve_rows(rows)  # each cell's val scores along its training budget
    if curves:
        written.append(atomic.write_csv(out_dir / "curves.csv", curves))
    hist = _item_histograms(rows)
    if hist is not None:
        written.append(atomic.write_bytes(out_dir / item_histograms.FILE, item_histograms.to_bytes(hist)))
    metrics = read_table(out_dir / "metrics.csv")
    per_image = read_table(out_dir / "per_image.csv") if not per_image.empty else per_image
    s = summarise(metrics, per_image, histograms=item_histograms.read(out_dir / item_histograms.FILE))
    legacy = any(r.get("provenance", {}).get("histograms") == "legacy" for r in rows)
    table, notes = markdown(s, legacy=legacy)
    readme_table, _ = markdown(s, README_METRICS, legacy=legacy)
    comparison = comparison_markdown(s)
    wins = separated(s)
    found = detectable(s)
    written.append(atomic.write_csv(out_dir / "detectable.csv", found.to_dict("records"), list(found.columns)))
    unchecked = unchecked_rules(s)
    text = [f"# `{profile}` profile on `{dataset}`", "", _settings_line(rows), "",
            "Measured here. Each figure: mean over seeds [95% interval] ±std over seeds. ↑ higher is better, ↓ lower "
            "is better, →truth closest to the ground truth's figure (colourfulness; the truth's is "
            f"{_truth(s)}). Flagged rows (a frozen component with random weights, or degenerate output in most "
            "seeds) are never bold and never ✓. Histogram divergences are in the canonical form (pooled, "
            "normalised to sum 1) unless the header says legacy.", "", table, "", rule_text(s), "",
            detectable_text(s), "",
            "Degenerate-output flags, " + flag_rules() + "."
            + (f" Not checked on these results (a figure they lack): {', '.join(unchecked)}." if unchecked else "")]
    if notes:
        text += [""] + [f"[^{i}]: {n}" for i, n in enumerate(notes, 1)]
    if comparison:
        text += ["", "## Against the baselines", "",
                 "✓ really better than the baseline on that figure, ✗ really worse, tie: the difference is within "
                 "chance (the rule above), —: a flagged row, not compared.", "", comparison, "",
                 "Really better than every baseline: " + ("; ".join(f"{lab} ({', '.join(ms)})"
                                                                   for lab, ms in wins.items()) or "none") + "."]
    shown = shown_beside(dataset, [] if s.frame.empty else zip(s.frame["method"], s.frame["variant"]),
                         TABLE_METRICS)
    text += ["", "## Published reference figures (not measured here)", ""]
    if shown:
        text += ["Copied from the source documents (`colorbench/reference/published.csv`), measured on this "
                 "dataset's protocol (the same images and preprocessing) for the methods above, so they are "
                 "context, not a ranking against the rows above. Their histogram figures are in the legacy "
                 "(un-normalised) form; SSIM above 1 is impossible and flagged. Timings are in `../runtime.md`.", "",
                 published_table(list(TABLE_METRICS), shown), "",
                 "### Names: published → colorbench", "", mapping_table(), ""]
    else:
        text += [f"None: no source document publishes figures on the `{dataset}` protocol for the methods above. "
                 "Each source's figures stand beside ours in its reproduction table "
                 "(`colorbench.report.reproduction`, `results/<profile>/reproduction/`).", ""]
    written.append(atomic.write_text(out_dir / "table.md", "\n".join(text)))
    hists, samples, logs = {}, {}, {}
    for r in rows:  # plots show the first seed of each (method, variant)
        lab = label(r["method"], r.get("variant", "default"))
        if r.get("status") != "ok" or lab in hists:
            continue
        folder = Path(r.get("_folder", ""))
        for name, into in (("hist.npz", hists), ("samples.npz", samples)):
            if (folder / name).is_file():
                with np.load(folder / name) as z:
                    into[lab] = {k: z[k] for k in z.files}
        logs[lab] = (folder / "loss.csv", watch.get(r["method"], "loss"))
    for path in (figures.histograms(out_dir / "histograms.png", hists, legacy, styles),
                 figures.sample_grid(out_dir / "samples.jpg", samples),
                 figures.bench_loss_curves(out_dir / "loss_curves.png", logs),
                 frontier.frontier_plot(out_dir / "frontier.png",
                                        read_table(out_dir / "curves.csv") if curves else pd.DataFrame(), styles)):
        if path:
            written.append(path)
    return written, readme_table


def _truth(s: Any) -> str:
    col = s.frame.get("colorfulness_true_mean") if not s.frame.empty else None
    return f"{float(col.mean()):.1f}" if col is not None and col.notna().any() else "n/a"


def _settings_line(rows: list[dict[str, Any]]) -> str:
    ok = [r for r in rows if r.get("status") == "ok"]
    if not ok:
        return ""
    p = ok[0].get("provenance", {})
    protocol = p.get("protocol") or {}
    seeds = sorted({int(r.get("seed", 0)) for r in ok})
    parts = [f"device {p.get('device')}", f"commit {str(p.get('git_commit'))[:12]}",
             f"code {ok[0].get('code_hash')}", f"training crop {p.get('size')} px",
             f"protocol: {protocol.get('n_images')} {protocol.get('split')} images at {protocol.get('size')} px",
             f"seeds {', '.join(map(str, seeds))}"]
    parts.append(_length(rows))
    return "Settings: " + "; ".join(parts) + "."


def _length(rows: list[dict[str, Any]]) -> str:
    """How long each method trained: its steps, after the FLOP budget they were derived from where the profile gave
    one (``[train] flops``: equal training compute)."""
    steps = ", ".join(f"{lab} {n}" for lab, n in sorted(
        {(label(r["method"], r.get("variant", "default")), r.get("provenance", {}).get("train_steps")) for r in rows},
        key=lambda t: (t[0] not in _baseline_labels(rows), t[0])))
    budgets = sorted({float(b) for r in rows if (b := r.get("provenance", {}).get("flops_budget")) is not None})
    if not budgets:
        return f"train steps: {steps}"
    rule = ("steps = max(1, round(budget / FLOPs of one step)), FLOPs as torch's FlopCounterMode counts them "
            "(docs/training.md); a method that sets its own steps, or whose steps count no FLOPs, trains its steps")
    return (f"equal training compute: {' / '.join(f'{b:.3g}' for b in budgets)} FLOPs per run ({rule}); "
            f"steps: {steps}")


def _baseline_labels(rows: list[dict[str, Any]]) -> set[str]:
    from colorbench.report.tables import baseline_methods

    base = baseline_methods()
    return {label(r["method"], r.get("variant", "default")) for r in rows if r["method"] in base}


def update_readme(readme: Path, profile: str, dataset: str, table: str) -> Path | None:
    """Replace the text between the README's results markers for ``profile`` with ``table``; None when the README
    has no such markers."""
    if not readme.is_file():
        return None
    text = readme.read_text(encoding="utf-8")
    start, end = README_START.format(profile=profile), README_END.format(profile=profile)
    if start not in text or end not in text:
        return None
    block = readme_block(profile, dataset, table)
    new = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    return atomic.write_text(readme, new) if new != text else readme


def readme_block(profile: str, dataset: str, table: str) -> str:
    """The README's results block: the markers around ``table`` and a pointer to the full table."""
    return "\n".join([README_START.format(profile=profile), "", table, "",
                      f"Full table with the rules, flags and footnotes: `results/{profile}/{dataset}/table.md`.", "",
                      README_END.format(profile=profile)])


def _portable_checkpoint(row: dict[str, Any], results: Path) -> dict[str, Any]:
    """``row`` with its checkpoint path (``provenance.checkpoint``) as the report resolves it
    (:func:`colorbench.report.load.absolute_checkpoints`): relative to the results folder's parent when the
    checkpoint lies under it (the repository: ``runs/bench/...`` beside ``results/``), else absolute, so
    ``report --results X`` finds it from any folder."""
    ckpt = row.get("provenance", {}).get("checkpoint")
    if not isinstance(ckpt, str) or not ckpt:
        return row
    path = Path(os.path.abspath(ckpt))
    try:
        value = path.relative_to(Path(os.path.abspath(results)).parent).as_posix()
    except ValueError:
        value = str(path)
    return {**row, "provenance": {**row["provenance"], "checkpoint": value}}


def write_outputs(results: Path, profile: str, rows: list[dict[str, Any]], device: str = "",
                  readme: Path | None = None) -> list[Path]:
    """All files of ``results/<profile>/`` from finished rows; returns the paths written. With ``readme``, the
    first dataset's table also goes between that README's markers for ``profile``."""
    from colorbench.registry import get_method, list_methods

    rows = [_portable_checkpoint(r, results) for r in rows]
    registered = set(list_methods())
    watch = {m: get_method(m).watch_loss for m in {r["method"] for r in rows} if m in registered}
    root = results / profile
    written: list[Path] = []
    styles = figures.series_styles(label(r["method"], r.get("variant", "default")) for r in rows)
    by_dataset: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r.get("kind", "train") == "train" or (r.get("kind") == "pretrained" and r.get("status") == "ok"):
            by_dataset.setdefault(r["dataset"], []).append(r)
    for i, (dataset, drows) in enumerate(sorted(by_dataset.items())):
        name = dataset_label(dataset)  # a recipe path's folder takes the recipe's name
        paths, table = write_dataset(root / name, name, drows, profile, watch, styles)
        written += paths
        if readme is not None and i == 0 and (path := update_readme(readme, profile, name, table)):
            written.append(path)
    variants: dict[str, list[str]] = {}
    for r in sorted((r for rs in by_dataset.values() for r in rs), key=_sort_key):
        if str(r.get("variant") or "default") not in variants.setdefault(r["method"], []):
            variants[r["method"]].append(str(r.get("variant") or "default"))
    timed = sorted((r for r in rows if r.get("kind") == "runtime"), key=_sort_key)
    if timed:
        written.append(atomic.write_csv(root / "runtime.csv", [flatten_row(r) for r in timed]))
        frame = read_table(root / "runtime.csv")
        dev = device or next((r["provenance"].get("device") for r in timed if r.get("provenance")), "")
        written.append(atomic.write_text(root / "runtime.md", runtime.runtime_markdown(frame, device=dev)))
        fig = figures.runtime_plot(root / "runtime.png", runtime.entries(frame), styles)
        if fig:
            written.append(fig)
    written += reproduction.write_reproduction(root, profile, sorted(by_dataset), variants)  # sources on these data
    return written

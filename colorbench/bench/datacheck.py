"""The dry run's dataset-recipe checks: when a profile's data are on this machine, do its splits hold what the
papers' splits hold?

For every dataset the cells train on, the data are looked for where the dry run looks (``DATA_DIR/<dataset>``,
then the profile's ``data_dirs`` path: :func:`data_folder`). When found, the train split and the protocol's split
are built as a cell builds them and checked against the dataset's declared facts
(:class:`colorbench.data.info.DatasetInfo`):

* **split counts**: train images against ``paper_splits["train"]``, the images the protocol scores (its split,
  capped at ``max_images``) against ``paper_splits["test"]``, and every split the recipe fixes (``[splits]``);
* **file lists**: the train and test splits share no file, and no file of either was skipped as unusable.

Without the data each check is listed as skipped, with where the data were looked for. A mismatch is reported, not
raised: the dry run still runs every cell (a recipe may be run on a deliberately different copy).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colorbench.bench.grid import Cell

CHECKS = ("split counts (train, scored test) against the papers' splits", "the recipe's own split counts",
          "train and test files disjoint, none skipped")
"""What :func:`check_datasets` checks of a dataset whose data are here (and skips, saying so, otherwise)."""


@dataclass
class RecipeCheck:
    """One dataset's checks: ``status`` "ok", "mismatch", "skipped" (no data here) or "failed" (it did not build);
    ``found`` / ``expected``: image counts per split (``test`` = the images the protocol scores)."""

    dataset: str
    where: str = ""
    status: str = "skipped"
    found: dict[str, int] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def data_folder(cell: Cell, data_dir: Path | None) -> tuple[Path | None, list[Path]]:
    """``(the folder holding the cell's data, or None; every folder looked at)``: ``data_dir/<dataset>``, then
    the profile's ``data_dirs`` path for the dataset."""
    data = cell.settings["data"]
    candidates = [Path(data_dir) / str(cell.dataset)] if data_dir is not None else []
    if data.get("data_dir"):
        candidates.append(Path(data["data_dir"]))
    return next((c for c in candidates if c.is_dir()), None), candidates


def _build(cell: Cell, split: str, size: int, where: Path) -> Any:
    from colorbench.data import build_dataset

    opts = dict(cell.settings["data"].get("options") or {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skipped files are counted below, not printed once per file
        return build_dataset(str(cell.dataset), split, size=size, seed=cell.seed, data_dir=where, **opts)


def _files(ds: Any) -> set[str]:
    if hasattr(ds, "paths"):
        return {str(p) for p in ds.paths}
    return set()


def check_dataset(cell: Cell, data_dir: Path | None) -> RecipeCheck:
    """The checks of the module docstring for ``cell``'s dataset (one training cell stands for the dataset)."""
    from colorbench.data import dataset_info

    name = str(cell.dataset)
    info = dataset_info(name)
    out = RecipeCheck(name)
    paper = dict(info.paper_splits or {})
    out.expected = {k: int(v) for k, v in paper.items() if k in ("train", "test")}
    where, looked = data_folder(cell, data_dir)
    if where is None:
        places = ", ".join(str(p) for p in looked) or "no folder given (--data-dir DIR)"
        out.notes.append(f"no data here (looked in: {places}); skipped: " + "; ".join(CHECKS))
        return out
    out.where = str(where)
    protocol = info.protocol
    try:
        train = _build(cell, "train", protocol.size, where)
        scored = _build(cell, protocol.split, protocol.size, where)
    except Exception as exc:  # noqa: BLE001 - reported in the table, the cells still run
        out.status = "failed"
        out.notes.append(f"{type(exc).__name__}: {exc}".splitlines()[0][:200])
        return out
    n_scored = len(scored) // max(1, protocol.crops)
    if protocol.max_images is not None:
        n_scored = min(n_scored, protocol.max_images)
    out.found = {"train": len(train), "test": n_scored}
    bad = [f"{k}: {out.found[k]:,} here, the papers' split {v:,}" for k, v in out.expected.items()
           if out.found.get(k) != v]
    for split, count in (info.splits or {}).items():
        ds = train if split == "train" else scored if split == protocol.split else None
        if ds is not None and len(ds) // max(1, protocol.crops if ds is scored else 1) != count:
            bad.append(f"{split}: the recipe fixes {count:,}, {len(ds):,} here")
    shared = _files(train) & _files(scored) if protocol.split != "train" else set()
    if shared:
        bad.append(f"{len(shared):,} files in both train and {protocol.split}, e.g. {sorted(shared)[0]}")
    skipped = len(getattr(train, "skipped", [])) + len(getattr(scored, "skipped", []))
    if skipped:
        bad.append(f"{skipped:,} files skipped as unusable (dataset.skipped)")
    out.status = "mismatch" if bad else "ok"
    out.notes += bad
    return out


def check_datasets(cells: list[Cell], data_dir: Path | None) -> list[RecipeCheck]:
    """One :class:`RecipeCheck` per dataset the training cells use (the first cell of each stands for it)."""
    first: dict[str, Cell] = {}
    for cell in cells:
        if cell.kind == "train" and cell.dataset and cell.dataset not in ("sample", "synthetic"):
            first.setdefault(str(cell.dataset), cell)
    return [check_dataset(cell, data_dir) for cell in first.values()]


def format_checks(checks: list[RecipeCheck]) -> str:
    """Markdown: a line per dataset (its counts here and in the papers' split), then what was skipped or is off."""
    if not checks:
        return ""
    lines = ["Dataset recipes (split counts and file lists, when the data are here):", "",
             "| dataset | status | train here/paper | scored test here/paper | where |", "|---|---|---|---|---|"]

    def pair(split: str, c: RecipeCheck) -> str:
        here = f"{c.found[split]:,}" if split in c.found else "–"
        paper = f"{c.expected[split]:,}" if split in c.expected else "–"
        return f"{here}/{paper}"

    notes = []
    for c in checks:
        lines.append(f"| {c.dataset} | {c.status} | {pair('train', c)} | {pair('test', c)} | {c.where or '–'} |")
        notes += [f"- {c.dataset}: {n}" for n in c.notes]
    return "\n".join(lines + ([""] + notes if notes else []))

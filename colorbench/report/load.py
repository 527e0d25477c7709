"""Read a bench profile's results folder: ``results/<profile>/<dataset>/{metrics.csv, per_image.csv,
item_histograms.npz, *.png, samples.jpg}`` and ``results/<profile>/{runtime.csv, runtime.md, runtime.png}`` (layout
written by :mod:`colorbench.bench.outputs`).

Each metrics row names its checkpoint (``.../<cell>/train/checkpoints/step_N``); the cell folder three levels up
holds the loss log (``loss.csv``), the pooled histograms and the sample arrays. Those live under ``runs/``
(git-ignored), so on a fresh clone with only the committed ``results/`` they are absent and the report says so
instead of failing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from colorbench.errors import UserError
from colorbench.report.item_histograms import FILE as ITEM_HISTOGRAMS
from colorbench.report.item_histograms import ItemHistograms
from colorbench.report.item_histograms import read as read_item_histograms


@dataclass
class DatasetResults:
    """One dataset's folder: ``metrics`` (one row per method, variant, seed), ``per_image`` (one row per test image;
    empty when the bench wrote none), the PNGs the bench drew and the cells' per-item histogram counts (pass them
    to ``summarise(..., histograms=...)`` so the pooled figures get intervals and tests)."""

    name: str
    folder: Path
    metrics: pd.DataFrame
    per_image: pd.DataFrame
    figures: dict[str, Path] = field(default_factory=dict)
    histograms: ItemHistograms | None = None  # per-item histogram counts (None in results written without them)


@dataclass
class Results:
    """A profile's results: its datasets and the runtime table/plot (``None`` when absent)."""

    profile: str
    folder: Path
    datasets: dict[str, DatasetResults]
    runtime_md: Path | None = None
    runtime_png: Path | None = None
    runtime: pd.DataFrame = field(default_factory=pd.DataFrame)  # runtime.csv: one row per runtime cell

    @property
    def dataset(self) -> DatasetResults:
        """The first dataset (profiles usually have one)."""
        return next(iter(self.datasets.values()))


def profile_folder(results_dir: str | Path = "results", profile: str = "quick") -> Path:
    """``results_dir/profile`` if it holds at least one dataset's ``metrics.csv``; else a :class:`UserError`
    saying to run the bench first."""
    root = Path(results_dir)
    folder = root / profile
    if not any(folder.glob("*/metrics.csv")):
        have = sorted(p.parent.parent.name for p in root.glob("*/*/metrics.csv")) if root.is_dir() else []
        hint = f" (results exist for profile(s): {', '.join(sorted(set(have)))}; pass --profile)" if have else ""
        raise UserError(f"no bench results in {folder}: run `make bench` first "
                        f"(or `colorbench bench --profile {profile} --results {root}`){hint}")
    return folder


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.is_file() else pd.DataFrame()


def read_table(path: Path) -> pd.DataFrame:
    """A results CSV (an empty frame when absent), its ``variant`` column as strings with ``default`` for empty
    cells."""
    return text_variants(_read_csv(path))


def absolute_checkpoints(metrics: pd.DataFrame, results_dir: str | Path) -> pd.DataFrame:
    """Make relative ``checkpoint`` paths absolute. The bench writes them relative to the folder it ran in (the one
    holding ``results/`` and ``runs/``), while a notebook's kernel runs in ``notebooks/``: a relative path is taken
    against the results folder's parent when it exists there, else against the current directory."""
    if "checkpoint" not in metrics:
        return metrics
    bases = (Path(results_dir).resolve().parent, Path.cwd())

    def fix(value: object) -> object:
        if not isinstance(value, str) or not value or Path(value).is_absolute():
            return value
        for base in bases:
            if (base / value).exists():
                return str(base / value)
        return value

    metrics["checkpoint"] = metrics["checkpoint"].map(fix)
    return metrics


def load_results(results_dir: str | Path = "results", profile: str = "quick") -> Results:
    """Load every dataset of ``results_dir/profile``. Raises :class:`UserError` when there are none."""
    folder = profile_folder(results_dir, profile)
    datasets = {}
    for csv_path in sorted(folder.glob("*/metrics.csv")):
        d = csv_path.parent
        metrics = text_variants(absolute_checkpoints(_read_csv(csv_path), results_dir))
        per_image = read_table(d / "per_image.csv")
        figures = {p.stem: p for p in sorted([*d.glob("*.png"), *d.glob("*.jpg")])}
        datasets[d.name] = DatasetResults(d.name, d, metrics, per_image, figures,
                                          read_item_histograms(d / ITEM_HISTOGRAMS))
    runtime_md = folder / "runtime.md"
    runtime_png = folder / "runtime.png"
    return Results(profile, folder, datasets, runtime_md if runtime_md.is_file() else None,
                   runtime_png if runtime_png.is_file() else None, read_table(folder / "runtime.csv"))


def text_variants(frame: pd.DataFrame) -> pd.DataFrame:
    """``variant`` as strings with ``default`` for empty cells (pandas reads an empty cell as NaN)."""
    if "variant" in frame:
        frame["variant"] = frame["variant"].astype(object).fillna("default").astype(str)
    return frame


def cell_folder(row: pd.Series | dict[str, Any]) -> Path | None:
    """The bench cell folder of a metrics row (three levels above its checkpoint), or None when not on disk."""
    ckpt = row.get("checkpoint")
    if not isinstance(ckpt, str) or not ckpt:
        return None
    path = Path(ckpt)
    folder = path.parents[2] if len(path.parents) > 2 else path.parent
    return folder if folder.is_dir() else None


def checkpoint_of(row: pd.Series | dict[str, Any]) -> Path | None:
    """The row's checkpoint path when it exists on this machine, else None."""
    ckpt = row.get("checkpoint")
    if isinstance(ckpt, str) and ckpt and Path(ckpt).exists():
        return Path(ckpt)
    return None

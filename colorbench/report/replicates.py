"""Every row's bootstrap replicates of every figure of one table (:mod:`colorbench.report.bootstrap`): per-image
figures from ``per_image.csv``, pooled figures from the per-item histograms (:mod:`colorbench.report.pooled`),
all on one :class:`~colorbench.report.bootstrap.Design` so that any two rows are paired.

Test items are grouped by ``per_image.csv``'s ``photo`` column (the source photo of each item; several crops per
photo); results without it treat each item as its own photo.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from colorbench.metrics.table import METRICS
from colorbench.report.bootstrap import RESAMPLES, SEED, Design, mean_replicates
from colorbench.report.item_histograms import ItemHistograms
from colorbench.report.pooled import FIGURES, PooledTruth, pooled_replicates


@dataclass
class Row:
    """One table row: its label (the key of its seed draws), identity, the seeds of its finished cells and
    whether its histograms are in the legacy form."""

    label: str
    method: str
    variant: str
    seeds: Sequence[int]
    legacy: bool = False


def design_of(per_image: pd.DataFrame, histograms: ItemHistograms | None = None, resamples: int = RESAMPLES,
              seed: int = SEED) -> Design | None:
    """The table's items (``per_image``'s ``image`` ids, else the histograms' items) and their photos; None when
    neither has any. ValueError when one item is given two photos."""
    if per_image is not None and not per_image.empty and "image" in per_image:
        if "photo" in per_image:
            photo = per_image.groupby(per_image["image"].astype(int))["photo"].agg(lambda v: set(map(str, v)))
            mixed = [int(i) for i, v in photo.items() if len(v) != 1]
            if mixed:
                raise ValueError(f"per_image.csv gives test items {mixed[:5]} more than one photo")
            return Design(photo.index.to_numpy(), [next(iter(v)) for v in photo], resamples, seed)
        return Design(np.unique(per_image["image"].astype(int).to_numpy()), None, resamples, seed)
    if histograms is not None and len(histograms.image):
        return Design(histograms.image, None, resamples, seed)
    return None


def _matrix(design: Design, rows: pd.DataFrame, column: str, seeds: Sequence[int]) -> np.ndarray:
    """``[len(seeds), N]`` values of ``column`` (NaN where an item or seed has none)."""
    out = np.full((len(seeds), design.n_items), np.nan)
    where = {s: i for i, s in enumerate(seeds)}
    seed_col = rows["seed"].astype(int) if "seed" in rows else pd.Series(0, index=rows.index)
    for s, g in rows.groupby(seed_col):
        if int(s) not in where:
            continue
        vals = pd.to_numeric(g[column], errors="coerce").groupby(g["image"].astype(int)).mean()
        out[where[int(s)], design.position(vals.index.to_numpy())] = vals.to_numpy(dtype=np.float64)
    return out


def pooled_truth(design: Design, histograms: ItemHistograms | None, legacy: bool) -> PooledTruth | None:
    """The truth's side of the pooled figures' resamples (None without histograms on the design's items)."""
    if histograms is None or len(histograms.image) != design.n_items or not np.array_equal(histograms.image,
                                                                                          design.items):
        return None
    return PooledTruth(design, histograms.truth, legacy)


def row_replicates(design: Design, row: Row, per_image: pd.DataFrame | None,
                   histograms: ItemHistograms | None, names: Sequence[str],
                   truth: PooledTruth | None = None) -> dict[str, np.ndarray]:
    """``{figure: [resamples]}`` for one row: every per-image figure of ``names`` the records have (``_true``
    twins included when named), and the pooled figures when every seed of the row has per-item histograms on
    the design's items (``truth``: :func:`pooled_truth` of the row's form, shared by the table's rows)."""
    out: dict[str, np.ndarray] = {}
    if per_image is not None and not per_image.empty and "method" in per_image:
        mine = per_image[(per_image["method"] == row.method) & (per_image["variant"].astype(str) == row.variant)]
        seeds = sorted({int(s) for s in mine["seed"]}) if "seed" in mine else [0]
        if len(mine) and seeds:
            draws = design.seed_draws(len(seeds), row.label)
            for m in names:
                info = METRICS.get(m)
                if info is not None and info.per_image and m in mine:
                    out[m] = mean_replicates(design, _matrix(design, mine, m, seeds), draws)
    pooled = [m for m in names if m in FIGURES]
    if pooled and histograms is not None:
        truth = truth if truth is not None and truth.legacy == row.legacy else pooled_truth(design, histograms,
                                                                                          row.legacy)
        seeds = histograms.seeds(row.method, row.variant)
        if truth is not None and seeds and sorted(seeds) == sorted(int(s) for s in row.seeds):
            pred = np.stack([histograms.pred[(row.method, row.variant, s)] for s in seeds])
            reps = pooled_replicates(truth, pred, design.seed_draws(len(seeds), row.label))
            out.update({m: reps[m] for m in pooled})
    return out

"""The two-level paired bootstrap behind every interval, p-value and mark of the results tables.

A table's figures vary with the test photos and with the training seed, so a resample redraws both (the
multi-stage bootstrap of Davison & Hinkley, "Bootstrap Methods and their Application", 1997, §3.8):

* **photos** (the clusters): as many photos as the test set has, drawn with replacement; every test item (crop) of
  a drawn photo comes along, once per draw. One set of photo draws serves every row of a table, so the difference
  between two rows is *paired*: both rows are scored on the same redrawn photos.
* **seeds**: each row's trained seeds, drawn with replacement, independently for every row (its own generator,
  keyed by the row's label and seed count, so adding a row changes no other row's draws).

A replicate of a row's per-image figure is its mean over every (drawn seed, drawn item) pair, each counted as often
as drawn; with every photo and seed drawn once it is the row's figure. Pooled figures re-pool the drawn photos'
histogram counts per seed (:mod:`colorbench.report.pooled`) and average over the drawn seeds.

Bits: the draws come from seeded numpy Generators (PCG64, the same integers on every machine); per-image values
are first rounded to a binary grid fine enough that every weighted sum of a replicate is exact in float64 (the
grid is at most ``seeds × items × photos × 2**-52`` of the largest value: far below print precision), so no sum
depends on the order a BLAS kernel chooses and a p-value counts the same replicates on every CPU.
"""
from __future__ import annotations

import functools
import math
import zlib
from typing import Iterator, Sequence

import numpy as np

RESAMPLES = 10_000
SEED = 0
BLOCK = 1_000
"""Resamples drawn and evaluated at a time (bounds memory at ``BLOCK × photos`` draws)."""


class Design:
    """The test items of one table and the photo each comes from, and the photo draws every row shares.

    ``items``: item ids (``per_image.csv``'s ``image``); ``photos``: the source photo of each (any labels, compared
    as text; None: each item is its own photo). ``photo``: ``[N]`` each item's photo index (photos sorted by
    label); ``photo_sizes``: ``[P]`` items per photo (float64).
    """

    def __init__(self, items: Sequence[int], photos: Sequence | None = None, resamples: int = RESAMPLES,
                 seed: int = SEED) -> None:
        items = np.asarray(items, dtype=np.int64)
        if len(np.unique(items)) != len(items):
            raise ValueError("Design: items must be unique")
        order = np.argsort(items, kind="stable")
        self.items = items[order]
        labels = [str(v) for v in (items if photos is None else np.asarray(photos, dtype=object))]
        labels = [labels[i] for i in order]
        names = sorted(set(labels))
        code = {name: i for i, name in enumerate(names)}
        self.photo = np.array([code[v] for v in labels], dtype=np.int64)
        self.photo_names = names
        self.n_photos = len(names)
        self.named = photos is not None  # photos named by the data (a photo column), not assumed one per item
        self.resamples = int(resamples)
        self.seed = int(seed)
        self._by_photo = np.argsort(self.photo, kind="stable")
        self._starts = np.searchsorted(self.photo[self._by_photo], np.arange(self.n_photos))
        self.photo_sizes = np.bincount(self.photo, minlength=self.n_photos).astype(np.float64)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def position(self, items: Sequence[int]) -> np.ndarray:
        """Column of each of ``items`` in this design (ValueError for an unknown item)."""
        want = np.asarray(items, dtype=np.int64)
        idx = np.searchsorted(self.items, want)
        if np.any(idx >= len(self.items)) or np.any(self.items[np.minimum(idx, len(self.items) - 1)] != want):
            raise ValueError("Design.position: an item is not in the design")
        return idx

    def per_photo(self, x: np.ndarray) -> np.ndarray:
        """``[N, ...]`` values of the items → ``[P, ...]`` their sums per photo (in item order within a photo)."""
        x = np.asarray(x)
        return np.add.reduceat(x[self._by_photo], self._starts, axis=0)

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(first resample, [b, P] float64 draw counts)`` blocks of at most :data:`BLOCK` resamples, each row
        summing to P: the photo draws, the same on every call and every machine."""
        for start, counts in _photo_blocks(self.n_photos, self.resamples, self.seed):
            yield start, counts.astype(np.float64)

    def seed_draws(self, n_seeds: int, key: str) -> np.ndarray:
        """``[resamples, n_seeds]`` float64 draw counts of one row's seeds (each row sums to ``n_seeds``)."""
        return seed_draws(n_seeds, key, self.resamples, self.seed)


def _counts(draws: np.ndarray, n: int) -> np.ndarray:
    """``[b, k]`` indices in ``[0, n)`` → ``[b, n]`` int64 counts."""
    b = draws.shape[0]
    flat = (draws + n * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n)


@functools.lru_cache(maxsize=4)
def _photo_blocks(n_photos: int, resamples: int, seed: int) -> tuple[tuple[int, np.ndarray], ...]:
    """The photo draws, kept compact (uint8 counts where every count fits, as it does but for tiny odds)."""
    rng = np.random.default_rng([seed, 0, n_photos])
    out = []
    for start in range(0, resamples, BLOCK):
        b = min(BLOCK, resamples - start)
        counts = _counts(rng.integers(0, n_photos, size=(b, n_photos)), n_photos)
        out.append((start, counts.astype(np.uint8 if counts.max() < 256 else np.int64)))
    return tuple(out)


def seed_draws(n_seeds: int, key: str, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """``[resamples, n_seeds]`` float64 draw counts for a row known by ``key`` (its label)."""
    rng = np.random.default_rng([seed, 1, zlib.crc32(key.encode("utf-8")), n_seeds])
    return _counts(rng.integers(0, n_seeds, size=(resamples, n_seeds)), n_seeds).astype(np.float64)


def _on_grid(x: np.ndarray, terms: float) -> np.ndarray:
    """``x`` rounded to the binary grid on which any sum of up to ``terms`` of its values (with integer weights
    included in ``terms``) is exact in float64."""
    scale = float(np.max(np.abs(x))) if x.size else 0.0
    if scale == 0.0:
        return x
    grid = 2.0 ** (math.ceil(math.log2(scale * terms)) - 52)
    return np.round(x / grid) * grid


def mean_replicates(design: Design, values: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """``[resamples]`` replicates of a row's per-image figure: ``values`` ``[S, N]`` (seed × the design's items,
    NaN where missing), ``draws`` ``[resamples, S]`` its seed draws. NaN where a resample drew no valid item."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != design.n_items or draws.shape != (design.resamples, x.shape[0]):
        raise ValueError(f"mean_replicates: values must be [seeds, {design.n_items}] and draws "
                         f"[{design.resamples}, seeds]; got {x.shape} and {draws.shape}")
    valid = np.isfinite(x)
    x = _on_grid(np.where(valid, x, 0.0), x.shape[0] * design.n_items * max(design.n_photos, 1))
    sums, counts = design.per_photo(x.T).T, design.per_photo(valid.T.astype(np.float64)).T  # [S, P], exact
    out = np.empty(design.resamples)
    with np.errstate(invalid="ignore", divide="ignore"):
        for start, w in design.blocks():
            c = draws[start:start + len(w)]
            out[start:start + len(w)] = ((w @ sums.T) * c).sum(axis=1) / ((w @ counts.T) * c).sum(axis=1)
    return out


# ------------------------------------------------------------------------------------------ reading replicates
def interval(replicates: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval at ``level`` (e.g. 0.95) of the finite replicates; NaNs when there are none."""
    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return (math.nan, math.nan)
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(r, [tail, 1.0 - tail])
    return float(lo), float(hi)


def half_width(replicates: np.ndarray, level: float) -> float:
    """Half the width of the percentile interval at ``level``: the smallest difference that interval excludes 0
    for, when centred on it."""
    lo, hi = interval(replicates, level)
    return (hi - lo) / 2.0


def p_value(differences: np.ndarray) -> float:
    """Two-sided bootstrap p-value of a difference from its replicates: twice the smaller share of replicates on
    either side of 0 (a replicate at exactly 0 counts on both), at most 1; 0 means no replicate of
    :data:`RESAMPLES` crossed 0. The p-value is below ``alpha`` exactly when the ``1 - alpha`` percentile interval
    of the difference excludes 0 (up to the quantiles' interpolation)."""
    d = np.asarray(differences, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return math.nan
    below, above = np.count_nonzero(d <= 0.0), np.count_nonzero(d >= 0.0)
    return float(min(1.0, 2.0 * min(below, above) / d.size))

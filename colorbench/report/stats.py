"""When is a difference between two rows real? The tests behind every bold mark, ✓ and "tie" in the tables.

* Per-image figures (PSNR, SSIM, colourfulness, ...): a **paired bootstrap over test images**. Each row's value for
  an image is first averaged over its seeds; the per-image difference between two rows is resampled with
  replacement :data:`RESAMPLES` times (seeded, so a table is reproducible), and the difference is real when the
  95% percentile interval of its mean excludes zero. Images are paired by their position in the protocol's fixed
  image list, so both rows are scored on the same images.
* Pooled figures (the histogram divergences: one number per seed): **complete separation over seeds**: every seed
  of one row is better than every seed of the other, with at least :data:`MIN_SEEDS` seeds on the side that claims
  the difference (for 3 seeds against 3 the chance of that under no difference is 1 in 20).
"""
from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

RESAMPLES = 10_000
LEVEL = 0.95
SEED = 0
MIN_SEEDS = 3

RULE = (f"Bold, ✓ and ✗ only where the difference is real: for per-image figures a paired bootstrap over the test "
        f"images of the per-image difference (each image averaged over seeds; {RESAMPLES:,} seeded resamples, "
        f"{LEVEL:.0%} interval excludes 0); for pooled figures (JS, KL) every seed of one row beats every seed of the "
        f"other, with at least {MIN_SEEDS} seeds. Otherwise the rows tie.")


@functools.lru_cache(maxsize=16)
def _indices(n: int) -> np.ndarray:
    """``[RESAMPLES, n]`` resampling indices for ``n`` images (the same for every comparison of that size)."""
    return np.random.default_rng(SEED).integers(0, n, size=(RESAMPLES, n))


def paired_interval(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """95% bootstrap interval of ``mean(a - b)`` over paired images (NaN pairs dropped; a lone pair gives its
    difference twice)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired_interval: both rows need one value per image; got {a.shape} and {b.shape}")
    d = a - b
    d = d[np.isfinite(d)]
    if d.size == 0:
        return (np.nan, np.nan)
    if d.size == 1:
        return (float(d[0]), float(d[0]))
    means = d[_indices(d.size)].mean(axis=1)
    alpha = (1 - LEVEL) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)


def mean_interval(values: Sequence[float]) -> tuple[float, float]:
    """95% bootstrap interval of the mean of ``values`` (one row's per-image figures)."""
    x = np.asarray(values, dtype=np.float64)
    return paired_interval(x, np.zeros_like(x))


def paired_verdict(a: Sequence[float], b: Sequence[float]) -> int:
    """-1 when row ``a`` is really lower than ``b`` per image, +1 when really higher, 0 for a tie."""
    lo, hi = paired_interval(a, b)
    if not np.isfinite(lo):
        return 0
    return -1 if hi < 0 else 1 if lo > 0 else 0


def seed_verdict(a: Sequence[float], b: Sequence[float]) -> int:
    """-1 when every seed of ``a`` is below every seed of ``b`` (``a`` has at least :data:`MIN_SEEDS` seeds, or
    ``b`` does and claims the other side), +1 the other way round, else 0."""
    a = [float(v) for v in a if np.isfinite(v)]
    b = [float(v) for v in b if np.isfinite(v)]
    if not a or not b:
        return 0
    if max(a) < min(b) and max(len(a), len(b)) >= MIN_SEEDS:
        return -1
    if min(a) > max(b) and max(len(a), len(b)) >= MIN_SEEDS:
        return 1
    return 0

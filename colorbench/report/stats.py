"""When is a difference between two rows real? The rules behind every interval, bold mark, ``=``, ✓ and ✗ in the
tables, in one place:

* **Intervals**: the 95% percentile interval of a two-level bootstrap (:mod:`colorbench.report.bootstrap`): test
  photos redrawn with all their crops, and each row's seeds redrawn, :data:`RESAMPLES` seeded times.
* **Tests**: per paired difference (both rows on the same redrawn photos, each row's seeds redrawn on its own) a
  two-sided bootstrap p-value (:mod:`colorbench.report.family`); pooled figures (JS, KL) re-pool the redrawn
  photos' histogram counts (:mod:`colorbench.report.pooled`).
* **Family**: Holm's correction at :data:`ALPHA` over every comparison one table makes: each row against the best
  row of each ranked column and each non-baseline row against each baseline on each ranked column, all columns
  together (:mod:`colorbench.report.multiplicity`).
* **Detectable difference**: per column, the half-width of a paired difference's interval at the Bonferroni level
  ``ALPHA / m``, median over the table's pairs in that column.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from colorbench.report.bootstrap import RESAMPLES, SEED, Design, interval, mean_replicates
from colorbench.report.family import ALPHA

LEVEL = 0.95
"""Level of the intervals printed beside each figure (descriptive; the marks use the corrected tests)."""

__all__ = ["ALPHA", "LEVEL", "RESAMPLES", "SEED", "mean_interval", "paired_interval", "rule"]


def rule(m: int, photos: int | None = None, items: int | None = None, pooled: bool = True,
         named: bool = True) -> str:
    """The table's rule, for the text under it: ``m`` tests in the family, ``photos`` test photos holding
    ``items`` test items (``named``: the results name each item's photo); ``pooled``: whether the pooled figures
    could be resampled (per-item histograms)."""
    if photos and items and photos != items:
        where = f"the {photos} test photos, each with all its crops ({items} items), and"
    elif photos and named:
        where = f"the {photos} test photos (one item each) and"
    else:
        where = "the test images (each its own photo here: no photo column) and"
    pooled_text = ("pooled figures (JS, KL) re-pool the resampled photos' histogram counts per seed" if pooled else
                   "pooled figures (JS, KL) are not compared: these results have no per-item histograms")
    return (f"Intervals: 95% two-level bootstrap, {RESAMPLES:,} seeded resamples of {where}, independently for "
            f"each row, of its seeds; {pooled_text}. Marks: a two-sided bootstrap p-value for each paired "
            "difference (both rows on the same resampled photos), Holm-corrected at α = "
            f"{ALPHA:g} over the family of all m = {m} comparisons this table makes (every row against the best "
            "row of each ranked column, and every non-baseline row against each baseline on every ranked column; "
            "the README's shorter table reuses these verdicts). **Bold**: the best row, its difference from every "
            "other row surviving; `=`: a row whose difference from the best does not survive (tied for best); "
            "✓/✗: really better/worse than that baseline, the difference surviving; otherwise the rows tie.")


def paired_interval(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """95% bootstrap interval of ``mean(a - b)`` over paired images, each image its own photo and one seed (NaN
    pairs dropped; a lone pair gives its difference twice)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired_interval: both rows need one value per image; got {a.shape} and {b.shape}")
    d = a - b
    d = d[np.isfinite(d)]
    if d.size == 0:
        return (np.nan, np.nan)
    design = Design(np.arange(d.size))
    return interval(mean_replicates(design, d[None, :], np.ones((design.resamples, 1))), LEVEL)


def mean_interval(values: Sequence[float]) -> tuple[float, float]:
    """95% bootstrap interval of the mean of ``values`` (one row's per-image figures, one seed)."""
    x = np.asarray(values, dtype=np.float64)
    return paired_interval(x, np.zeros_like(x))

"""Many marks, one error rate: Holm's step-down correction (Holm, "A simple sequentially rejective multiple test
procedure", Scandinavian Journal of Statistics 6, 1979) and the Bonferroni level it starts from.

Holm keeps the chance of any false mark in a family of ``m`` tests at most ``alpha`` whatever their dependence:
sort the p-values ascending, p(1) ≤ ... ≤ p(m); reject while p(j) ≤ alpha / (m - j + 1), and stop at the first
that is not. It rejects everything Bonferroni (every p ≤ alpha / m) rejects, and often more.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def bonferroni_level(alpha: float, m: int) -> float:
    """Per-test level ``alpha / m`` (``alpha`` when ``m`` < 1)."""
    return alpha / m if m >= 1 else alpha


def holm(pvalues: Sequence[float], alpha: float = 0.05) -> np.ndarray:
    """Which of ``pvalues`` Holm's procedure rejects at family-wise level ``alpha`` (bool array, input order).
    NaN p-values are never rejected but count in the family size."""
    p = np.asarray(pvalues, dtype=np.float64)
    m = p.size
    reject = np.zeros(m, dtype=bool)
    order = np.argsort(np.where(np.isnan(p), np.inf, p), kind="stable")
    for j, i in enumerate(order):
        if math.isnan(p[i]) or p[i] > alpha / (m - j):
            break
        reject[i] = True
    return reject


def holm_adjusted(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values (input order): ``max over k ≤ j of min(1, (m - k + 1) p(k))``; a test survives at
    ``alpha`` exactly when its adjusted p-value is ≤ ``alpha``."""
    p = np.asarray(pvalues, dtype=np.float64)
    m = p.size
    order = np.argsort(np.where(np.isnan(p), np.inf, p), kind="stable")
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.maximum.accumulate(np.where(np.isnan(adjusted), np.inf, adjusted))
    out = np.empty(m)
    out[order] = np.where(np.isinf(adjusted), np.nan, adjusted)
    return out

"""Binomial proportions with Wilson score intervals (Wilson 1927), as ``scipy.stats.binomtest(k, n)
.proportion_ci(method="wilson")`` computes them (no continuity correction)."""
from __future__ import annotations

import math
from statistics import NormalDist


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for ``k`` successes in ``n`` trials; ``(nan, nan)`` when ``n == 0``.

    Bounds are proportions in [0, 1]. ``confidence`` is two-sided (0.95 -> z = 1.95996...).
    """
    if not 0 <= k <= n:
        raise ValueError(f"wilson_interval: need 0 <= k <= n, got k={k}, n={n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"wilson_interval: confidence must lie in (0, 1), got {confidence}")
    if n == 0:
        return math.nan, math.nan
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = k / n
    z2n = z * z / n
    denom = 1.0 + z2n
    centre = (p + z2n / 2.0) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion(k: int, n: int, confidence: float = 0.95) -> dict[str, float]:
    """``{"k", "n", "share", "low", "high"}``: the share ``k/n`` (nan when ``n == 0``) and its Wilson interval."""
    low, high = wilson_interval(k, n, confidence)
    return {"k": k, "n": n, "share": k / n if n else math.nan, "low": low, "high": high}

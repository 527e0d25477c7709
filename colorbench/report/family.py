"""The family of comparisons one table makes, tested together: a two-sided bootstrap p-value per paired
difference (:func:`colorbench.report.bootstrap.p_value`), Holm's correction over the whole family
(:mod:`colorbench.report.multiplicity`), and what the design can detect: per comparison the half-width of the
difference's percentile interval at the Bonferroni level ``alpha / m``.

A comparison is ``(metric, a, b)`` with the difference ``score(a) - score(b)`` of lower-is-better scores (the
figure, its negation, or its distance from the truth's figure: :data:`colorbench.metrics.METRICS` goals); the same
pair asked twice (a best-row check that is also a baseline check) is one test.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from colorbench.report.bootstrap import half_width, p_value
from colorbench.report.multiplicity import bonferroni_level, holm

ALPHA = 0.05

Key = tuple[str, str, str]  # (metric, a, b) with a < b


@dataclass
class Test:
    """One paired comparison: ``difference`` = score(a) - score(b) (negative: ``a`` better), its p-value, whether
    it survives Holm's correction, and ``half_width`` of its interval at the Bonferroni level."""

    metric: str
    a: str
    b: str
    difference: float
    p: float
    direction: int  # sign of the difference's replicates: the side fewer of them cross 0 from
    survives: bool = False
    half_width: float = math.nan

    @property
    def verdict(self) -> int:
        """-1 when ``a`` is really better, +1 really worse, 0 a tie."""
        return self.direction if self.survives else 0


@dataclass
class Family:
    """Every test of one table (``tests``), the pairs that could not be tested (``untested``: no replicates for
    a row, e.g. pooled figures of results without per-item histograms), ``alpha``."""

    tests: dict[Key, Test] = field(default_factory=dict)
    untested: list[Key] = field(default_factory=list)
    alpha: float = ALPHA

    @property
    def m(self) -> int:
        """The family size: the number of tests Holm corrects over."""
        return len(self.tests)

    @property
    def level(self) -> float:
        """The Bonferroni level ``alpha / m``."""
        return bonferroni_level(self.alpha, self.m)

    def find(self, metric: str, a: str, b: str) -> tuple[Test | None, int]:
        """The test of ``a`` against ``b`` on ``metric`` and the sign that turns its verdict into ``a``'s
        (``(None, 0)`` when the family has no such test)."""
        if a <= b:
            return self.tests.get((metric, a, b)), 1
        return self.tests.get((metric, b, a)), -1

    def detectable(self, metric: str) -> float:
        """The median over ``metric``'s tests of the half-width at the Bonferroni level (NaN without tests)."""
        widths = [t.half_width for t in self.tests.values() if t.metric == metric and math.isfinite(t.half_width)]
        return float(np.median(widths)) if widths else math.nan

    def frame(self) -> pd.DataFrame:
        """One row per test: metric, a, b, difference, p, survives, half_width."""
        return pd.DataFrame([{"metric": t.metric, "a": t.a, "b": t.b, "difference": t.difference, "p": t.p,
                              "survives": t.survives, "half_width": t.half_width} for t in self.tests.values()])


def build(pairs: Iterable[tuple[str, str, str]], replicates: Callable[[str, str], np.ndarray | None],
          point: Callable[[str, str], float], alpha: float = ALPHA) -> Family:
    """Test every ``(metric, a, b)`` of ``pairs`` (duplicates and reversed duplicates once) from the rows' score
    replicates (``replicates(label, metric)``, None when a row has none) and point scores (``point(label,
    metric)``), then correct over the family with Holm at ``alpha``."""
    fam = Family(alpha=alpha)
    diffs: dict[Key, np.ndarray] = {}
    for metric, x, y in pairs:
        a, b = sorted((x, y))
        key = (metric, a, b)
        if a == b or key in fam.tests or key in fam.untested:
            continue
        ra, rb = replicates(a, metric), replicates(b, metric)
        if ra is None or rb is None:
            fam.untested.append(key)
            continue
        d = ra - rb
        finite = d[np.isfinite(d)]
        direction = -1 if np.count_nonzero(finite <= 0) > np.count_nonzero(finite >= 0) else 1
        fam.tests[key] = Test(metric, a, b, point(a, metric) - point(b, metric), p_value(d), direction)
        diffs[key] = d
    survives = holm([t.p for t in fam.tests.values()], alpha)
    level = 1.0 - fam.level
    for (key, t), keep in zip(fam.tests.items(), survives):
        t.survives = bool(keep)
        t.half_width = half_width(diffs[key], level)
    return fam

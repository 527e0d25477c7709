"""Degenerate output, judged per seed against the ground truth's own figures on the same images
(:data:`colorbench.metrics.DEGENERATE`), and what that means for a row of the table.

Each trained seed is checked on its own (a mean over seeds hides one broken seed and flags a row for one bad seed
alike). A row shows e.g. ``1/3 seeds degenerate: flat (seed 2)``. **Majority rule**: a row whose seeds are
degenerate in the majority (more than half) is flagged: never bold, never ✓, not compared; with a minority of
degenerate seeds the row keeps every seed in its figures and tests (how often training breaks is part of the
method) and only says so. Baselines are degenerate by design and exempt.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pandas as pd

from colorbench.metrics.table import DEGENERATE, DegenerateRule


@dataclass
class SeedFlags:
    """One row's verdict: ``broken[seed]`` = names of the rules that seed breaks (degenerate seeds only);
    ``seeds``: every seed checked; ``unchecked``: rules that could not be checked for some seed (a figure missing,
    e.g. results written before the evaluator reported the truth's figure)."""

    seeds: list[int]
    broken: dict[int, list[str]] = field(default_factory=dict)
    unchecked: list[str] = field(default_factory=list)

    @property
    def majority(self) -> bool:
        """More than half of the seeds are degenerate."""
        return 2 * len(self.broken) > len(self.seeds)

    def text(self) -> str:
        """``"2/3 seeds degenerate: flat (seeds 0, 2); over-saturated (seed 2)"``, or "" when none is."""
        if not self.broken:
            return ""
        parts = []
        for rule in DEGENERATE:
            name = rule.name or rule.metric
            hit = [s for s in sorted(self.broken) if name in self.broken[s]]
            if hit:
                parts.append(f"{name} (seed{'s' if len(hit) > 1 else ''} {', '.join(map(str, hit))})")
        return f"{len(self.broken)}/{len(self.seeds)} seeds degenerate: " + "; ".join(parts)


def _figures(row: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in row.items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if not math.isnan(f):
            out[k] = f
    return out


def seed_flags(rows: pd.DataFrame, rules: Sequence[DegenerateRule] = DEGENERATE) -> SeedFlags:
    """Check every seed (one ``metrics.csv`` row each) of one table row against ``rules``."""
    seeds = [int(s) for s in rows["seed"]] if "seed" in rows else list(range(len(rows)))
    out = SeedFlags(seeds)
    for seed, (_, row) in zip(seeds, rows.iterrows()):
        figures = _figures(row)
        for rule in rules:
            verdict = rule.check(figures)
            name = rule.name or rule.metric
            if verdict is None:
                if name not in out.unchecked:
                    out.unchecked.append(name)
            elif verdict:
                out.broken.setdefault(seed, []).append(name)
    return out


def rules_text(rules: Sequence[DegenerateRule] = DEGENERATE) -> str:
    """The thresholds and the majority rule, once, for the caption under a table."""
    return ("checked per seed against the ground truth's own figures on the same images: "
            + "; ".join(rule.text() for rule in rules)
            + ". A row whose seeds are degenerate in the majority is flagged (never bold, never ✓, not compared); "
              "a minority is reported and the row keeps all its seeds. Baselines are exempt")

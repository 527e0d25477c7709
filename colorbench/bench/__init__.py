"""The comparison grid behind ``colorbench bench`` / ``make bench``.

Modules, one job each: :mod:`~colorbench.bench.profiles` (TOML profiles), :mod:`~colorbench.bench.grid` (cells and
their hashes), :mod:`~colorbench.bench.cell` (train, evaluate and time one cell into the ``runs/bench`` cache),
:mod:`~colorbench.bench.runner` (the resumable loop, parallel cells, shards and merge),
:mod:`~colorbench.bench.cluster` (cells as scheduler jobs through submitit: SLURM or local processes),
:mod:`~colorbench.bench.outputs` (the files under ``results/``, written through the results layer,
:mod:`colorbench.report`, which the notebooks call too).
"""
from __future__ import annotations

from colorbench.bench.runner import Summary, collect, merge, run_bench

__all__ = ["Summary", "collect", "merge", "run_bench"]

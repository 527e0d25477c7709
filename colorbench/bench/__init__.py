"""The comparison grid behind ``colorbench bench`` / ``make bench``.

Modules, one job each: :mod:`~colorbench.bench.profiles` (TOML profiles), :mod:`~colorbench.bench.grid` (cells and
their hashes), :mod:`~colorbench.bench.cell` (train, evaluate and time one cell into the ``runs/bench`` cache),
:mod:`~colorbench.bench.samples` (a cell's whole test photos colourised, for the sample grid),
:mod:`~colorbench.bench.runner` (the resumable loop, parallel cells, shards and merge),
:mod:`~colorbench.bench.cluster` (cells as scheduler jobs through submitit: SLURM or local processes),
:mod:`~colorbench.bench.outputs` (the files under ``results/``, written through the results layer,
:mod:`colorbench.report`, which the notebooks call too).
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Summary", "collect", "merge", "run_bench"]


def __getattr__(name: str) -> Any:
    """The runner's names, imported on first use: importing a submodule (a cell process imports only
    :mod:`~colorbench.bench.cell`) does not load the runner, the outputs and the results layer."""
    if name in __all__:
        return getattr(importlib.import_module("colorbench.bench.runner"), name)
    raise AttributeError(f"module 'colorbench.bench' has no attribute {name!r}")

"""What ``colorbench list datasets`` shows of a dataset, and its evaluation protocol: one record, imported by both
the dataset registry and the recipe loader (neither imports the other for it)."""
from __future__ import annotations

import dataclasses

from colorbench.data.protocol import Protocol


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """One row of ``colorbench list datasets``; ``protocol``: how its results are measured (split, size, images)."""

    name: str
    description: str
    source: str
    size: str
    protocol: Protocol = Protocol()

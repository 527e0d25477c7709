"""What ``colorbench list datasets`` shows of a dataset, and its evaluation protocol: one record, imported by both
the dataset registry and the recipe loader (neither imports the other for it)."""
from __future__ import annotations

import dataclasses
from typing import Mapping

from colorbench.data.protocol import Protocol


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """A dataset's facts, declared once (a recipe's TOML, or the built-in table): one row of ``colorbench list
    datasets``; ``protocol``: how its results are measured (split, size, crops per photo, images); ``licence``: the
    data's licence(s); ``splits``: images (photos) per split as the recipe fixes them (a committed set's are checked
    against its manifest), None where they depend on the options; ``paper_splits``: the train and test image
    counts of the split the papers used, which a dry run projects steps from when the data are not on the machine."""

    name: str
    description: str
    source: str
    size: str
    protocol: Protocol = Protocol()
    licence: str = ""
    splits: Mapping[str, int] | None = None
    paper_splits: Mapping[str, int] | None = None

"""The bench's progress over cells (in-process runs and scheduler arrays alike): a tqdm bar, or with
``--no-progress`` one plain line per finished cell on stderr (a long grid is never silent)."""
from __future__ import annotations

import sys
import time
from typing import Any


class _Lines:
    """The bar's methods, printing ``bench: cell 3/11 done (1 min 4 s): unet_l1 on mine seed 0`` per update."""

    def __init__(self, total: int) -> None:
        self.total, self.n, self.label, self.start = total, 0, "", time.monotonic()

    def set_description(self, label: str = "", *_: Any) -> None:
        self.label = label

    def update(self, n: int = 1) -> None:
        self.n += n
        seconds = int(time.monotonic() - self.start)
        elapsed = f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"
        label = f": {self.label}" if self.label else ""
        print(f"bench: cell {self.n}/{self.total} done ({elapsed}){label}", file=sys.stderr, flush=True)

    def close(self) -> None: ...


def cell_bar(total: int, progress: bool) -> Any:
    """A tqdm bar over ``total`` cells, or (``progress=False``) an object with the same methods that prints one line
    per finished cell."""
    if not progress:
        return _Lines(total)
    from tqdm import tqdm

    return tqdm(total=total, unit="cell", position=0, leave=True, dynamic_ncols=True)

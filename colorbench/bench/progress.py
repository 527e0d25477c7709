"""The bench's progress bar over cells (in-process runs and scheduler arrays alike), or a silent stand-in."""
from __future__ import annotations

from typing import Any


class _NoBar:
    def set_description(self, *_: Any) -> None: ...
    def update(self, *_: Any) -> None: ...
    def close(self) -> None: ...


def cell_bar(total: int, progress: bool) -> Any:
    """A tqdm bar over ``total`` cells, or an object with the same methods that prints nothing."""
    if not progress:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="cell", position=0, leave=True, dynamic_ncols=True)

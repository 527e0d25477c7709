"""Exclusive locks between processes on one machine (or one shared file system with working ``flock``), so two
processes never do the same work at once: the bench takes one per cell before it trains it.

The lock is ``fcntl.flock`` on a small file that is never deleted (deleting a lock file while someone waits on it
would let a third process lock a new file of the same name). The kernel drops the lock when its holder exits, even
on SIGKILL, so a killed run never leaves a cell locked. Where ``fcntl`` does not exist (Windows) the lock is a
no-op: there one cache serves one process.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def held(path: str | Path, what: str, echo: Callable[[str], None] = print) -> Iterator[bool]:
    """Hold the exclusive lock on file ``path`` for the block; ``what`` names the work in the line ``echo`` gets
    when another process holds it (this one then waits until it is free). Yields True when it had to wait (the
    other process may have done the work meanwhile: check again), else False."""
    path = Path(path)
    if fcntl is None:
        yield False
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        waited = False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            echo(f"{what} is being computed by another process (pid {holder}); waiting for it to finish")
            fcntl.flock(fd, fcntl.LOCK_EX)
            waited = True
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield waited
    finally:
        os.close(fd)  # releases the lock

"""CPU work split over Python threads, each running torch ops single-threaded.

Used by the metrics and by the Lab layer's CPU path (``colorbench.color``).

Why: the metrics run many small ops (pieces of ~32k pixels, so the working set stays in cache). With torch's
OpenMP intra-op threads every small op ends in a barrier; on a machine whose cores are also busy with other work a
descheduled thread stalls every barrier, and a 2-thread SSIM measured here ran 30× slower than on one thread.
So during :func:`cpu_map` torch's intra-op threads are set to 1 (and restored afterwards), and the pieces are
spread over ``torch.get_num_threads()`` Python worker threads instead (torch releases the GIL inside ops). Results
do not depend on the thread count: the pieces are the same and each is computed by one thread.

Side effect, by design: while a ``cpu_map`` runs, ``torch.get_num_threads()`` is 1 for the whole process.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

import torch

T = TypeVar("T")
R = TypeVar("R")

_local = threading.local()
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _mark_worker() -> None:
    _local.worker = True


def _get_pool(size: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    if _pool is None or _pool_size != size:
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool = ThreadPoolExecutor(size, thread_name_prefix="colorbench-metrics", initializer=_mark_worker)
        _pool_size = size
    return _pool


def cpu_map(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[fn(x) for x in items]``, in order, on CPU worker threads (see the module docstring)."""
    items = list(items)
    if getattr(_local, "worker", False) or getattr(_local, "inside", False):
        return [fn(x) for x in items]  # nested call: already inside a window
    threads = torch.get_num_threads()
    _local.inside = True
    torch.set_num_threads(1)
    try:
        if threads <= 1 or len(items) <= 1:
            return [fn(x) for x in items]
        with _lock:
            pool = _get_pool(threads)
        return list(pool.map(fn, items))
    finally:
        torch.set_num_threads(threads)
        _local.inside = False

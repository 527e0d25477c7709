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
_open = 0  # cpu_map calls in progress (from any application thread)
_saved_threads = 1


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


def _enter() -> int:
    """Open the single-threaded window; returns the thread count to restore (the first caller's)."""
    global _open, _saved_threads
    with _lock:
        if _open == 0:
            _saved_threads = torch.get_num_threads()
            torch.set_num_threads(1)
        _open += 1
        return _saved_threads


def _leave() -> None:
    global _open
    with _lock:
        _open -= 1
        if _open == 0:
            torch.set_num_threads(_saved_threads)


def cpu_map(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[fn(x) for x in items]``, in order, on CPU worker threads (see the module docstring).

    Calls from several application threads at once share one window (counted), so the thread count the first
    one saw is the one restored when the last one leaves."""
    items = list(items)
    if getattr(_local, "worker", False) or getattr(_local, "inside", False):
        return [fn(x) for x in items]  # nested call: already inside a window
    _local.inside = True
    threads = _enter()
    try:
        if threads <= 1 or len(items) <= 1:
            return [fn(x) for x in items]
        with _lock:
            pool = _get_pool(threads)
        return list(pool.map(fn, items))
    finally:
        _leave()
        _local.inside = False

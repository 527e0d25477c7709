"""Runtime and memory of a method's ``colorize`` at given image sizes.

Sizes are ``(width, height)`` as the C2F paper writes them ("750×500" is 750 wide, 500 high); the input is one
image, ``[1,1,height,width]`` L/50-1 (batch 1, as the paper times it). For each size: ``warmup`` untimed calls,
then ``repeats`` timed calls, reporting the median. On CUDA, time comes from CUDA events around each call after a
synchronise; on other devices from ``time.perf_counter`` around the call (after a synchronise on MPS).

Peak memory, honestly labelled in ``memory_kind``:

* CUDA: ``torch.cuda.max_memory_allocated`` over the calls, minus what was allocated before them
  (``"cuda_max_allocated"``): tensors only, not the caching allocator's reserve or the CUDA context.
* CPU: the peak of the process's resident set size (RSS) above its value when profiling began (the method built,
  before its first call), sampled every ~1 ms by a background thread during the warm-up calls, stopped before
  the timed ones (``"cpu_peak_rss_growth"``); free memory the process kept from earlier work is handed back to the OS
  first (:func:`release_free_memory`). tracemalloc cannot see torch's allocator, so RSS is the honest
  measure; it misses peaks shorter than the sampling interval. Measured from one baseline, a later size never
  reads 0 because the allocator kept an earlier size's memory (it can only over-state a size smaller than an
  earlier one), so profile sizes in ascending order (the default).
* elsewhere: not measured (None).

A size that does not fit (``torch.OutOfMemoryError``, ``MemoryError``, or a RuntimeError saying 'out of memory' /
'can't allocate memory') gives a row with ``status = "out of memory"`` instead of an exception. On the CPU, where an
over-large allocation usually meets the kernel's OOM killer rather than an exception, a size whose peak memory,
projected from the smaller sizes' peak RSS growth per pixel (x 1.25), exceeds the available memory is not run: its
row says "out of memory" with a ``note`` giving both figures. Give sizes in ascending order for this to help.
"""
from __future__ import annotations

import os
import statistics
import threading
import time
from typing import Any, Sequence

import torch

from colorbench.method import Method

DEFAULT_SIZES: tuple[tuple[int, int], ...] = ((256, 256), (750, 500), (1500, 1000), (3000, 2000), (6000, 4000))
"""(width, height): 256×256 and the C2F paper's Table 1 resolutions."""

OOM = "out of memory"


def _rss_bytes() -> int | None:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        pass
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


class _RssSampler:
    """Samples RSS in a background thread; ``peak`` is the highest value seen since ``start``."""

    def __init__(self, interval_s: float = 0.001) -> None:
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "_RssSampler":
        self.peak = _rss_bytes() or 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes() or 0)
            self._stop.wait(self.interval_s)

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, _rss_bytes() or 0)


def release_free_memory() -> None:
    """Give the C allocator's free pages back to the OS (glibc's ``malloc_trim``; a no-op elsewhere), so that RSS
    growth measures this call's memory, not memory an earlier one freed but the process kept."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        trim = getattr(libc, "malloc_trim", None)
    except OSError:
        return
    if trim is not None:
        trim(0)


CPU_MEMORY_MARGIN = 1.25  # projected peak memory x this must fit in the available memory


def _available_memory_mb() -> float | None:
    """Memory the OS could still give this process (MB), or None when psutil is missing."""
    try:
        import psutil
    except ImportError:
        return None
    return psutil.virtual_memory().available / 2**20


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _time_call(method: Method, L: torch.Tensor) -> float:
    """One ``colorize`` call in milliseconds."""
    device = L.device
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        start.record()
        method.colorize(L)
        end.record()
        torch.cuda.synchronize(device)
        return float(start.elapsed_time(end))
    _sync(device)
    t0 = time.perf_counter()
    method.colorize(L)
    _sync(device)
    return (time.perf_counter() - t0) * 1e3


def parameter_count(method: torch.nn.Module) -> int:
    """Number of parameters of every network the method holds (shared parameters counted once)."""
    return sum(p.numel() for p in method.parameters())


def _profile_size(method: Method, width: int, height: int, device: torch.device, warmup: int,
                  repeats: int, rss_base: int | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"width": width, "height": height, "size": f"{width}×{height}", "device": str(device),
                           "status": "ok", "ms_per_image": None, "images_per_s": None, "peak_memory_mb": None,
                           "memory_kind": None, "repeats": repeats}
    times: list[float] = []
    sampler = _RssSampler() if device.type == "cpu" else None
    try:
        L = torch.zeros(1, 1, height, width, device=device)  # mid-grey L/50-1 = 0; content does not change the cost
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
        rss_before = (rss_base if rss_base is not None else _rss_bytes()) if sampler is not None else None
        # Memory is sampled during the warm-up calls (or the timed calls when there is no warm-up) and the
        # sampler is stopped before timing: its thread takes the GIL every millisecond.
        if sampler is not None:
            sampler.__enter__()
        try:
            for _ in range(warmup):
                _time_call(method, L)
            if warmup == 0:
                times = [_time_call(method, L) for _ in range(repeats)]
        finally:
            if sampler is not None:
                sampler.__exit__(None, None, None)
        if warmup > 0:
            times = [_time_call(method, L) for _ in range(repeats)]
        if device.type == "cuda":
            row["peak_memory_mb"] = (torch.cuda.max_memory_allocated(device) - base) / 2**20
            row["memory_kind"] = "cuda_max_allocated"
        elif sampler is not None and rss_before is not None:
            row["peak_memory_mb"] = max(0, sampler.peak - rss_before) / 2**20
            row["memory_kind"] = "cpu_peak_rss_growth"
    except Exception as exc:  # noqa: BLE001 - only out-of-memory is swallowed; everything else re-raises
        if not _is_oom(exc):
            raise
        row["status"] = OOM
        if device.type == "cuda":
            torch.cuda.empty_cache()
        return row
    ms = statistics.median(times)
    row["ms_per_image"] = ms
    row["ms_min"], row["ms_max"] = min(times), max(times)
    row["images_per_s"] = 1e3 / ms if ms > 0 else float("inf")
    return row


@torch.no_grad()
def profile_colorize(method: Method, sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
                     device: torch.device | str | None = None, warmup: int = 1, repeats: int = 3) -> list[dict]:
    """Time ``method.colorize`` on one image at each ``(width, height)`` in ``sizes``.

    Returns one dict per size: ``width``, ``height``, ``size`` ("750×500"), ``device``, ``status`` ("ok" or
    "out of memory"), ``ms_per_image`` (median of ``repeats``), ``ms_min`` / ``ms_max`` (their spread),
    ``images_per_s``, ``peak_memory_mb`` and ``memory_kind`` (see the module docstring), ``params`` (parameter count),
    ``repeats``. ``device`` defaults to the method's device; the method is moved there and put in eval mode (its
    previous training mode is restored afterwards).
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"profile_colorize: need repeats >= 1 and warmup >= 0; got repeats={repeats}, warmup={warmup}")
    for size in sizes:
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"profile_colorize: sizes are (width, height) pairs of positive ints; got {size!r}")
    device = torch.device(device) if device is not None else method.device
    was_training = method.training
    method.to(device).eval()
    params = parameter_count(method)
    rows = []
    mb_per_pixel = 0.0  # the largest peak-RSS growth per pixel seen so far (CPU), to foresee a size that cannot fit
    if device.type == "cpu":
        release_free_memory()
    rss_base = _rss_bytes() if device.type == "cpu" else None
    try:
        for w, h in sizes:
            w, h = int(w), int(h)
            projected_mb = mb_per_pixel * w * h * CPU_MEMORY_MARGIN
            available_mb = _available_memory_mb() if device.type == "cpu" else None
            if available_mb is not None and projected_mb > available_mb:
                # On Linux an over-large CPU allocation usually meets the OOM killer, not a MemoryError: skip it.
                rows.append({"width": w, "height": h, "size": f"{w}×{h}", "device": str(device), "status": OOM,
                             "ms_per_image": None, "images_per_s": None, "peak_memory_mb": None,
                             "memory_kind": None, "repeats": 0,
                             "note": f"skipped: needs ~{projected_mb:,.0f} MB by the smaller sizes' peak memory, "
                                     f"{available_mb:,.0f} MB available"})
                continue
            row = _profile_size(method, w, h, device, warmup, repeats, rss_base)
            if row["memory_kind"] == "cpu_peak_rss_growth" and row["peak_memory_mb"]:
                mb_per_pixel = max(mb_per_pixel, row["peak_memory_mb"] / (w * h))
            rows.append(row)
    finally:
        method.train(was_training)
    for row in rows:
        row["params"] = params
    return rows

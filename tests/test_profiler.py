"""profile_colorize with a trivial 1-conv method defined here: no dependency on the real methods."""
from __future__ import annotations

import dataclasses
import time

import pytest
import torch
from torch import nn

from colorbench.method import Method
from colorbench.profiler import DEFAULT_SIZES, OOM, parameter_count, profile_colorize


class OneConv(Method):
    """colorize = tanh(conv3x3(L)); remembers the shapes it saw; optionally holds a big buffer for a while."""

    @dataclasses.dataclass
    class Config:
        hold_mb: int = 0
        oom_above_pixels: int = 0  # simulate a device running out of memory above this many pixels
        oom_kind: str = "torch"

    def __init__(self, config=None):
        super().__init__(config)
        self.net = nn.Conv2d(1, 2, 3, padding=1)
        self.seen: list[tuple[int, ...]] = []

    def predict(self, L: torch.Tensor) -> torch.Tensor:
        self.seen.append(tuple(L.shape))
        cfg = self.config
        if cfg.oom_above_pixels and L.shape[-1] * L.shape[-2] > cfg.oom_above_pixels:
            if cfg.oom_kind == "torch":
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB")
            if cfg.oom_kind == "runtime":
                raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")
            raise RuntimeError("some other failure")
        if cfg.hold_mb:
            big = torch.ones(cfg.hold_mb * 2**18)  # written, so resident
            time.sleep(0.05)  # long enough for the 1 ms sampler
            del big
        return torch.tanh(self.net(L))


def test_rows_shapes_and_call_counts():
    m = OneConv()
    rows = profile_colorize(m, sizes=[(40, 24), (17, 33)], device="cpu", warmup=2, repeats=3)
    assert [r["size"] for r in rows] == ["40×24", "17×33"]
    # (width, height) -> [1,1,height,width]; warm-up + repeats calls per size
    assert m.seen == [(1, 1, 24, 40)] * 5 + [(1, 1, 33, 17)] * 5
    for r in rows:
        assert r["status"] == "ok" and r["device"] == "cpu" and r["repeats"] == 3
        assert r["ms_per_image"] > 0 and r["images_per_s"] == pytest.approx(1e3 / r["ms_per_image"])
        assert r["params"] == 1 * 2 * 9 + 2 == parameter_count(m)
        assert r["memory_kind"] == "cpu_peak_rss_growth" and r["peak_memory_mb"] >= 0


def test_cpu_peak_memory_sees_a_large_allocation(trimmed_heap):
    rows = profile_colorize(OneConv(OneConv.Config(hold_mb=96)), sizes=[(16, 16)], device="cpu", repeats=1)
    assert rows[0]["peak_memory_mb"] >= 64, rows[0]  # 96 MB held for 50 ms
    small = profile_colorize(OneConv(), sizes=[(16, 16)], device="cpu", repeats=1)
    assert small[0]["peak_memory_mb"] < 32, small[0]


@pytest.mark.parametrize("kind", ("torch", "runtime"))
def test_out_of_memory_is_a_row_not_a_crash(kind):
    m = OneConv(OneConv.Config(oom_above_pixels=1000, oom_kind=kind))
    rows = profile_colorize(m, sizes=[(16, 16), (64, 64), (20, 20)], device="cpu", repeats=1)
    assert [r["status"] for r in rows] == ["ok", OOM, "ok"]
    assert rows[1]["ms_per_image"] is None and rows[1]["params"] == 20 and rows[1]["size"] == "64×64"


def test_other_errors_propagate_and_training_mode_is_restored():
    m = OneConv(OneConv.Config(oom_above_pixels=100, oom_kind="other"))
    m.train()
    with pytest.raises(RuntimeError, match="some other failure"):
        profile_colorize(m, sizes=[(16, 16)], device="cpu")
    assert m.training
    profile_colorize(OneConv(), sizes=[(8, 8)])
    with pytest.raises(ValueError, match="repeats"):
        profile_colorize(m, sizes=[(8, 8)], repeats=0)
    with pytest.raises(ValueError, match=r"\(width, height\)"):
        profile_colorize(m, sizes=[(8,)])


def test_default_sizes_are_the_c2f_table():
    assert DEFAULT_SIZES == ((256, 256), (750, 500), (1500, 1000), (3000, 2000), (6000, 4000))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_rows_use_max_allocated():
    rows = profile_colorize(OneConv(), sizes=[(256, 256)], device="cuda", repeats=2)
    assert rows[0]["memory_kind"] == "cuda_max_allocated" and rows[0]["peak_memory_mb"] > 0


def test_cpu_size_projected_past_available_memory_is_skipped_not_run(monkeypatch, trimmed_heap):
    """On the CPU the OOM killer, not an exception, meets an over-large allocation: such a size must not run."""
    import colorbench.profiler as profiler

    m = OneConv(OneConv.Config(hold_mb=64))  # ~64 MB peak at the first size
    monkeypatch.setattr(profiler, "_available_memory_mb", lambda: 10_000.0)
    rows = profile_colorize(m, sizes=[(16, 16), (1600, 1600)], device="cpu", warmup=1, repeats=1)
    assert rows[0]["status"] == "ok" and rows[0]["peak_memory_mb"] > 32
    # 1600x1600 has 10,000x the pixels: projected far past 10 GB, so it is reported, never called
    assert rows[1]["status"] == OOM and rows[1]["ms_per_image"] is None
    assert "available" in rows[1]["note"] and "MB" in rows[1]["note"]
    assert all(shape == (1, 1, 16, 16) for shape in m.seen)

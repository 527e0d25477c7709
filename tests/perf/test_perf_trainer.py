"""Trainer overhead: ``colorbench.train`` vs a bare PyTorch loop over the same method, data and steps.

The bare loop is what a researcher would write (80 steps, batch 8, 32², the method's test configuration): a
shuffling DataLoader and ``method.train_step(batch, step)``.
The trainer adds per-step reseeding, the seeded batch plan, the CSV loss log, the progress bar and a final
checkpoint. Rounds alternate (bare, trainer, bare, ...) so machine load hits both alike; the benchmark times the
trainer and ``extra_info`` holds the bare median and the overhead ratio (target: at most 1.05). Run by `make perf`.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

import colorbench
from colorbench.train import train

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from trainer_support import one_thread  # noqa: E402

pytestmark = pytest.mark.perf
STEPS, BATCH, SIZE = 80, 8, 32
CANDIDATES = [m for m in ("unet_l1", "pix2pix") if m in colorbench.list_methods()]


def _method(name: str):
    from colorbench.registry import create_method, get_method

    torch.manual_seed(0)
    cls = get_method(name)
    return create_method(name, **{**cls.test_overrides, "image_size": SIZE})


def _data():
    from colorbench.data import build_dataset

    ds = build_dataset("synthetic", "train", size=SIZE, seed=0, length=STEPS * BATCH)
    items = [ds[i] for i in range(len(ds))]  # pre-rendered: both loops read the same in-memory items

    class InMemory(torch.utils.data.Dataset):
        name = "synthetic"
        num_classes = ds.num_classes

        def __len__(self):
            return len(items)

        def __getitem__(self, i):
            return items[i]

    return InMemory()


def _bare(name: str, data) -> float:
    method = _method(name).train()
    loader = DataLoader(data, batch_size=BATCH, shuffle=True, drop_last=True)
    start = time.perf_counter()
    for step, batch in enumerate(loader):
        method.train_step(batch, step)
    return time.perf_counter() - start


def _trainer(name: str, data, out_dir: Path) -> float:
    method = _method(name)
    start = time.perf_counter()
    train(method, data, steps=STEPS, batch_size=BATCH, size=SIZE, device="cpu", out_dir=out_dir, progress=True)
    return time.perf_counter() - start


@pytest.mark.parametrize("name", CANDIDATES)
def test_trainer_overhead_vs_bare_loop(benchmark, tmp_path, name):
    data = _data()
    bare_times: list[float] = []
    rounds = iter(range(100))

    def setup():  # untimed by the benchmark: the bare loop, timed by hand, right before each trainer round
        bare_times.append(_bare(name, data))
        return (name, data, tmp_path / f"r{next(rounds)}"), {}

    with one_thread():
        _bare(name, data)  # warm-up: allocator, kernels
        benchmark.pedantic(_trainer, setup=setup, rounds=7, iterations=1)
    stats = benchmark.stats.stats
    ratio_min = stats.min / min(bare_times)  # the least disturbed rounds: the fairest view on a shared machine
    ratio_median = stats.median / statistics.median(bare_times)
    benchmark.extra_info.update(bare_min_s=min(bare_times), bare_median_s=statistics.median(bare_times),
                                overhead_ratio_min=ratio_min, overhead_ratio_median=ratio_median,
                                steps=STEPS, batch=BATCH, size=SIZE)
    print(f"\n{name}: bare {min(bare_times) * 1e3 / STEPS:.1f} ms/step, trainer {stats.min * 1e3 / STEPS:.1f} "
          f"ms/step (min of {len(bare_times)} rounds), ratio {ratio_min:.3f} (median ratio {ratio_median:.3f}; "
          "target <= 1.05)")

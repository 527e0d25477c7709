"""Which items make each batch: a pure function of (seed, epoch, rank), so a resumed run sees the same batches.

Nothing depends on a data loader's internal state: the order of epoch ``e`` is a permutation drawn from a generator
seeded with ``(seed, e)``; under DDP each rank takes every ``world``-th item of it (what ``DistributedSampler``
does), and the trailing partial batch is dropped. Step ``s`` therefore always sees the same items, whether the
run went straight through or was resumed.
"""
from __future__ import annotations

from typing import Any, Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from colorbench.errors import UserError


_M64 = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def seed_for(*parts: int) -> int:
    """A 63-bit seed mixed from integers (SplitMix64 over the parts, a few µs): independent streams per part.

    (NumPy's ``SeedSequence`` does the same job but cost ~1 ms per call on a loaded machine: 5% of a small step.)"""
    h = 0x6A09E667F3BCC908
    for p in parts:
        h = _splitmix64(h ^ _splitmix64(int(p) & _M64))
    return h >> 1


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """``[n]`` int64: the item order of ``epoch`` (a permutation, pure function of ``seed`` and ``epoch``)."""
    g = torch.Generator().manual_seed(seed_for(seed, epoch, 0xC010))
    return torch.randperm(n, generator=g)


class BatchPlan:
    """The items of every step: ``steps_per_epoch`` batches of ``batch_size`` per rank, in a seeded order."""

    def __init__(self, n: int, batch_size: int, seed: int, *, rank: int = 0, world: int = 1) -> None:
        if batch_size < 1:
            raise UserError(f"batch size must be at least 1; got {batch_size}")
        self.n, self.batch_size, self.seed, self.rank, self.world = n, batch_size, seed, rank, world
        self.steps_per_epoch = n // (batch_size * world)
        if self.steps_per_epoch == 0:
            raise UserError(f"the training set has {n} items, fewer than one batch ({batch_size} x {world} "
                            f"process(es)); lower --batch-size or use a larger dataset")

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """Every batch (lists of item indices) that this rank trains on in ``epoch``."""
        order = epoch_order(self.n, self.seed, epoch)
        order = order[: self.steps_per_epoch * self.batch_size * self.world][self.rank :: self.world]
        return order.view(self.steps_per_epoch, self.batch_size).tolist()

    def segments(self, start: int, end: int) -> Iterator[tuple[int, int, list[list[int]]]]:
        """``(epoch, first_step, batches)`` covering steps ``start`` .. ``end - 1``, one segment per epoch."""
        step = start
        while step < end:
            epoch, offset = divmod(step, self.steps_per_epoch)
            take = min(self.steps_per_epoch - offset, end - step)
            yield epoch, step, self.epoch_batches(epoch)[offset : offset + take]
            step += take


def iterate(dataset: Dataset, plan: BatchPlan, start: int, end: int, *, num_workers: int = 0,
            pin_memory: bool = False) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """``(step, epoch, batch)`` for steps ``start`` .. ``end - 1``; ``dataset.set_epoch`` is called per epoch.

    A dataset that holds its items in memory may define ``get_batch(indices) -> batch`` (the collated dict for
    those items, tensors stacked, augmentation applied as in ``__getitem__``): the trainer then calls it directly,
    with no DataLoader, no per-item collation and no worker processes (the fast path for cached data)."""
    direct = callable(getattr(dataset, "get_batch", None))
    for epoch, first, batches in plan.segments(start, end):
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        if direct:
            for i, indices in enumerate(batches):
                batch = dataset.get_batch(indices)
                if pin_memory:
                    batch = {k: v.pin_memory() if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
                yield first + i, epoch, batch
            continue
        loader = DataLoader(dataset, batch_sampler=batches, num_workers=num_workers, pin_memory=pin_memory,
                            persistent_workers=False)
        for i, batch in enumerate(loader):
            yield first + i, epoch, batch

"""Shared by the trainer/checkpoint/CLI tests: a tiny registered method and a tiny in-memory dataset.

Not a test module (no ``test_`` prefix). ``registered(cls, name)`` registers a method class for one test and removes
it afterwards, so ``colorbench.list_methods()`` seen by other tests is unchanged.
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Iterator

import torch
from torch import nn
from torch.utils.data import Dataset

from colorbench import registry
from colorbench.color import rgb_to_network
from colorbench.method import Method


@dataclasses.dataclass
class TinyConfig:
    width: int = 8
    lr: float = 1e-2
    dropout: float = 0.2      # consumes the torch RNG in every step: resume must restore it exactly
    decay_every: int = 10     # step-decay schedule computed from `step` inside the method
    kernel: tuple[int, int] = (3, 3)


class Tiny(Method):
    """Conv-BN-ReLU-dropout-conv from L to ab, L1 loss, Adam with a step decay."""

    Config = TinyConfig
    variants = {"default": {}, "wide": {"width": 16}}
    test_overrides = {"width": 4}
    watch_loss = "l1"

    def __init__(self, config: TinyConfig | None = None, num_classes: int | None = None) -> None:
        super().__init__(config, num_classes)
        c = self.config
        pad = (c.kernel[0] // 2, c.kernel[1] // 2)
        self.net = nn.Sequential(nn.Conv2d(1, c.width, c.kernel, padding=pad), nn.BatchNorm2d(c.width), nn.ReLU(),
                                 nn.Dropout2d(c.dropout), nn.Conv2d(c.width, 2, c.kernel, padding=pad), nn.Tanh())
        self.opt = torch.optim.Adam(self.net.parameters(), lr=c.lr)

    def train_step(self, batch, step):
        for group in self.opt.param_groups:
            group["lr"] = self.config.lr * 0.5 ** (step // self.config.decay_every)
        loss = (self.net(batch["L"]) - batch["ab"]).abs().mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"l1": loss.item()}

    def predict(self, L):
        return self.net(L)


@contextlib.contextmanager
def registered(cls: type[Method] = Tiny, name: str = "test_tiny") -> Iterator[type[Method]]:
    registry.discover()
    registry.register_method(name, description="tiny test method", source="colorbench tests")(cls)
    try:
        yield cls
    finally:
        registry._REGISTRY.pop(name, None)


class TinyData(Dataset):
    """``n`` items of ``size``² whose ab is a smooth function of L; train-split flips are a pure function of
    (seed, epoch, index)."""

    name = "tiny"
    num_classes = 3

    def __init__(self, n: int = 48, size: int = 16, seed: int = 0, split: str = "train") -> None:
        g = torch.Generator().manual_seed(1234 + ("train", "val", "test").index(split))
        low = torch.rand(n, 3, 4, 4, generator=g)
        rgb = nn.functional.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
        self.L, self.ab = rgb_to_network(rgb.clamp(0, 1))
        self.rgb, self.seed, self.epoch, self.split = rgb, seed, 0, split

    def __len__(self) -> int:
        return self.L.shape[0]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, i: int) -> dict:
        L, ab, rgb = self.L[i], self.ab[i], self.rgb[i]
        if self.split == "train" and (hash((self.seed, self.epoch, i)) & 1):
            L, ab, rgb = L.flip(-1), ab.flip(-1), rgb.flip(-1)
        return {"L": L, "ab": ab, "rgb": rgb, "index": i, "label": i % 3}


def weights(method: Method) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in method.state_dict().items()}


def max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].detach().double() - b[k].detach().double()).abs().max()) if a[k].numel() else 0.0 for k in a)


def kill_at(step_to_die: int, signum: int = 9):
    """An ``on_step`` callback that sends its own process ``signum`` after ``step_to_die`` steps (default SIGKILL: a
    crash, no cleanup)."""
    import os

    def on_step(done: int, losses: dict) -> None:
        if done == step_to_die:
            os.kill(os.getpid(), signum)

    return on_step


def as_parent() -> None:
    """In a spawned child, the numeric mode of the test process (tests/conftest.py): the pinned variables came with
    the environment, the torch flags must be set here, before the first tensor op."""
    import os

    from colorbench import numeric

    if os.environ.get("MKL_CBWR") == numeric.environ("portable")["MKL_CBWR"]:
        try:
            numeric.apply("portable")
        except numeric.UnsupportedCPU:
            numeric.relax()


def train_then_die(out_dir: str, steps: int, ckpt_every: int, die_at: int, threads: int) -> None:
    """Child-process body for the resume test: train Tiny and get killed at ``die_at``."""
    from colorbench.train import resolve, train

    as_parent()
    torch.set_num_threads(threads)  # as the parent: thread count changes float summation order
    with registered():
        train(resolve("test_tiny", batch_size=8), TinyData(), steps=steps, seed=3, out_dir=out_dir,
              ckpt_every=ckpt_every, progress=False, on_step=kill_at(die_at))


def ddp_worker(rank: int, world: int, port: int, out_dir: str, result_dir: str, die_at: int = 0,
               signal_rank: int = -1, signum: int = 9) -> None:
    """Child-process body for the DDP tests: one gloo rank training Tiny; saves its parameters for comparison.
    ``die_at``: send ``signum`` (default SIGKILL: a crash, no cleanup, no final checkpoint) after that step, to every
    rank or only to ``signal_rank``. A rank the trainer stopped on a signal saves ``{"stopped": signum}`` instead."""
    import os

    from colorbench.train import resolve, train
    from colorbench.train.loop import Stopped

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    as_parent()
    torch.set_num_threads(1)
    signalled = die_at and signal_rank in (-1, rank)
    with registered():
        try:
            result = train(resolve("test_tiny", batch_size=4), TinyData(), steps=6, seed=5, out_dir=out_dir,
                           ckpt_every=3, val_every=3, val_dataset=TinyData(split="val"), progress=False,
                           device="cpu", on_step=kill_at(die_at, signum) if signalled else None)
        except Stopped as stopped:
            torch.save({"stopped": int(stopped.signum)}, os.path.join(result_dir, f"rank{rank}.pt"))
            return
    params = {k: v.detach().clone() for k, v in result.method.named_parameters()}
    torch.save({"params": params, "world": result.world_size, "steps": result.steps,
                "images_per_s": result.images_per_s}, os.path.join(result_dir, f"rank{rank}.pt"))


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one intra-op thread: on a loaded 2-core machine, 2 OpenMP threads with the default (active)
    wait policy made small training steps ~40x slower (0.25 s -> 10 s per c2f test step, measured)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)

"""The shared conformance suite: every registered method, with no per-method code.

Each method is built with ``variant="default"`` and its own ``test_overrides`` (a tiny configuration), trained by
``colorbench.train`` on the generated ``synthetic`` dataset at its test crop (the config's ``image_size`` when it
has one, else 32; clamped to 16-32), batch 8, and must: train 5 steps without NaN; make its ``watch_loss`` fall over
50 steps (mean of the last 10 below the mean of the first 10; skipped for ``trainable = False``); keep H×W in
``colorize`` for a 37×53 input and for batch 1; give identical outputs after save -> load; give identical weights
for the same seed on CPU.
"""
from __future__ import annotations

import math

import pytest
import torch

import colorbench
from colorbench.checkpoint import load_method
from colorbench.registry import build_config, get_method
from colorbench.train import train

METHODS = colorbench.list_methods()
BATCH, STEPS = 8, 50
pytestmark = pytest.mark.timeout(300)


def _crop(name: str) -> int:
    cls = get_method(name)
    size = getattr(build_config(cls, cls.test_overrides), "image_size", None) or 32
    return int(min(max(size, 16), 32))


def _train(name: str, steps: int, seed: int = 0, out_dir=None):
    from colorbench.data import build_dataset

    cls = get_method(name)
    size = _crop(name)
    data = build_dataset("synthetic", "train", size=size, seed=seed, length=64)
    return train(name, data, variant="default", overrides=cls.test_overrides, steps=steps, batch_size=BATCH,
                 size=size, seed=seed, device="cpu", out_dir=out_dir, ckpt_every=None, progress=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """name -> TrainResult of the suite's run (50 steps, or 5 for a method that does not learn), cached."""
    cache = {}

    def get(name: str):
        if name not in cache:
            steps = STEPS if get_method(name).trainable else 5
            cache[name] = _train(name, steps, out_dir=tmp_path_factory.mktemp(name))
        return cache[name]

    return get


def _L(b: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 1, h, w, generator=g) * 2 - 1  # L/50-1


@pytest.mark.parametrize("name", METHODS)
def test_five_steps_without_nan(trained, name):
    result = trained(name)
    first = result.history[:5]
    assert len(first) == 5 and all(first[0].keys() == r.keys() for r in first)
    losses = {k: v for r in first for k, v in r.items() if k not in ("step", "epoch", "images_per_s", "elapsed_s")}
    assert losses, f"{name}.train_step returned no losses"
    assert all(isinstance(v, float) and math.isfinite(v) for r in first for v in r.values() if isinstance(v, float))
    assert all(torch.isfinite(p).all() for p in result.method.parameters())
    assert all(torch.isfinite(b).all() for b in result.method.buffers() if b.is_floating_point())


@pytest.mark.parametrize("name", METHODS)
def test_watch_loss_falls(trained, name):
    cls = get_method(name)
    if not cls.trainable:
        pytest.skip(f"{name} does not learn (trainable = False)")
    history = trained(name).history
    assert cls.watch_loss in history[0], f"{name}.watch_loss={cls.watch_loss!r} is not among {sorted(history[0])}"
    series = [r[cls.watch_loss] for r in history]
    first, last = sum(series[:10]) / 10, sum(series[-10:]) / 10
    assert last < first, f"{name}: {cls.watch_loss} did not fall over {STEPS} steps ({first:.4g} -> {last:.4g})"


@pytest.mark.parametrize("name", METHODS)
def test_colorize_keeps_size_for_odd_sizes_and_batch_one(trained, name):
    method = trained(name).method.eval()
    for shape in [(1, 37, 53), (2, 37, 53), (1, 32, 32)]:
        ab = method.colorize(_L(*shape))
        assert ab.shape == (shape[0], 2, shape[1], shape[2]), f"{name}: colorize of {shape} gave {tuple(ab.shape)}"
        assert ab.dtype == torch.float32 and torch.isfinite(ab).all()
        assert not ab.requires_grad


@pytest.mark.parametrize("name", METHODS)
def test_save_then_load_gives_identical_outputs(trained, name):
    result = trained(name)
    loaded = load_method(result.checkpoint)
    assert type(loaded) is type(result.method) and loaded.config == result.method.config
    L = _L(1, 37, 53, seed=1)
    torch.manual_seed(0)  # a method may sample noise in colorize (pix2pix's test-time dropout)
    before = result.method.eval().colorize(L)
    torch.manual_seed(0)
    after = loaded.colorize(L)
    assert torch.equal(before, after)


@pytest.mark.parametrize("name", METHODS)
def test_same_seed_same_result(name):
    a, b = _train(name, 3, seed=1), _train(name, 3, seed=1)
    sa, sb = a.method.state_dict(), b.method.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa), f"{name}: same seed, different weights"
    assert a.losses == b.losses

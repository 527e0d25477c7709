"""Losses left on the device and whole-step CUDA graphs, on the CPU.

* a step that returns tensors trains, logs and checkpoints bit for bit as the same step returning floats;
* the loss book reads every step since the last read in order, so the non-finite watch names the same step;
* ``--cuda-graphs``' static-buffer, capture and replay logic, driven by a CPU backend whose "capture" keeps the step
  and whose "replay" runs it again with the capture-time arguments (what a CUDA graph does), ends on the weights of
  eager training; a schedule the method does not declare, or a batch not copied into the static inputs, does not.
"""
from __future__ import annotations

import csv
import math

import pytest
import torch

from colorbench.conformance import train_tiny
from colorbench.registry import get_method
from colorbench.train.finite import FiniteWatch, NonFiniteLoss
from colorbench.train.lossbook import LossBook
from trainer_support import Tiny, TinyData, registered

pytestmark = pytest.mark.timeout(300)


def _floats(method_cls):
    """``method_cls`` with a ``train_step`` that returns floats (the reference path: what methods did before)."""

    class Floats(method_cls):
        def train_step(self, batch, step):
            losses = super().train_step(batch, step)
            return {k: v.item() if isinstance(v, torch.Tensor) else v for k, v in losses.items()}

    return Floats


def _state(result):
    return {k: v.clone() for k, v in result.method.state_dict().items()}


def _same_weights(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _log(path):
    with open(path / "train_log.csv") as f:
        return [{k: v for k, v in r.items() if k not in ("images_per_s", "elapsed_s")} for r in csv.DictReader(f)]


@pytest.mark.parametrize("name", ["pix2pix", "unet_l1"])
def test_tensor_losses_train_log_and_checkpoint_as_floats_did(name, tmp_path):
    settings = {"log_every": 2, "ckpt_every": 3}  # read points at 2, 3, 4, 5 (the end): not every step
    cls = get_method(name)
    with registered(_floats(cls), f"test_{name}_floats"):
        floats = train_tiny(f"test_{name}_floats", 5, out_dir=tmp_path / "floats", **settings)
    tensors = train_tiny(name, 5, out_dir=tmp_path / "tensors", **settings)
    assert _same_weights(_state(floats), _state(tensors))
    assert floats.losses == tensors.losses and all(isinstance(v, float) for v in tensors.losses.values())
    strip = [{k: v for k, v in r.items() if k not in ("images_per_s", "elapsed_s")} for r in floats.history]
    assert strip == [{k: v for k, v in r.items() if k not in ("images_per_s", "elapsed_s")} for r in tensors.history]
    assert [r["step"] for r in floats.history] == [2, 4, 5]
    assert _log(tmp_path / "floats") == _log(tmp_path / "tensors") and len(_log(tmp_path / "tensors")) == 3
    assert any(isinstance(v, torch.Tensor) for v in tensors.method.train().train_step(_batch(name), 5).values())


def _batches(size):
    from colorbench.data import build_dataset

    return build_dataset("synthetic", "train", size=size, seed=0, length=8)


def _batch(name):
    from colorbench.conformance import crop
    from colorbench.data import build_dataset

    return build_dataset("synthetic", "train", size=crop(name), seed=0, length=4).get_batch([0, 1, 2, 3])


def test_the_loss_book_feeds_the_watch_every_step_in_order():
    seq = [1.0, float("nan"), 0.5, float("inf"), float("nan"), 2.0]
    book = LossBook(FiniteWatch(2))
    for step, v in enumerate(seq, 1):
        book.record(step, {"l": torch.tensor(v), "lr": 0.1} if step != 3 else {"other": torch.tensor(v)})
    assert book.pending and book.watch.streak == 0  # nothing read yet
    assert book.read() is True  # steps 4 and 5 make a streak of 2: stop, and step 6 is not fed
    assert book.watch.first_bad == (4, "l", math.inf) and book.watch.streak == 2
    assert book.latest == {"l": 2.0, "lr": 0.1} and not book.pending
    exact = torch.tensor(1 / 3)
    book = LossBook(FiniteWatch(1))
    book.record(1, {"a": exact, "b": torch.tensor(0.25, dtype=torch.bfloat16)})
    assert book.read() is False and book.latest == {"a": exact.item(), "b": 0.25}
    with pytest.raises(ValueError, match="loss 'v' as a tensor of shape \\(2,\\)"):
        book.record(2, {"v": torch.zeros(2)})


class GoesBad(Tiny):
    """Tiny, whose loss (a tensor) turns NaN from step 3 (1-based)."""

    def train_step(self, batch, step):
        loss = (self.net(batch["L"]) - batch["ab"]).abs().mean()
        if step + 1 >= 3:
            loss = loss * float("nan")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"l1": loss.detach()}


def test_a_nan_left_on_the_device_stops_at_the_next_read_and_names_its_step():
    seen: list[int] = []
    with registered(GoesBad, "test_goes_bad_tensor"):
        from colorbench.train import resolve, train

        with pytest.raises(NonFiniteLoss, match="training stopped at step 3: loss l1 = nan is not finite"):
            train(resolve("test_goes_bad_tensor", batch_size=8), TinyData(), steps=20, log_every=5,
                  progress=False, on_step=lambda done, losses: seen.append(done))
    assert seen[-1] == 5  # trained on to the read point (the fifth step's log row), then stopped

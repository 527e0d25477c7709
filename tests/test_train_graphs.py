"""Losses left on the device and whole-step CUDA graphs, on the CPU.

* a step that returns tensors trains, logs and checkpoints bit for bit as the same step returning floats;
* the loss book reads every step since the last read in order, so the non-finite watch names the same step;
* ``--cuda-graphs``' static-buffer, capture and replay logic, driven by a CPU backend whose "capture" keeps the step
  and whose "replay" runs it again with the capture-time arguments (what a CUDA graph does), ends on the weights of
  eager training; a schedule the method does not declare, or a batch not copied into the static inputs, does not.
"""
from __future__ import annotations

import contextlib
import csv
import math

import pytest
import torch

import colorbench
from colorbench.conformance import train_tiny
from colorbench.errors import UserError
from colorbench.registry import get_method
from colorbench.train import graphs
from colorbench.train.finite import FiniteWatch, NonFiniteLoss
from colorbench.train.lossbook import LossBook
from trainer_support import Tiny, TinyData, registered

pytestmark = pytest.mark.timeout(300)
CAPTURABLE = {"pix2pix", "unet_l1", "unet_l2"}  # every other method says why not


class ReplayOnCPU:
    """A graph backend for the CPU: capture keeps the function, replay calls it (with the capture-time step)."""

    def __init__(self) -> None:
        self.prepared = self.captures = self.replays = 0

    def capturable(self, method):
        self.prepared += 1
        return contextlib.nullcontext()

    def warmup(self):
        return contextlib.nullcontext()

    def capture(self, fn):
        self.captures += 1

        def replay():
            self.replays += 1
            return fn()

        return replay


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


# --------------------------------------------------------------------------------------------- CUDA graphs
def _graphed(monkeypatch, name, steps, **kw):
    fake = ReplayOnCPU()
    monkeypatch.setattr(graphs, "backend_for", lambda device: fake)
    return train_tiny(name, steps, cuda_graphs=True, **kw), fake


def test_replayed_steps_end_on_the_weights_of_eager_steps(monkeypatch):
    eager = train_tiny("pix2pix", 6, log_every=3)  # dropout: each step reseeds, each replay draws anew
    graphed, fake = _graphed(monkeypatch, "pix2pix", 6, log_every=3)
    assert (fake.prepared, fake.captures, fake.replays) == (graphs.WARMUP_STEPS + 1, 1, 6 - graphs.WARMUP_STEPS)
    assert _same_weights(_state(eager), _state(graphed)) and eager.losses == graphed.losses


def test_a_step_decay_is_captured_again_when_the_rate_changes(monkeypatch):
    decay = {"overrides": {"lr_decay_every": 2}}  # the rate changes at (0-based) steps 2, 4, 6
    spec = {"log_every": 4}

    def run(**kw):
        from colorbench.train import resolve, train
        from colorbench.data import build_dataset

        cls = get_method("unet_l1")
        data = build_dataset("synthetic", "train", size=16, seed=0, length=64)
        return train(resolve(cls, overrides={**cls.test_overrides, **decay["overrides"]}, steps=8, batch_size=4,
                             size=16, seed=0, device="cpu", ckpt_every=None, progress=False, **spec, **kw), data)

    eager = run()
    fake = ReplayOnCPU()
    monkeypatch.setattr(graphs, "backend_for", lambda device: fake)
    graphed = run(cuda_graphs=True)
    assert fake.captures == 3 and fake.replays == 8 - graphs.WARMUP_STEPS  # at steps 3 (the first), 4 and 6
    assert _same_weights(_state(eager), _state(graphed))
    assert [r["lr_opt"] for r in graphed.history] == [r["lr_opt"] for r in eager.history]
    # the same run without the key: the graph keeps step 3's rate and the weights part (the check can fail)
    monkeypatch.setattr(get_method("unet_l1"), "capture_key", lambda self, step: None)
    frozen = run(cuda_graphs=True)
    assert not _same_weights(_state(eager), _state(frozen))


def test_each_step_trains_on_its_own_batch_through_the_static_inputs(monkeypatch):
    eager = train_tiny("unet_l1", 6)
    monkeypatch.setattr(graphs.GraphedStep, "_load", lambda self, batch: None)  # replays the captured batch
    stale, _ = _graphed(monkeypatch, "unet_l1", 6)
    assert not _same_weights(_state(eager), _state(stale))


def test_static_inputs_refuse_a_batch_of_another_shape():
    step = graphs.GraphedStep(Tiny(), ReplayOnCPU(), warmup=0)
    step.static = {"L": torch.zeros(2, 1, 16, 16)}
    with pytest.raises(ValueError, match=r"batch 'L' is \(1, 1, 16, 16\).*took \(2, 1, 16, 16\)"):
        step._load({"L": torch.zeros(1, 1, 16, 16)})


def test_the_cuda_backend_makes_optimisers_capturable_only_while_python_runs_a_step():
    import types

    backend = object.__new__(graphs.CudaGraphs)  # no CUDA here: its stream stands in, on the meta device
    backend.stream = types.SimpleNamespace(device=torch.device("meta"))
    m = Tiny()
    m.train_step(next(iter(torch.utils.data.DataLoader(TinyData(n=8), batch_size=8))), 0)  # Adam's state exists
    with backend.capturable(m):
        assert m.opt.param_groups[0]["capturable"] is True
        assert all(s["step"].device.type == "meta" for s in m.opt.state.values())  # counters on the device
    assert m.opt.param_groups[0]["capturable"] is False  # what a checkpoint records: resumable on the CPU
    assert m.opt.state_dict()["param_groups"][0]["capturable"] is False


def test_which_methods_capture_and_why_the_others_do_not(monkeypatch):
    capturable = set()
    for name in colorbench.list_methods():
        cls = get_method(name)
        why = cls.capture_note
        if cls.capturable:
            capturable.add(name)
        else:
            assert why and why != "its train_step has not been made capturable", name  # each says why
    assert capturable == CAPTURABLE
    monkeypatch.setattr(graphs, "backend_for", lambda device: ReplayOnCPU())
    with pytest.raises(UserError, match="method 'mean_color' cannot be captured: its step reads its losses with "
                                        r"\.item\(\)"):
        train_tiny("mean_color", 1, cuda_graphs=True)
    p2p = get_method("pix2pix")
    with pytest.raises(UserError, match="decays linearly at every step"):
        from colorbench.train import resolve, train

        train(resolve(p2p, overrides={**p2p.test_overrides, "lr_decay_steps": 10}, steps=1, batch_size=2, size=16,
                      device="cpu", progress=False, cuda_graphs=True), _batches(16))
    with pytest.raises(UserError, match="--cuda-graphs and --compile are alternatives"):
        train_tiny("unet_l1", 1, cuda_graphs=True, compile=True)


class TinyGraphed(Tiny):
    """Tiny, capturable: its loss stays a tensor and its step decay is its capture key."""

    capturable = True

    def train_step(self, batch, step):
        for group in self.opt.param_groups:
            group["lr"] = self.capture_key(step)
        loss = (self.net(batch["L"]) - batch["ab"]).abs().mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"l1": loss.detach()}

    def capture_key(self, step):
        return self.config.lr * 0.5 ** (step // self.config.decay_every)


def test_the_gpu_check_graph_section_runs_its_capture_path_on_the_cpu(monkeypatch, tmp_path):
    import time

    from colorbench.gpu_check import sections

    monkeypatch.setattr(sections, "TRAINER_METHOD", "test_tiny_graphed")  # pix2pix at full width: seconds a step
    monkeypatch.setattr(graphs, "backend_for", lambda device: ReplayOnCPU())
    ctx = sections.Context(torch.device("cpu"), sections.Sizes.quick(), time.monotonic() + 300, tmp_path)
    with registered(TinyGraphed, "test_tiny_graphed"):
        rows, notes = sections.graphs(ctx)
    assert rows[0]["status"] == "ok", rows
    assert all(rows[0][k] > 0 for k in ("eager_images_per_s", "eager_read_once_images_per_s", "graph_images_per_s"))
    assert "CUDA graph" in notes[0] and "read at the end" in notes[0]

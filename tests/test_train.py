"""The trainer: exact resume after a kill, Ctrl-C, epochs, logs, batch order, resume checks, DDP with gloo."""
from __future__ import annotations

import csv
import json
import os
import signal
import socket

import pytest
import torch
import torch.multiprocessing as mp

from colorbench.errors import UserError
from colorbench.train import resolve, train
from colorbench.train.batches import BatchPlan
from trainer_support import TinyData, ddp_worker, max_diff, registered, train_then_die, weights

pytestmark = pytest.mark.timeout(120)


def _run(out_dir, steps, **kw):
    kw = {"batch_size": 8, "seed": 3, "progress": False, "ckpt_every": 10, **kw}
    run = resolve("test_tiny", **{k: kw.pop(k) for k in ("batch_size", "size") if k in kw})
    return train(run, TinyData(), steps=steps, out_dir=out_dir, **kw)


def test_resume_after_kill_gives_the_same_weights(tiny, tmp_path):
    straight = _run(tmp_path / "straight", 20)
    ctx = mp.get_context("spawn")
    child = ctx.Process(target=train_then_die, args=(str(tmp_path / "resumed"), 20, 10, 13, torch.get_num_threads()))
    child.start()
    child.join(90)
    assert child.exitcode == -signal.SIGKILL  # really killed, after step 13 (checkpoint at 10)
    resumed = _run(tmp_path / "resumed", 20)
    assert resumed.start_step == 10 and resumed.steps == 20
    assert max_diff(weights(straight.method), weights(resumed.method)) <= 1e-6
    # the optimiser state resumed too (Adam moments), and the loss log has every step once
    a, b = straight.method.opt.state_dict()["state"], resumed.method.opt.state_dict()["state"]
    assert all(torch.allclose(a[k]["exp_avg_sq"], b[k]["exp_avg_sq"], atol=1e-9) for k in a)
    with open(tmp_path / "resumed" / "train_log.csv") as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert steps == list(range(1, 21))
    # the lr schedule lives in the method and follows the global step: 0.01 * 0.5 ** (19 // 10)
    assert resumed.history[-1]["lr_opt"] == pytest.approx(0.005)


def test_same_seed_same_weights_other_seed_differs(tiny, tmp_path):
    a = _run(None, 6)
    b = _run(None, 6)
    c = _run(None, 6, seed=4)
    assert max_diff(weights(a.method), weights(b.method)) == 0.0
    assert max_diff(weights(a.method), weights(c.method)) > 1e-3


def test_ctrl_c_saves_a_checkpoint_then_stops(tiny, tmp_path):
    def interrupt(done, losses):
        if done == 4:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends

    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, 20, on_step=interrupt)
    assert (tmp_path / "checkpoints" / "LAST").read_text().strip() == "step_0000004"
    again = _run(tmp_path, 20)
    assert again.start_step == 4 and again.steps == 20
    assert max_diff(weights(again.method), weights(_run(None, 20).method)) <= 1e-6


def test_epochs_logs_and_checkpoint_files(tiny, tmp_path):
    data = TinyData(n=40)  # 5 steps per epoch at batch 8
    result = train(resolve("test_tiny", batch_size=8), data, epochs=2, seed=1, out_dir=tmp_path, val_every=5,
                   val_dataset=TinyData(split="val"), ckpt_every=4, keep_checkpoints=2, progress=False)
    assert result.steps == 10 and [r["step"] for r in result.val] == [5, 10]
    assert all(r["val_mae_ab_lab"] > 0 for r in result.val)
    kept = sorted(p.name for p in (tmp_path / "checkpoints").glob("step_*"))
    assert kept == ["step_0000008", "step_0000010"]
    for name in ("weights.safetensors", "train_state.pt", "config.json"):
        assert (tmp_path / "checkpoints" / "step_0000010" / name).is_file()
    with open(tmp_path / "train_log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0] * 5 + [1] * 5
    assert {"l1", "lr_opt", "images_per_s", "elapsed_s"} <= set(rows[0])
    assert result.images_per_s > 0 and result.train_seconds > 0 and result.peak_memory_mb > 0


def test_rerun_of_a_finished_run_trains_nothing(tiny, tmp_path):
    first = _run(tmp_path, 5)
    again = _run(tmp_path, 5)
    assert again.start_step == 5 and again.history == []
    assert max_diff(weights(first.method), weights(again.method)) == 0.0
    assert again.train_seconds == pytest.approx(first.train_seconds)
    # what the finished run measured is reported again (a resumable grid can fill its row from it)
    assert again.losses == first.losses and again.images_per_s == pytest.approx(first.images_per_s)
    assert again.peak_memory_mb > 0


def test_resume_with_other_settings_is_refused(tiny, tmp_path):
    _run(tmp_path, 3)
    with pytest.raises(UserError, match="seed=3, not 4|seed"):
        _run(tmp_path, 6, seed=4)
    with pytest.raises(UserError, match="config"):
        train(resolve("test_tiny", batch_size=8, overrides={"width": 16}), TinyData(), steps=6, seed=3,
              out_dir=tmp_path, progress=False)


def test_batch_order_is_a_function_of_seed_and_epoch_and_ranks_partition_it():
    plan = BatchPlan(50, 4, seed=7)
    assert plan.steps_per_epoch == 12
    straight = [b for _, _, bs in plan.segments(0, 30) for b in bs]
    pieced = [b for lo, hi in ((0, 17), (17, 30)) for _, _, bs in plan.segments(lo, hi) for b in bs]
    assert straight == pieced
    assert straight[:12] != straight[12:24]  # a new order each epoch
    assert sorted(sum(straight[:12], [])) == sorted(set(sum(straight[:12], [])))  # no repeats in an epoch
    r0, r1 = BatchPlan(50, 4, 7, rank=0, world=2), BatchPlan(50, 4, 7, rank=1, world=2)
    e0, e1 = sum(r0.epoch_batches(0), []), sum(r1.epoch_batches(0), [])
    assert r0.steps_per_epoch == 6 and not set(e0) & set(e1) and len(e0) == len(e1) == 24
    with pytest.raises(UserError, match="fewer than one batch"):
        BatchPlan(3, 4, 0)


def test_exactly_one_of_steps_or_epochs(tiny):
    with pytest.raises(UserError, match="exactly one"):
        train(resolve("test_tiny", batch_size=8), TinyData())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ddp_two_cpu_processes_stay_in_sync_and_resume_bit_for_bit(tmp_path):
    out, res = tmp_path / "run", tmp_path / "res"
    res.mkdir()
    mp.start_processes(ddp_worker, args=(2, _free_port(), str(out), str(res)), nprocs=2, start_method="spawn")
    r0 = torch.load(res / "rank0.pt", weights_only=True)
    r1 = torch.load(res / "rank1.pt", weights_only=True)
    assert r0["world"] == r1["world"] == 2 and r0["steps"] == 6
    assert max_diff(r0["params"], r1["params"]) == 0.0  # gradients were averaged: identical replicas
    with registered():
        single = train(resolve("test_tiny", batch_size=4), TinyData(), steps=6, seed=5, progress=False)
    assert max_diff(r0["params"], dict(single.method.named_parameters())) > 1e-4  # it did train on other data
    # rank 0 alone wrote: one log with each step once, checkpoints without DDP's "module." in the keys
    with open(out / "train_log.csv") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == list(range(1, 7))
    from safetensors.torch import load_file

    saved = load_file(str(out / "checkpoints" / "step_0000006" / "weights.safetensors"))
    assert not any(".module." in k for k in saved)
    assert max_diff({k: saved[k] for k in r0["params"]}, r0["params"]) == 0.0

    # the same run with both ranks killed after step 4 (last checkpoint: step 3), then started again (the
    # multi-node recipe's restart): its final checkpoint equals the uninterrupted run's, bit for bit
    crashed = tmp_path / "crashed"
    with pytest.raises(mp.ProcessExitedException):
        mp.start_processes(ddp_worker, args=(2, _free_port(), str(crashed), str(res), 4), nprocs=2,
                           start_method="spawn")
    assert (crashed / "checkpoints" / "LAST").read_text().strip() == "step_0000003"  # died mid-run
    mp.start_processes(ddp_worker, args=(2, _free_port(), str(crashed), str(res)), nprocs=2, start_method="spawn")
    with open(crashed / "train_log.csv") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == list(range(1, 7))  # steps 4-6 once, after resume
    a, b = (_checkpoint(run / "checkpoints" / "step_0000006") for run in (out, crashed))
    assert a[0] == b[0]  # weights.safetensors, byte for byte
    assert _equal(a[1], b[1]) and _equal(a[2], b[2]) and a[3] == b[3]


@pytest.mark.slow
def test_ddp_a_stop_signal_to_one_rank_stops_every_rank_after_the_same_step_with_a_checkpoint(tmp_path):
    """SIGTERM reaches one rank after step 4 (a scheduler signals each rank at its own moment): every rank stops after
    step 4 and rank 0 saves it (before: under DDP the signal killed that rank at once, and the others with it)."""
    out, res = tmp_path / "run", tmp_path / "res"
    res.mkdir()
    mp.start_processes(ddp_worker, args=(2, _free_port(), str(out), str(res), 4, 1, int(signal.SIGTERM)), nprocs=2,
                       start_method="spawn")
    for rank in (0, 1):
        assert torch.load(res / f"rank{rank}.pt", weights_only=True) == {"stopped": int(signal.SIGTERM)}
    assert (out / "checkpoints" / "LAST").read_text().strip() == "step_0000004"
    with open(out / "train_log.csv") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == list(range(1, 5))


def _checkpoint(folder):
    """A checkpoint folder's content that must not depend on the run's history: the weights file byte for byte,
    the optimiser states, the saved torch RNG and the config (wall-clock figures left out; Python's and NumPy's
    generators are never seeded by the trainer, so they differ between any two processes and are left out too)."""
    state = torch.load(folder / "train_state.pt", weights_only=True)
    return ((folder / "weights.safetensors").read_bytes(), state["optimizers"], state["rng"]["torch"],
            json.loads((folder / "config.json").read_text()))


def _equal(x, y) -> bool:
    if isinstance(x, dict):
        return x.keys() == y.keys() and all(_equal(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)):
        return len(x) == len(y) and all(_equal(u, v) for u, v in zip(x, y))
    if torch.is_tensor(x):
        return torch.equal(x, y)
    return x == y


class _Batched(TinyData):
    """TinyData with the direct batched path; counts its calls."""

    calls = 0

    def get_batch(self, indices):
        _Batched.calls += 1
        items = [self[i] for i in indices]
        return {k: torch.stack([it[k] for it in items]) if torch.is_tensor(items[0][k]) else torch.tensor(
            [it[k] for it in items]) for k in items[0]}


def test_direct_batched_path_gives_the_same_training(tiny):
    _Batched.calls = 0
    a = train(resolve("test_tiny", batch_size=8), TinyData(), steps=7, seed=2, progress=False)
    b = train(resolve("test_tiny", batch_size=8), _Batched(), steps=7, seed=2, progress=False)
    assert _Batched.calls == 7
    assert max_diff(weights(a.method), weights(b.method)) == 0.0

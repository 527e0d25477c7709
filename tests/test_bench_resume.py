"""`colorbench bench` end to end on the smoke profile: resumable after SIGKILL, cached reruns compute nothing,
--force recomputes, shards merge into the same rows, every output file is written."""
from __future__ import annotations

import csv
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from colorbench.bench import run_bench
from colorbench.bench.runner import merge

METHODS = ["gray", "mean_color", "unet_l1"]
TIMING = ("seconds", "images_per_s", "peak_memory", "ms_per_image", "checkpoint", "finished", "started")


def _cli(tmp: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "colorbench.cli", "bench", "--profile", "smoke", "--methods", *METHODS,
            "--device", "cpu", "--results", str(tmp / "results"), "--cache", str(tmp / "cache"), "--no-progress",
            *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _rows(results: Path) -> list[dict[str, str]]:
    with open(results / "smoke" / "synthetic" / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def _comparable(rows: list[dict[str, str]]) -> list[dict[str, object]]:
    out = []
    for r in rows:
        keep = {}
        for k, v in r.items():
            if any(t in k for t in TIMING):
                continue
            try:
                keep[k] = float(v)
            except ValueError:
                keep[k] = v
        out.append(keep)
    return out


def _same(a: list[dict[str, object]], b: list[dict[str, object]]) -> None:
    assert [set(r) for r in a] == [set(r) for r in b]
    for ra, rb in zip(a, b):
        for k in ra:
            va, vb = ra[k], rb[k]
            if isinstance(va, float) and isinstance(vb, float) and not (math.isnan(va) and math.isnan(vb)):
                assert va == pytest.approx(vb, rel=1e-5, abs=1e-7), k
            elif not (isinstance(va, float) and math.isnan(va)):
                assert va == vb, k


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_killed_grid_resumes_to_the_same_rows_and_reruns_compute_nothing(tmp_path):
    straight = tmp_path / "straight"
    done = subprocess.run(_cli(straight), env=_env(), capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "cells: 6 total, 6 computed, 0 cached, 0 failed" in done.stdout  # 3 trained, 3 timed

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cli(killed), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 200
    while not list((killed / "cache").glob("*/row.json")):
        assert proc.poll() is None, "the grid ended before it could be killed"
        assert time.monotonic() < deadline, "no cell finished in time"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished_before = len(list((killed / "cache").glob("*/row.json")))
    assert finished_before < 6

    resumed = subprocess.run(_cli(killed), env=_env(), capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{finished_before} cached" in resumed.stdout
    _same(_comparable(_rows(killed / "results")), _comparable(_rows(straight / "results")))

    # A finished grid recomputes nothing (the mechanism, not a time), in-process this time.
    again = run_bench("smoke", methods=METHODS, device="cpu", results=killed / "results",
                      cache=killed / "cache", progress=False)
    assert (again.total, again.computed, again.cached) == (6, 0, 6)
    _same(_comparable(_rows(killed / "results")), _comparable(_rows(straight / "results")))

    forced = run_bench("smoke", methods=["gray"], baselines=False, device="cpu", results=tmp_path / "forced",
                       cache=killed / "cache", force=True, progress=False)
    assert (forced.computed, forced.cached) == (2, 0)  # gray's train and runtime cells, recomputed


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_outputs_and_shards_merge_into_the_same_tables(tmp_path):
    kw = dict(methods=METHODS, device="cpu", cache=tmp_path / "cache", progress=False)
    whole = run_bench("smoke", results=tmp_path / "whole", **kw)
    assert whole.computed == 6 and not whole.failed  # 3 train cells, 3 runtime cells
    out = tmp_path / "whole" / "smoke"
    for name in ("metrics.csv", "per_image.csv", "item_histograms.npz", "table.md", "detectable.csv", "histograms.png",
                 "samples.jpg", "loss_curves.png"):
        assert (out / "synthetic" / name).is_file(), name
    assert (out / "runtime.md").is_file() and (out / "runtime.png").is_file()
    table = (out / "synthetic" / "table.md").read_text()
    for needle in ("↑", "↓", "**", "canonical"):
        assert needle in table, needle
    # no source publishes figures on the synthetic protocol: none of the 40+ published rows is listed
    assert "None: no source document publishes figures on the `synthetic` protocol" in table
    assert "(published)" not in table and "impossible" not in table
    rows = _rows(tmp_path / "whole")
    assert [r["method"] for r in rows] == ["gray", "mean_color", "unet_l1"]
    for col in ("git_commit", "versions", "device", "seed", "config_hash", "pretrained", "train_steps",
                "train_seconds", "train_images_per_s", "peak_memory_mb", "checkpoint"):
        assert col in rows[0], col
    # relative to the results folder's parent (tmp_path), where the report resolves it
    assert rows[2]["train_steps"] == "3" and rows[2]["checkpoint"].startswith("cache/")
    assert (tmp_path / rows[2]["checkpoint"]).is_dir()
    # gray predicts ab = 0 everywhere: its mean |ab| error is the truth's mean |ab| (checked from per-image rows)
    with open(out / "synthetic" / "per_image.csv", newline="") as f:
        per_image = list(csv.DictReader(f))
    assert len([p for p in per_image if p["method"] == "gray"]) == 64  # the synthetic protocol: every test image

    shards = [run_bench("smoke", shard=f"{i}/2", results=tmp_path / "sharded", **kw) for i in (1, 2)]
    assert sum(s.total for s in shards) == 6 and all(s.computed == 0 for s in shards)
    merged = merge("smoke", results=tmp_path / "sharded")
    assert merged.total == 6
    _same(_comparable(_rows(tmp_path / "sharded")), _comparable(rows))


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_bench_killed_alone_has_its_workers_checkpoint_and_stop_instead_of_training_on_unseen(tmp_path):
    """SIGTERM to the bench process only (``kill``, ``timeout``, a container's stop) while two workers train: each
    worker stops its cell after the current step with a checkpoint (which the same command resumes) and exits
    (before: the workers trained on, orphaned, to the end of their cells, then waited forever on the job queue)."""
    import psutil

    from colorbench import checkpoint as ckpt

    steps = 100_000
    cmd = [sys.executable, "-m", "colorbench.cli", "bench", "--profile", "smoke", "--methods", "unet_l1", "--device",
           "cpu", "--results", str(tmp_path / "results"), "--cache", str(tmp_path / "cache"), "--no-progress",
           "--jobs", "2", "--seeds", "2", "--set", f"train.steps={steps}", "--set", f"train.ckpt_every={steps}"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 150
    logs = lambda: list((tmp_path / "cache").glob("*/train/train_log.csv"))  # noqa: E731
    while len([f for f in logs() if len(f.read_text().splitlines()) > 3]) < 2:
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        assert time.monotonic() < deadline, "the two workers did not start training in time"
        time.sleep(0.1)
    workers = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGTERM)  # to the bench process alone
    proc.wait(timeout=30)
    gone, alive = psutil.wait_procs(workers, timeout=60)
    assert not alive, f"{len(alive)} worker(s) still training after the bench process was killed"
    runs = sorted(f.parent for f in logs())
    assert len(runs) == 2
    for run in runs:
        step = ckpt.load_checkpoint(run)["state"]["step"]
        assert 0 < step < steps  # saved where it stopped, not at ckpt_every (never reached)

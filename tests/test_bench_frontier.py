"""A bench run at equal training compute: rows record their training FLOPs and images, each train cell scores its
model on the val split along its budget, and the results hold curves.csv and frontier.png."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

PROFILE = """
datasets = ["synthetic"]
methods = ["unet_l1"]
baselines = ["gray", "mean_color"]
seeds = 2
[data]
size = 16
[train]
{length}
batch_size = 2
use_test_overrides = true
[eval]
batch_size = 8
samples = 1
curve_points = {points}
curve_images = 8
[runtime]
sizes = []
"""


def _run(tmp: Path, name: str, length: str, points: int):
    from colorbench.bench import run_bench

    path = tmp / f"{name}.toml"
    path.write_text(PROFILE.format(length=length, points=points))
    summary = run_bench(str(path), results=tmp / "results", cache=tmp / "cache", progress=False, device="cpu")
    assert not summary.failed
    return {r["method"]: r for r in summary.rows if r["seed"] == 0}, summary, tmp / "results" / name / "synthetic"


@pytest.fixture(scope="module")
def equal_compute(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("frontier")
    return _run(tmp, "eq", "flops = 4e8\nsteps = 5", 3)


def test_rows_record_the_training_compute_they_were_given(equal_compute):
    rows, _, _ = equal_compute
    unet = rows["unet_l1"]["provenance"]
    assert unet["flops_budget"] == 4e8
    assert unet["train_steps"] == max(1, round(4e8 / unet["step_flops"]))
    assert unet["train_flops"] == unet["step_flops"] * unet["train_steps"]
    assert unet["train_images"] == 2 * unet["train_steps"]
    mean, gray = rows["mean_color"]["provenance"], rows["gray"]["provenance"]
    assert (mean["step_flops"], mean["train_flops"], mean["train_steps"], mean["train_images"]) == (0, 0, 5, 10)
    assert mean["flops_budget"] is None  # trained the profile's steps
    assert (gray["step_flops"], gray["train_flops"], gray["train_steps"], gray["train_images"]) == (0, 0, 0, 0)


def test_each_cell_is_scored_along_its_budget_and_the_frontier_is_drawn(equal_compute):
    rows, _, folder = equal_compute
    unet = rows["unet_l1"]
    curve, prov = unet["curve"], unet["provenance"]
    n = prov["train_steps"]
    assert [p["step"] for p in curve] == [-(-k * n // 3) for k in (1, 2, 3)]  # evenly spaced in FLOPs
    assert curve[-1]["train_flops"] == prov["train_flops"] and curve[-1]["train_images"] == prov["train_images"]
    assert all(p["val_images"] == 8 and p["val_psnr"] > 0 for p in curve)  # [eval] curve_images
    assert [p["step"] for p in rows["gray"]["curve"]] == [0]  # nothing trained: scored once
    metrics = pd.read_csv(folder / "metrics.csv")
    assert {"step_flops", "train_flops", "train_images", "flops_budget"} <= set(metrics)
    curves = pd.read_csv(folder / "curves.csv")
    assert len(curves) == 2 * (3 + 3) + 1  # two seeds of unet_l1 and mean_color, one gray point
    assert (folder / "frontier.png").stat().st_size > 10_000
    table = (folder / "table.md").read_text()
    assert "equal training compute: 4e+08 FLOPs per run" in table and f"unet_l1 {n}" in table


def test_a_steps_profile_trains_its_steps_and_still_records_its_flops(equal_compute, tmp_path):
    rows, _, folder = _run(tmp_path, "st", "steps = 3", 0)
    unet = rows["unet_l1"]["provenance"]
    assert unet["train_steps"] == 3 and unet["flops_budget"] is None
    assert unet["step_flops"] == equal_compute[0]["unet_l1"]["provenance"]["step_flops"]  # the same spec's step
    assert unet["train_flops"] == 3 * unet["step_flops"] and rows["unet_l1"]["curve"] == []
    assert not (folder / "curves.csv").exists() and not (folder / "frontier.png").exists()
    assert "train steps: gray 0, mean_color 3, unet_l1 3" in (folder / "table.md").read_text()


def test_a_second_run_reuses_every_cell(equal_compute):
    """The derived steps, and so the keys, are the same when the bench resolves the grid again."""
    _, summary, _ = equal_compute
    tmp = Path(summary.rows[0]["_folder"]).parent.parent
    _, again, _ = _run(tmp, "eq", "flops = 4e8\nsteps = 5", 3)
    assert again.computed == 0 and [r["key"] for r in again.rows] == [r["key"] for r in summary.rows]
    assert json.loads((Path(summary.rows[0]["_folder"]) / "row.json").read_text())["key"] == summary.rows[0]["key"]

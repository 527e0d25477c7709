"""Training logs: TensorBoard events read back, validation grids, weights that do not depend on the logger, plain
progress lines off a terminal."""
from __future__ import annotations

import contextlib
import csv
import io

import numpy as np
import pytest
import torch
from PIL import Image

from colorbench.cli import main
from colorbench.color import network_to_rgb
from colorbench.errors import UserError
from colorbench.train import resolve, train
from colorbench.train.grid import PAD, val_grid
from trainer_support import TinyData, max_diff, weights

pytestmark = pytest.mark.timeout(120)
SIZE, STEPS = 16, 6


def _run(out_dir, **kw):
    kw = {"batch_size": 8, "seed": 3, "progress": False, "val_every": 3, "val_dataset": TinyData(split="val"),
          **kw}
    run = resolve("test_tiny", **{k: kw.pop(k) for k in ("batch_size", "size") if k in kw})
    return train(run, TinyData(size=SIZE), steps=STEPS, out_dir=out_dir, **kw)


def _events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def test_tensorboard_events_hold_every_loss_metric_and_the_grid(tiny, tmp_path):
    pytest.importorskip("tensorboard")
    result = _run(tmp_path, logger="tensorboard", grid_every=3)
    acc = _events(tmp_path / "tensorboard")
    tags = acc.Tags()
    # every loss and every validation figure, at the steps the CSV logs hold, with the same values
    l1 = acc.Scalars("train/l1")
    assert [e.step for e in l1] == [r["step"] for r in result.history] == list(range(1, STEPS + 1))
    assert [e.value for e in l1] == pytest.approx([r["l1"] for r in result.history], rel=1e-6)
    assert {"train/lr_opt", "train/images_per_s", "train/epoch"} <= set(tags["scalars"])
    for key in result.val[0]:
        if key != "step":
            events = acc.Scalars(f"val/{key.removeprefix('val_')}")
            assert [e.step for e in events] == [3, 6]
            assert [e.value for e in events] == pytest.approx([r[key] for r in result.val], rel=1e-6, nan_ok=True)
    assert {"val/psnr", "val/ssim", "val/mae_ab", "val/delta_e76"} <= set(tags["scalars"])
    with open(tmp_path / "train_log.csv") as f:  # the CSV logs are still written
        assert [int(r["step"]) for r in csv.DictReader(f)] == list(range(1, STEPS + 1))
    # the grid: 4 rows (val images) x 3 tiles (grey, prediction, truth), as PNG in the event file
    images = acc.Images("val/grid")
    assert [e.step for e in images] == [3, 6]
    png = np.asarray(Image.open(io.BytesIO(images[-1].encoded_image_string)).convert("RGB"))
    assert png.shape == (4 * SIZE + 3 * PAD, 3 * SIZE + 2 * PAD, 3)
    val = TinyData(split="val")
    truth = network_to_rgb(val.L[:1], val.ab[:1])[0].permute(1, 2, 0).numpy()
    assert np.abs(png[:SIZE, 2 * (SIZE + PAD):] / 255.0 - truth).max() <= 1 / 255 + 1e-6
    grey = png[:SIZE, :SIZE].astype(int)
    assert np.abs(grey[..., 0] - grey[..., 1]).max() <= 1 and np.abs(grey[..., 1] - grey[..., 2]).max() <= 1
    assert not (tmp_path / "val_grids").exists()  # TensorBoard keeps the grids


def test_resumed_tensorboard_run_has_each_step_once(tiny, tmp_path):
    pytest.importorskip("tensorboard")
    train(resolve("test_tiny", batch_size=8), TinyData(size=SIZE), steps=4, out_dir=tmp_path, seed=3, progress=False,
          logger="tensorboard")
    train(resolve("test_tiny", batch_size=8), TinyData(size=SIZE), steps=STEPS, out_dir=tmp_path, seed=3,
          progress=False, logger="tensorboard")
    assert [e.step for e in _events(tmp_path / "tensorboard").Scalars("train/l1")] == list(range(1, STEPS + 1))


def test_weights_do_not_depend_on_the_logger_or_the_grids(tiny, tmp_path):
    pytest.importorskip("tensorboard")
    # grids run the method in eval mode between steps: its batch-norm statistics and dropout must not move
    csv_run = _run(tmp_path / "csv", logger="csv", grid_every=0)
    tb_run = _run(tmp_path / "tb", logger="tensorboard", grid_every=1)
    assert max_diff(weights(csv_run.method), weights(tb_run.method)) == 0.0
    a, b = csv_run.method.opt.state_dict()["state"], tb_run.method.opt.state_dict()["state"]
    assert all(torch.equal(a[k]["exp_avg_sq"], b[k]["exp_avg_sq"]) for k in a)
    assert [r["l1"] for r in csv_run.history] == [r["l1"] for r in tb_run.history]


def test_grid_leaves_mode_buffers_and_rng_as_they_were(tiny):
    from colorbench.registry import create_method

    torch.manual_seed(0)
    method = create_method("test_tiny").train()
    before = weights(method)
    rng = torch.get_rng_state()
    image = val_grid(method, TinyData(split="val"), torch.device("cpu"), contextlib.nullcontext)
    assert method.training and torch.equal(rng, torch.get_rng_state())
    assert max_diff(before, weights(method)) == 0.0
    assert image.shape == (3, 4 * SIZE + 3 * PAD, 3 * SIZE + 2 * PAD) and 0 <= image.min() and image.max() <= 1


def test_csv_logger_writes_grid_pngs(tiny, tmp_path):
    _run(tmp_path, grid_every=4)
    assert sorted(p.name for p in (tmp_path / "val_grids").iterdir()) == ["step_0000004.png", "step_0000006.png"]
    with Image.open(tmp_path / "val_grids" / "step_0000006.png") as im:
        assert im.size == (3 * SIZE + 2 * PAD, 4 * SIZE + 3 * PAD)


def test_unknown_logger_is_a_one_line_error(tiny, tmp_path):
    with pytest.raises(UserError, match="unknown logger 'wandb'; use one of csv, tensorboard"):
        _run(tmp_path, logger="wandb")


def test_progress_off_a_terminal_is_plain_lines(tiny, tmp_path, capsys):
    # capsys: stdout and stderr are not terminals, as under nohup, a CI job or a batch scheduler
    assert main(["train", "test_tiny", "--dataset", "synthetic", "--size", "16", "--batch-size", "8",
                 "--steps", "40", "--val-every", "20", "--grid-every", "0", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "\r" not in captured.err and "\r" not in captured.out and "\x1b" not in captured.err
    lines = [line for line in captured.err.splitlines() if ": step " in line]
    assert [line.split(": step ")[1].split()[0] for line in lines] == [f"{s}/40" for s in range(2, 41, 2)]
    assert "l1 " in lines[-1] and "img/s " in lines[-1] and "(100%)" in lines[-1]
    assert sum(line.startswith("step 20: val_psnr ") for line in captured.err.splitlines()) == 1

"""`colorbench train | eval | colorize` end to end (in process, tiny method, synthetic data)."""
from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image

from colorbench.cli import main
from colorbench.color import rgb_to_lab
from colorbench.method import Method
from trainer_support import registered

pytestmark = pytest.mark.timeout(180)
FAST = ["--dataset", "synthetic", "--size", "16", "--batch-size", "8", "--no-progress", "--val-every", "0"]


def test_train_writes_default_run_folder_and_resumes(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "test_tiny", *FAST, "--steps", "3", "--seed", "2"]) == 0
    run = tmp_path / "runs" / "test_tiny-default-synthetic-s2"
    assert (run / "checkpoints" / "LAST").read_text().strip() == "step_0000003"
    assert main(["train", "test_tiny", *FAST, "--steps", "5", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "step 5 (2 this run)" in out
    with open(run / "train_log.csv") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [1, 2, 3, 4, 5]


def test_config_toml_and_set_overrides(tiny, tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('width = 5\nkernel = [1, 3]\n[train]\nsteps = 2\nseed = 7\nvariant = "wide"\n')
    assert main(["train", "test_tiny", *FAST, "--config", str(toml), "--set", "lr=0.003", "--out",
                 str(tmp_path / "r")]) == 0
    record = json.loads((tmp_path / "r" / "checkpoints" / "step_0000002" / "config.json").read_text())
    assert record["config"]["width"] == 5 and record["config"]["lr"] == 0.003 and record["config"]["kernel"] == [1, 3]
    assert record["variant"] == "wide" and record["seed"] == 7 and record["step"] == 2 and record["size"] == 16


@pytest.mark.parametrize("argv, expected", [
    (["train", "test_tiy", "--steps", "1"], "Did you mean 'test_tiny'"),
    (["train", "test_tiny", "--set", "widht=3", "--steps", "1"], "Did you mean 'width'"),
    (["train", "test_tiny", "--set", "width", "--steps", "1"], "expected KEY=VALUE"),
    (["train", "test_tiny", "--variant", "wid", "--steps", "1"], "Did you mean 'wide'"),
    (["eval", "no/such/run"], "does not exist"),
    (["colorize", "no/such/run", "x.png", "--out", "o"], "does not exist"),
])
def test_user_mistakes_are_one_line_errors(tiny, capsys, argv, expected):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_eval_prints_metrics_and_appends_a_csv_row(tiny, tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "test_tiny", *FAST, "--steps", "2", "--out", str(run)]) == 0
    for _ in range(2):
        assert main(["eval", str(run), "--split", "test", "--batch-size", "32"]) == 0
    out = capsys.readouterr().out
    assert "psnr" in out and "n_images" in out
    with open(run / "eval.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and rows[0]["method"] == "test_tiny" and rows[0]["dataset"] == "synthetic"
    assert rows[0]["split"] == "test" and int(rows[0]["n_images"]) == 64 and float(rows[0]["psnr"]) > 5


@dataclasses.dataclass
class _ConstCfg:
    a: float = 0.2
    b: float = -0.1


class ConstAB(Method):
    """Predicts one ab everywhere (records the size it was asked for): checks colorize's resize path."""

    Config = _ConstCfg
    seen: list = []

    def __init__(self, config=None, num_classes=None):
        super().__init__(config, num_classes)
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.opt = torch.optim.SGD([self.scale], lr=0.0)

    def train_step(self, batch, step):
        return {"loss": 0.0}

    def predict(self, L):
        ConstAB.seen.append(tuple(L.shape))
        ab = torch.tensor([self.config.a, self.config.b]).view(1, 2, 1, 1) * self.scale
        return ab.expand(L.shape[0], 2, *L.shape[-2:]).clone()


def test_colorize_keeps_full_resolution_L_and_predicts_at_working_size(tmp_path, capsys):
    with registered(ConstAB, "test_const"):
        assert main(["train", "test_const", *FAST, "--steps", "1", "--out", str(tmp_path / "r")]) == 0
        rng = np.random.default_rng(0)
        colour = (rng.random((53, 37, 3)) * 255).astype(np.uint8)  # 37 wide, 53 high, colour: made grey first
        Image.fromarray(colour).save(tmp_path / "colour.png")
        Image.fromarray(colour[..., 0]).save(tmp_path / "grey.png")
        ConstAB.seen.clear()
        assert main(["colorize", str(tmp_path / "r"), str(tmp_path / "colour.png"), str(tmp_path / "grey.png"),
                     "--out", str(tmp_path / "out"), "--working-size", "16"]) == 0
    assert ConstAB.seen[0] == (1, 1, 16, 11)  # longer side 16, aspect kept
    for name, source in [("colour", colour), ("grey", np.repeat(colour[..., :1], 3, axis=-1))]:
        result = np.asarray(Image.open(tmp_path / "out" / f"{name}.png"))
        assert result.shape == (53, 37, 3)
        lab_in = rgb_to_lab(torch.from_numpy(source / 255.0).permute(2, 0, 1)[None])
        lab_out = rgb_to_lab(torch.from_numpy(result / 255.0).permute(2, 0, 1)[None])
        inside = (lab_in[0, 0] > 25) & (lab_in[0, 0] < 75)  # away from black/white, where ab=(22,-11) fits sRGB
        assert (lab_out[0, 0] - lab_in[0, 0]).abs()[inside].mean() < 0.5  # full-resolution L kept (8-bit rounding)
        assert lab_out[0, 1][inside].mean() == pytest.approx(22.0, abs=1.0)
        assert lab_out[0, 2][inside].mean() == pytest.approx(-11.0, abs=1.0)


def test_colorize_takes_folders_and_globs_and_colourises_every_photo(tmp_path, capsys):
    with registered(ConstAB, "test_const"):
        assert main(["train", "test_const", *FAST, "--steps", "1", "--out", str(tmp_path / "r")]) == 0
        rng = np.random.default_rng(1)
        photos = {"album/a.png": (21, 30), "album/sub/b.jpg": (40, 17), "album/sub/a.png": (9, 12),
                  "loose/c.png": (33, 33), "loose/d.png": (12, 50)}
        for rel, (h, w) in photos.items():
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(tmp_path / rel)
        (tmp_path / "album" / "notes.txt").write_text("not a photo")
        ConstAB.seen.clear()
        assert main(["colorize", str(tmp_path / "r"), str(tmp_path / "album"), str(tmp_path / "loose" / "*.png"),
                     str(tmp_path / "loose" / "c.png"), "--out", str(tmp_path / "out"), "--tile", "16",
                     "--overlap", "8"]) == 0
        out = capsys.readouterr().out
        # every photo once (c.png named twice), full resolution: no working size, tiles of at most 16 px
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a-2.png", "a.png", "b.png", "c.png",
                                                                       "d.png"]
        assert max(max(s[-2:]) for s in ConstAB.seen) == 16
        for rel, name in [("album/a.png", "a.png"), ("album/sub/a.png", "a-2.png"), ("album/sub/b.jpg", "b.png"),
                          ("loose/c.png", "c.png"), ("loose/d.png", "d.png")]:
            result = np.asarray(Image.open(tmp_path / "out" / name))
            assert result.shape == (*photos[rel], 3), name
        assert "[5/5]" in out and "5 photos colourised" in out and "\r" not in out  # plain lines, not a terminal
        for bad, expected in [(tmp_path / "empty", "holds no photo"), (tmp_path / "loose" / "*.gif", "holds no photo")]:
            if "empty" in str(bad):
                bad.mkdir()
            assert main(["colorize", str(tmp_path / "r"), str(bad), "--out", str(tmp_path / "o2")]) == 2
            assert expected in capsys.readouterr().err


def test_eval_and_bench_metrics_without_weights_stop_at_once_with_the_fetch_command(tiny, tmp_path, capsys,
                                                                                      monkeypatch):
    """`--metrics field` on a machine without the files: exit 2 before any work, one line naming the command;
    an unknown name is one line too."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    run = tmp_path / "r"
    assert main(["train", "test_tiny", *FAST, "--steps", "1", "--out", str(run)]) == 0
    capsys.readouterr()
    for argv in (["eval", str(run), "--metrics", "field"], ["bench", "--profile", "quick", "--metrics", "fid_tv",
                                                            "--results", str(tmp_path / "res"),
                                                            "--cache", str(tmp_path / "cache")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        assert "colorbench weights fetch" in err and "inception_v3" in err
    assert not (run / "eval.csv").exists() and not (tmp_path / "cache").exists()
    assert main(["eval", str(run), "--metrics", "fidd"]) == 2
    assert "did you mean fid" in capsys.readouterr().err


def test_a_finished_run_answers_before_building_data_and_a_change_names_only_the_differing_keys(
        tiny, tmp_path, monkeypatch, capsys):
    run = tmp_path / "r"
    assert main(["train", "test_tiny", *FAST, "--steps", "2", "--out", str(run)]) == 0
    capsys.readouterr()

    def no_data(*a, **k):
        raise AssertionError("built the dataset of a finished run")

    monkeypatch.setattr("colorbench.data.build_dataset", no_data)
    assert main(["train", "test_tiny", *FAST, "--steps", "2", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "trained to step 2: nothing to do" in out and "step_0000002" in out
    assert main(["train", "test_tiny", *FAST, "--steps", "2", "--out", str(run), "--set", "lr=0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "config.lr" in err and "-> 0.5" in err and "another --out" in err
    assert "width" not in err  # the fields that agree are not printed


def test_colorize_predicts_at_the_recorded_training_scale_by_default(tiny, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(10):
        Image.fromarray(rng.integers(0, 255, (70, 90, 3), dtype=np.uint8)).save(photos / f"p{i}.png")
    run = tmp_path / "run"
    assert main(["train", "test_tiny", "--dataset", "folder", "--data-dir", str(photos), "--size", "16",
                 "--batch-size", "4", "--steps", "1", "--val-every", "0", "--no-progress", "--out", str(run)]) == 0
    assert json.loads((run / "run.json").read_text())["train_short_side"] == 32  # resize="auto": 2 x the crop
    capsys.readouterr()
    assert main(["colorize", str(run), str(photos / "p0.png"), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "predicting ab at 32 px on the shorter side" in out and "shorter side 32 px" in out
    assert main(["colorize", str(run), str(photos / "p1.png"), "--out", str(tmp_path / "o2"),
                 "--working-size", "0"]) == 0
    assert "full resolution" in capsys.readouterr().out

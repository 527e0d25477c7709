"""``--data KEY=VALUE``: checked like --set, refused where a recipe fixes the protocol, recorded in run.json, reused
by eval, part of a bench cell's key."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from colorbench.cli import main
from colorbench.data.options import parse_data
from colorbench.errors import UserError

pytestmark = pytest.mark.timeout(180)


def test_values_are_parsed_and_mistakes_are_one_line_errors():
    assert parse_data(["resize=96", "ratios=0.5,0.25,0.25", "cache=false", "crop=pad"], "folder") == \
        {"resize": 96, "ratios": [0.5, 0.25, 0.25], "cache": False, "crop": "pad"}
    for items, message in ((["resise=9"], "Did you mean 'resize'"), (["resize=big"], "resize=big: expected"),
                           (["ratios=0.5,0.5"], "sum to 1"), (["resize"], "expected KEY=VALUE"),
                           (["resize=128"], "fixes its evaluation protocol")):
        with pytest.raises(UserError, match=message):
            parse_data(items, "openphotos" if message.startswith("fixes") else "folder")
    assert parse_data(["cache=memory"], "openphotos") == {"cache": "memory"}  # pixels unchanged: allowed
    with pytest.raises(UserError, match="takes no --data"):
        parse_data(["cache=disk"], "synthetic")


def test_train_records_the_options_and_eval_reuses_them(tiny, tmp_path, monkeypatch, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(photos / f"p{i:02d}.png")
    run = tmp_path / "run"
    common = ["--dataset", "folder", "--data-dir", str(photos), "--size", "16", "--batch-size", "4", "--val-every",
              "0", "--no-progress", "--out", str(run)]
    data = ["--data", "resize=20", "--data", "ratios=0.5,0.25,0.25"]
    assert main(["train", "test_tiny", *common, *data, "--steps", "1"]) == 0
    record = json.loads((run / "run.json").read_text())
    assert record["data_options"] == {"resize": 20, "ratios": [0.5, 0.25, 0.25]}
    assert main(["train", "test_tiny", *common, "--data", "resize=24", "--steps", "1"]) == 2
    assert "data_options" in capsys.readouterr().err  # another resize is another run
    capsys.readouterr()
    assert main(["eval", str(run), "--data-dir", str(photos), "--size", "16"]) == 0
    assert "3 images" in capsys.readouterr().out  # the run's 25% test split of 12 photos, not the default 10%


def test_data_options_are_part_of_a_bench_cells_key(tmp_path):
    from colorbench.bench import grid, profiles

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(1)
    for i in range(10):
        Image.fromarray(rng.integers(0, 255, (24, 30, 3), dtype=np.uint8)).save(photos / f"p{i}.png")
    recipe = tmp_path / "mine.toml"
    recipe.write_text(f'[protocol]\nsplit = "test"\nsize = 16\n[options]\ndata_dir = "{photos}"\nresize = 16\n')
    prof = profiles.load_profile("smoke")
    plain = [c.key for c in grid.expand(prof, datasets=[str(recipe)]) if c.kind == "train"]
    cached = [c.key for c in grid.expand(prof, datasets=[str(recipe)], data=["cache=memory"]) if c.kind == "train"]
    assert len(plain) == len(cached) == 2 and not set(plain) & set(cached)
    with pytest.raises(UserError, match="fixes its evaluation protocol"):
        grid.expand(prof, datasets=[str(recipe)], data=["resize=32"])

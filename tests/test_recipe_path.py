"""A recipe given as a path behaves like a recipe name: run and result folders take the recipe's ``name``."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from colorbench.cli import main

pytestmark = pytest.mark.timeout(180)


def _recipe(tmp_path):
    photos = tmp_path / "recipes" / "photos"
    photos.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 255, (24, 30, 3), dtype=np.uint8)).save(photos / f"p{i:02d}.png")
    recipe = tmp_path / "recipes" / "my-photos.toml"
    recipe.write_text('name = "mine"\n[protocol]\nsplit = "test"\nsize = 16\n'
                      '[options]\ndata_dir = "photos"\nresize = 16\n')
    return recipe


def test_train_with_a_recipe_path_names_the_run_by_the_recipe(tiny, tmp_path, monkeypatch, capsys):
    recipe = _recipe(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "test_tiny", "--dataset", str(recipe), "--size", "16", "--batch-size", "4", "--steps", "1",
                 "--val-every", "0", "--no-progress"]) == 0
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["test_tiny-default-mine-s0"]
    assert "on mine:" in capsys.readouterr().out


def test_bench_with_a_recipe_path_writes_its_tables_and_the_report_finds_its_checkpoints(tmp_path, monkeypatch,
                                                                                        capsys):
    from colorbench.report.load import cell_folder, checkpoint_of, load_results

    recipe = _recipe(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # the cell cache is ./runs/bench, the results outside this folder
    assert main(["bench", "--profile", "smoke", "--datasets", str(recipe), "--results", "../out/res",
                 "--no-progress"]) == 0
    table = (tmp_path / "out" / "res" / "smoke" / "mine" / "table.md").read_text()
    assert "`smoke` profile on `mine`" in table and "mean_color" in table
    assert recipe.is_file()  # untouched (it was once taken for a results folder)
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("bench: cell ")]
    assert len(lines) == 4 and lines[-1].startswith("bench: cell 4/4 done")  # --no-progress: a line per cell
    assert lines[0].endswith("on mine seed 0")
    monkeypatch.chdir(tmp_path / "recipes")  # the report, from anywhere
    rows = load_results(tmp_path / "out" / "res", "smoke").datasets["mine"].metrics
    row = rows[rows["method"] == "mean_color"].iloc[0]
    assert checkpoint_of(row) is not None and cell_folder(row).parent == (work / "runs" / "bench").resolve()


def test_study_finds_checkpoints_relative_to_the_results_folders_parent(tmp_path, monkeypatch):
    from colorbench.study.create import checkpoints_from_results

    (tmp_path / "repo" / "runs" / "bench" / "k" / "ckpt").mkdir(parents=True)
    table = tmp_path / "repo" / "results" / "quick" / "mine"
    table.mkdir(parents=True)
    (table / "metrics.csv").write_text("method,variant,status,checkpoint,dataset\n"
                                       "unet_l1,default,ok,runs/bench/k/ckpt,mine\n")
    monkeypatch.chdir(tmp_path)  # not the folder the bench ran in
    picked, _ = checkpoints_from_results(table)
    assert picked == [("unet_l1", "unet_l1", "default", str(tmp_path / "repo" / "runs" / "bench" / "k" / "ckpt"))]

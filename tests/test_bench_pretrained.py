"""Bench cells of ``kind = "pretrained"``: a released model (zoo name, the profile's ``pretrained`` list) scored on
each dataset without training, keyed on its weights' sha256; a missing weights file is a skipped row naming the
fetch command, not a failure of the bench. A random-weight DDColor-T stand-in plays ``ddcolor:paper_tiny``."""
from __future__ import annotations

import pytest
from zoo_support import ddcolor_shapes, write_release, zoo_at_working_size

from colorbench import pretrained as pt
from colorbench.bench import grid, profiles
from colorbench.bench.runner import run_bench
from colorbench.errors import UserError

NAME = "ddcolor:paper_tiny"
PROFILE = """
description = "tiny, for tests: the gray baseline and one released model"
datasets = ["synthetic"]
methods = []
baselines = ["gray"]
pretrained = ["ddcolor:paper_tiny"]
seeds = 1
[data]
size = 16
[train]
steps = 1
batch_size = 4
use_test_overrides = true
[eval]
batch_size = 8
samples = 0
[runtime]
sizes = []
"""


@pytest.fixture
def tiny_profile(caches, tmp_path, monkeypatch):
    """A profile file holding one pretrained cell; the released file is not on disk yet."""
    zoo_at_working_size(monkeypatch, NAME, 32)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "tiny.toml"
    path.write_text(PROFILE)
    return path


def test_the_profile_key_takes_zoo_names_only():
    assert profiles.parse_profile({"pretrained": [NAME]}, name="x").pretrained == [NAME]
    with pytest.raises(UserError, match="ddcolor:paper_tiny"):  # the known names are listed
        profiles.parse_profile({"pretrained": ["ddcolor:papr"]}, name="x")
    with pytest.raises(UserError, match="list of zoo names"):
        profiles.parse_profile({"pretrained": NAME}, name="x")
    assert profiles.load_profile("quick").pretrained == []  # its weights are not on a user's machine


def test_a_missing_file_is_a_skipped_row_and_the_bench_goes_on(tiny_profile, tmp_path, capsys):
    summary = run_bench(str(tiny_profile), results=tmp_path / "results", cache=tmp_path / "cache", progress=False,
                        device="cpu")
    assert summary.failed == []
    assert len(summary.skipped) == 1 and f"colorbench weights fetch {NAME}" in summary.skipped[0]
    rows = {r["kind"]: r for r in summary.rows}
    assert rows["train"]["status"] == "ok" and rows["pretrained"]["status"] == "skipped"
    assert not (tmp_path / "cache" / rows["pretrained"]["key"] / "row.json").exists()  # tried again next time
    assert f"weights fetch {NAME}" in capsys.readouterr().err


@pytest.mark.slow  # ~10 s: writes a 220 MB stand-in and scores it at 32 px
def test_a_stand_in_is_scored_keyed_on_its_sha256_and_reused(tiny_profile, tmp_path):
    before = next(c for c in grid.expand(profiles.load_profile(str(tiny_profile))) if c.kind == "pretrained")
    assert before.settings["weights_sha256"] is None and before.variant == "zoo:paper_tiny"
    write_release(pt.zoo_path(NAME), ddcolor_shapes("tiny"))
    sha = pt.sha256_of(pt.zoo_path(NAME))
    cell = next(c for c in grid.expand(profiles.load_profile(str(tiny_profile))) if c.kind == "pretrained")
    assert cell.settings["weights_sha256"] == sha and cell.key != before.key
    assert cell.label == "ddcolor[zoo:paper_tiny] on synthetic (released, untrained)"

    kw = {"results": tmp_path / "results", "cache": tmp_path / "cache", "progress": False, "device": "cpu"}
    summary = run_bench(str(tiny_profile), **kw)
    row = next(r for r in summary.rows if r["kind"] == "pretrained")
    assert summary.failed == [] and summary.skipped == [] and row["status"] == "ok"
    assert row["provenance"]["weights"] == f"sha256:{sha}" and row["provenance"]["train_steps"] == 0
    assert row["metrics"]["psnr"] > 0 and row["provenance"]["protocol"]["n_images"] > 0
    # scored under the run's numeric mode (portable where it holds), so its figures travel as the trained rows' do;
    # they were scored in the native-kernel process the timings use
    trained = next(r for r in summary.rows if r["kind"] == "train")
    assert row["numeric_mode"] == trained["numeric_mode"] and row["numeric_mode"] is not None
    assert (tmp_path / "cache" / row["key"] / "per_image.csv").is_file()
    table = (tmp_path / "results" / "tiny" / "synthetic" / "table.md").read_text()
    assert "zoo:paper_tiny" in table
    again = run_bench(str(tiny_profile), **kw)
    assert again.computed == 0 and again.cached == 2

"""The dry run's dataset-recipe checks: split counts against the papers' splits and file lists when the data are
here, and the checks it skipped when they are not."""
from __future__ import annotations

import numpy as np
from PIL import Image

from colorbench.bench import grid, profiles
from colorbench.bench.datacheck import check_datasets, format_checks


def _cells():
    return grid.expand(profiles.load_profile("paper"), methods=["gray"], datasets=["imagenet_val_subset"])


def test_without_data_every_check_is_listed_as_skipped(tmp_path):
    (check,) = check_datasets(_cells(), tmp_path)
    assert check.status == "skipped" and check.expected == {"train": 50_000, "test": 10_000}
    assert str(tmp_path / "imagenet_val_subset") in check.notes[0] and "skipped: split counts" in check.notes[0]
    assert "| imagenet_val_subset | skipped | –/50,000 | –/10,000 | – |" in format_checks([check])


def test_with_data_the_counts_are_set_against_the_papers_split(tmp_path):
    root = tmp_path / "imagenet_val_subset"
    rng = np.random.default_rng(0)
    for top, n in (("val", 2), ("train", 12)):
        for c in ("n01", "n02"):
            (root / top / c).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(root / top / c / f"{i}.png")
    (check,) = check_datasets(_cells(), tmp_path)
    assert check.status == "mismatch" and check.found == {"train": 4, "test": 20} and check.where == str(root)
    assert check.notes == ["train: 4 here, the papers' split 50,000", "test: 20 here, the papers' split 10,000"]

"""A dataset's facts declared once (recipes), crops per photo, and data named by content (manifest sha256s)."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorbench.data import build_dataset, data_fingerprint, dataset_info, protocol_for
from colorbench.data.protocol import Protocol, from_table
from colorbench.data.recipes import REPO_DATASETS, recipe_paths
from colorbench.data.splits import manifest_digest, read_manifest
from colorbench.data.transforms import grid_crop_box
from colorbench.errors import UserError


def test_grid_crop_boxes_are_adjacent_and_centred():
    # 2x2 grid of 64 px in 128x192: rows 0 and 64, columns start at (192 - 128) // 2 = 32
    assert [grid_crop_box(128, 192, 64, 4, k) for k in range(4)] == [(0, 32), (0, 96), (64, 32), (64, 96)]
    # an image smaller than the grid: the crops span it evenly (overlap), first at 0, last at the far edge
    assert [grid_crop_box(100, 100, 64, 4, k) for k in range(4)] == [(0, 0), (0, 36), (36, 0), (36, 36)]
    assert grid_crop_box(128, 192, 64, 1, 0) == (32, 64)  # one crop: the centre


def test_protocol_crops_must_be_square_and_reach_the_dataset():
    assert Protocol("test", 64, crops=4).dataset_options() == {"crops": 4}
    assert Protocol("test", 64).dataset_options() == {}
    with pytest.raises(UserError, match="square number"):
        Protocol("test", 64, crops=3)
    with pytest.raises(UserError, match="unknown key"):
        from_table({"split": "test", "crop": 4}, "recipe x", Protocol())


def _photo(path: Path, h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(image).save(path)
    return image


@pytest.fixture
def committed(tmp_path):
    """A committed-style set: images/, manifest.csv with sha256s, and a recipe beside it."""
    root = tmp_path / "set"
    (root / "images").mkdir(parents=True)
    arrays, rows = {}, ["file,sha256,split"]
    for i, split in enumerate(["train", "train", "val", "test", "test"]):
        name = f"p{i}.png"
        arrays[name] = _photo(root / "images" / name, 128, 160 + 8 * i, i)
        rows.append(f"{name},{hashlib.sha256((root / 'images' / name).read_bytes()).hexdigest()},{split}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    recipe = tmp_path / "set.toml"
    recipe.write_text('name = "set"\nlicence = "CC0-1.0"\n[splits]\ntrain = 2\nval = 1\ntest = 2\n'
                      '[protocol]\nsplit = "test"\nsize = 64\ncrops = 4\n'
                      '[options]\ndata_dir = "set"\nimage_dir = "images"\nmanifest = "manifest.csv"\n')
    return recipe, root, arrays


def test_crops_per_photo_are_the_grid_of_each_photo_in_order(committed):
    recipe, root, arrays = committed
    protocol = protocol_for(str(recipe))
    test = build_dataset(str(recipe), "test", size=protocol.size, **protocol.dataset_options())
    assert len(test) == 2 * 4
    assert [test.source(i) for i in range(8)] == ["images/p3.png"] * 4 + ["images/p4.png"] * 4
    image = arrays["p4.png"]  # 128 x 192: the 2x2 grid starts at column 32
    for k, (y, x) in enumerate([(0, 32), (0, 96), (64, 32), (64, 96)]):
        want = image[y:y + 64, x:x + 64].astype(np.float32) / 255
        got = test[4 + k]["rgb"].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert len(build_dataset(str(recipe), "train", size=32, crops=4)) == 2  # train: random crops, one per photo


def test_recipe_facts_are_declared_once_and_relative_data_dir_is_beside_the_recipe(committed):
    recipe, root, _ = committed
    info = dataset_info(str(recipe))
    assert info.licence == "CC0-1.0"
    assert dict(info.splits) == {"train": 2, "val": 1, "test": 2}
    assert info.size == "2 train / 1 val / 2 test"
    assert info.protocol == Protocol("test", 64, crops=4)


def test_a_changed_file_is_refused_by_its_manifest_sha256(committed):
    recipe, root, _ = committed
    _photo(root / "images" / "p3.png", 128, 184, 99)
    with pytest.raises(UserError, match=r"p3\.png differs from its sha256"):
        build_dataset(str(recipe), "test", size=64)
    (root / "images" / "p3.png").unlink()
    with pytest.raises(UserError, match=r"p3\.png is listed in the manifest but missing"):
        build_dataset(str(recipe), "test", size=64)


def test_fingerprint_of_a_committed_set_ignores_paths_and_mtimes_but_not_content(committed, tmp_path):
    recipe, root, _ = committed
    first = data_fingerprint(str(recipe))
    clone = tmp_path / "clone"
    shutil.copytree(recipe.parent, clone, ignore=shutil.ignore_patterns("clone"))
    for path in (clone / "set" / "images").iterdir():
        os.utime(path, (1e9, 1e9))  # a clone sets new mtimes
    assert data_fingerprint(str(clone / "set.toml")) == first
    manifest = clone / "set" / "manifest.csv"
    manifest.write_text(manifest.read_text().replace(",val\n", ",train\n"))  # a split changed: new key
    assert data_fingerprint(str(clone / "set.toml")) != first
    assert manifest_digest(root / "manifest.csv") is not None
    # a folder without sha256s keeps the path/size/mtime fingerprint
    (root / "manifest.csv").write_text("path,split\np0.png,train\n")
    assert manifest_digest(root / "manifest.csv") is None


def test_manifest_reads_named_columns_in_any_order(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("sha256,split,file,label\nab,test,x.jpg,3\ncd,train,y.jpg,\n")
    assert read_manifest(path) == {"x.jpg": ("test", 3), "y.jpg": ("train", None)}


def test_every_recipe_declares_its_facts_in_the_recipe():
    for name, path in recipe_paths().items():
        if path.parent != REPO_DATASETS:
            continue
        info = dataset_info(name)
        assert info.splits or info.paper_splits, f"{path.name}: declare [splits] or [paper_splits]"
        assert info.protocol.size >= 11


def test_dry_run_reads_paper_splits_from_the_recipe():
    from colorbench.bench import dryrun

    assert not hasattr(dryrun, "PAPER_SPLIT_IMAGES")  # one place: the recipe
    assert dict(dataset_info("coco").paper_splits) == {"train": 86_300, "test": 18_493}
    assert dict(dataset_info("cifar10").paper_splits) == {"train": 44_477, "test": 10_000}


def test_openphotos_matches_its_declared_facts():
    """The committed default: every file named by its sha256 (the build checks them), the split counts and protocol
    the recipe declares, photo-disjoint splits, labels = subjects, and a credit for every photo."""
    import csv

    info = dataset_info("openphotos")
    root = REPO_DATASETS / "openphotos"
    with open(root / "manifest.csv", newline="") as fh:
        manifest = list(csv.DictReader(fh))
    with open(root / "CREDITS.csv", newline="") as fh:
        credits = {r["file"]: r for r in csv.DictReader(fh)}
    counts = {s: sum(r["split"] == s for r in manifest) for s in ("train", "val", "test")}
    assert counts == dict(info.splits) and counts["test"] >= 30 and counts["val"] >= 10
    assert {r["file"]: r["sha256"] for r in manifest} == {f: c["sha256"] for f, c in credits.items()}
    assert all(c["licence"] and c["author"] and c["source"] for c in credits.values())
    assert not {c["licence"] for c in credits.values()} - {"public-domain", "CC0-1.0", "CC-BY-2.0", "CC-BY-3.0",
                                                              "CC-BY-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0"}
    protocol = info.protocol
    test = build_dataset("openphotos", "test", size=protocol.size, **protocol.dataset_options())
    val = build_dataset("openphotos", "val", size=protocol.size, **protocol.dataset_options())
    train = build_dataset("openphotos", "train", size=32)
    photos = {split: {ds.source(i) for i in range(len(ds))} for split, ds in
              (("test", test), ("val", val), ("train", train))}
    assert len(test) == counts["test"] * protocol.crops and len(photos["test"]) == counts["test"]
    assert not photos["test"] & photos["train"] and not photos["val"] & photos["train"]
    assert not photos["test"] & photos["val"]
    assert train.num_classes == 7 and {int(test[i]["label"]) for i in range(len(test))} <= set(range(7))

"""The pinned protocols (imagenet_val5k, imagenet_ctest10k, coco_stuff_val, ade20k_val): their committed file lists,
their preprocessing against the papers' loaders, and `colorbench eval --protocol` on a tiny fake copy of the data."""
from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorbench.cli import main
from colorbench.data import build_dataset, dataset_info, filelist
from colorbench.data.recipes import REPO_DATASETS, load_recipe
from colorbench.data.transforms import centre_square, resize_uint8

pytestmark = pytest.mark.timeout(180)
PROTOCOLS = ("imagenet_val5k", "imagenet_ctest10k", "coco_stuff_val", "ade20k_val")
FAST = ["--dataset", "synthetic", "--size", "16", "--batch-size", "8", "--no-progress", "--val-every", "0"]


@pytest.fixture(autouse=True)
def _hash_records_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(filelist, "HASH_DIR", tmp_path / "hashes")


def _names(name: str) -> list[str]:
    return filelist.read_list(Path(load_recipe(REPO_DATASETS / f"{name}.toml")["options"]["file_list"]))


def test_committed_lists_name_the_protocols_images():
    assert _names("imagenet_val5k") == [f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(1, 5001)]
    assert _names("ade20k_val") == [f"ADE_val_{i:08d}.jpg" for i in range(1, 2001)]
    coco = _names("coco_stuff_val")
    assert len(coco) == 5000 and coco == sorted(coco) and all(re.fullmatch(r"\d{12}\.jpg", n) for n in coco)
    assert coco[0] == "000000000139.jpg" and coco[-1] == "000000581781.jpg"
    ctest = _names("imagenet_ctest10k")
    ids = [int(m.group(1)) for m in (re.fullmatch(r"ILSVRC2012_val_(\d{8})\.JPEG", n) for n in ctest) if m]
    assert len(ids) == len(set(ids)) == 10000 and 1 <= min(ids) and max(ids) <= 50000
    for name in PROTOCOLS:  # the recipe's declared count is its list's length
        info = dataset_info(name)
        assert info.splits == {"test": len(_names(name))} and info.protocol.split == "test"
        assert info.protocol.size == 256


def test_square_matches_ct2s_loader_and_stretch_without_antialias_is_opencvs_bilinear():
    """imagenet_val5k: torchvision CenterCrop(min side) + Resize(256) on the PIL image (CT2's test loader) within one
    grey level; the OpenCV-style filter at an exact 2x shrink is the mean of each 2x2 block."""
    from PIL import ImageFilter
    from torchvision import transforms as T

    rng = np.random.default_rng(0)
    photo = Image.fromarray((rng.random((300, 451, 3)) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(2))
    ref = np.asarray(T.Compose([T.CenterCrop(300), T.Resize(256)])(photo)).astype(int)
    ours = resize_uint8(centre_square(np.asarray(photo)), 256, 256, antialias=True).astype(int)
    assert ours.shape == ref.shape == (256, 256, 3) and np.abs(ours - ref).max() <= 1
    a = (rng.random((64, 96, 3)) * 255).astype(np.uint8)
    blocks = a.reshape(32, 2, 48, 2, 3).mean(axis=(1, 3))
    assert np.abs(resize_uint8(a, 32, 48, antialias=False) - blocks).max() <= 0.5


def _fake_copy(tmp_path: Path, names: list[str]) -> Path:
    """Tiny JPEGs named like the list (one in a class sub-folder, as a sorted ImageNet val copy, one greyscale),
    plus a stray file the list does not name."""
    data = tmp_path / "val"
    rng = np.random.default_rng(1)
    for i, name in enumerate(names + ["ILSVRC2012_val_00009999.JPEG"]):
        folder = data / ("n01440764" if i == 1 else "")
        folder.mkdir(parents=True, exist_ok=True)
        photo = Image.fromarray((rng.random((40 + 8 * i, 56, 3)) * 255).astype(np.uint8))
        (photo.convert("L") if i == 2 else photo).save(folder / name, quality=90)  # ImageNet val has grey JPEGs
    return data


def _recipe_with_list(tmp_path: Path, names: list[str]) -> Path:
    """The committed imagenet_val5k recipe with a reduced list (its first few names)."""
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "imagenet_val5k.txt").write_text("\n".join(names) + "\n")
    recipe = tmp_path / "imagenet_val5k.toml"
    shutil.copy(REPO_DATASETS / "imagenet_val5k.toml", recipe)
    return recipe


def test_eval_protocol_on_a_users_copy_records_the_preprocessing_and_refuses_changed_files(tiny, tmp_path, capsys):
    names = _names("imagenet_val5k")[:3]
    data, recipe = _fake_copy(tmp_path, names), _recipe_with_list(tmp_path, names)
    run = tmp_path / "run"
    assert main(["train", "test_tiny", *FAST, "--steps", "1", "--out", str(run)]) == 0
    assert main(["eval", str(run), "--protocol", str(recipe), "--data-dir", str(data), "--batch-size", "4"]) == 0
    with open(run / "eval.csv") as f:
        row = next(csv.DictReader(f))
    # the greyscale JPEG is scored like the others, as CT2's loader does (PIL convert("RGB"))
    assert row["dataset"] == "imagenet_val5k" and row["protocol"] == "dataset" and int(row["n_images"]) == 3
    assert row["split"] == "test" and int(row["size"]) == 256
    assert row["preprocess"] == ("centre square (side min(H, W)), resized to 256x256: bilinear, antialiased "
                                 "(PIL / torchvision bilinear)")
    records = list((tmp_path / "hashes").glob("imagenet_val5k-*.csv"))
    assert len(records) == 1 and records[0].read_text().count("ILSVRC2012_val_") == 3  # the stray is not recorded
    ds = build_dataset(str(recipe), "test", size=256, data_dir=data)
    assert [ds.source(i).rsplit("/", 1)[-1] for i in range(len(ds))] == names  # the list's order
    capsys.readouterr()

    changed = data / "n01440764" / names[1]
    Image.fromarray(np.zeros((48, 56, 3), np.uint8)).save(changed)
    assert main(["eval", str(run), "--protocol", str(recipe), "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(changed) in err and "recorded on first use" in err

    changed.unlink()
    assert main(["eval", str(run), "--protocol", str(recipe), "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "1 of the 3 images" in err and names[1] in err

    assert main(["eval", str(run), "--protocol", str(recipe), "--data-dir", str(data), "--size", "64"]) == 2
    assert "drop --size" in capsys.readouterr().err

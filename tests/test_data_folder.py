"""The folder dataset: bad files converted or skipped with a reason, splits, labels, recipes, missing paths."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
import pytest
from PIL import Image

from colorbench.data import build_dataset
from colorbench.data.images import BadImage, read_rgb
from colorbench.errors import UserError


def _colour(h: int = 40, w: int = 48, seed: int = 0) -> np.ndarray:
    """A smooth colourful ``[h,w,3]`` uint8 image."""
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 6, 3)
    img = np.stack([np.sin(xx / 7 + phase[c]) * np.cos(yy / 9 + c) for c in range(3)], axis=2)
    return ((img + 1) * 127.5).round().astype(np.uint8)


def _write_png16(path: Path, array: np.ndarray) -> None:
    """A 16-bit PNG written by hand (greyscale [H,W] or RGB [H,W,3] uint16), independent of Pillow's writer."""
    import struct
    import zlib

    colour_type = 2 if array.ndim == 3 else 0
    h, w = array.shape[:2]
    raw = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))


# ----------------------------------------------------------------------------------------- conversions
def test_16bit_rgb_png_keeps_the_high_byte(tmp_path):
    rng = np.random.default_rng(1)
    img16 = rng.integers(0, 65536, size=(24, 20, 3), dtype=np.uint16)
    _write_png16(tmp_path / "deep.png", img16)
    out = read_rgb(tmp_path / "deep.png")
    assert out.dtype == np.uint8 and out.shape == (24, 20, 3)
    assert np.abs(out.astype(int) - img16.astype(float) / 257).max() <= 1.0


def test_16bit_grey_png_is_skipped_or_scaled(tmp_path):
    grey16 = (np.arange(20 * 30).reshape(20, 30) * 100).astype(np.uint16)
    _write_png16(tmp_path / "g16.png", grey16)
    with pytest.raises(BadImage, match="greyscale"):
        read_rgb(tmp_path / "g16.png")
    out = read_rgb(tmp_path / "g16.png", allow_grey=True)
    np.testing.assert_allclose(out[..., 0], np.round(grey16 / 65535 * 255), atol=0)
    assert (out[..., 0] == out[..., 2]).all()


def test_rgba_is_composited_over_white(tmp_path):
    rgb = _colour()
    alpha = np.tile(np.linspace(0, 255, rgb.shape[1]).round().astype(np.uint8), (rgb.shape[0], 1))
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(tmp_path / "a.png")
    out = read_rgb(tmp_path / "a.png").astype(float)
    a = alpha[..., None] / 255.0
    expected = rgb * a + 255.0 * (1 - a)
    assert np.abs(out - expected).max() <= 1.0


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    rgb = _colour(64, 64)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg", quality=98)
    assert Image.open(tmp_path / "c.jpg").mode == "CMYK"
    out = read_rgb(tmp_path / "c.jpg")
    assert out.shape == rgb.shape
    assert np.abs(out.astype(float) - rgb).mean() < 3.0  # JPEG loss only


def test_palette_png_becomes_its_colours(tmp_path):
    p = Image.fromarray(_colour()).convert("P", palette=Image.Palette.ADAPTIVE, colors=32)
    p.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_rgb(tmp_path / "p.png"), np.asarray(p.convert("RGB")))


def test_greyscale_files_are_refused_in_a_colour_dataset(tmp_path):
    Image.fromarray(_colour()[..., 0], "L").save(tmp_path / "l.png")
    Image.fromarray(np.repeat(_colour()[..., :1], 3, axis=2)).save(tmp_path / "rgb_grey.jpg", quality=95)
    for name in ("l.png", "rgb_grey.jpg"):
        with pytest.raises(BadImage, match="greyscale"):
            read_rgb(tmp_path / name)


# ----------------------------------------------------------------------------------------- skipping
@pytest.fixture
def messy_folder(tmp_path):
    """3 good images and one of each bad kind; returns (root, {file: expected reason word})."""
    for i in range(3):
        Image.fromarray(_colour(seed=i)).save(tmp_path / f"good{i}.png")
    Image.fromarray(_colour(64, 64)).save(tmp_path / "whole.jpg", quality=90)
    data = (tmp_path / "whole.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "whole.jpg").unlink()
    (tmp_path / "notes.png").write_text("not an image at all\n")
    Image.fromarray(_colour()[..., 1], "L").save(tmp_path / "grey.png")
    Image.fromarray(_colour(10, 12)).save(tmp_path / "tiny.png")
    (tmp_path / "readme.txt").write_text("ignored: not an image extension")
    bad = {"truncated.jpg": "truncated", "notes.png": "not an image", "grey.png": "greyscale",
           "tiny.png": "smaller than the crop"}
    return tmp_path, bad


def test_bad_files_are_skipped_with_one_warning_each_and_a_summary(messy_folder):
    root, bad = messy_folder
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = build_dataset("folder", "train", size=32, data_dir=root, ratios=(1.0, 0.0, 0.0))
    messages = [str(w.message) for w in caught]
    assert len(ds) == 3
    for name, reason in bad.items():
        hits = [m for m in messages if name in m]
        assert len(hits) == 1, (name, messages)
        assert reason in hits[0]
    summary = [m for m in messages if "skipped 4 of 7 files" in m]
    assert len(summary) == 1
    assert "1 greyscale" in summary[0] and "1 unreadable or truncated" in summary[0]
    assert sorted(Path(p).name for p, _ in ds.skipped) == sorted(bad)
    item = ds[0]
    assert item["rgb"].shape == (3, 32, 32)


def test_small_images_are_upscaled_when_resize_is_set(messy_folder):
    root, _ = messy_folder
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = build_dataset("folder", "test", size=32, data_dir=root, ratios=(0.0, 0.0, 1.0), resize="crop")
    assert len(ds) == 4  # 3 good + tiny (resized to 32 on its shorter side)
    assert all(ds[i]["rgb"].shape == (3, 32, 32) for i in range(len(ds)))


def test_missing_paths_are_user_errors_that_say_how_to_get_the_data(tmp_path):
    with pytest.raises(UserError, match="data_dir"):
        build_dataset("folder")
    with pytest.raises(UserError, match=str(tmp_path / "nowhere")):
        build_dataset("folder", data_dir=tmp_path / "nowhere")
    with pytest.raises(UserError, match="cocodataset.org"):
        build_dataset("coco", data_dir=tmp_path / "coco")
    with pytest.raises(UserError, match="no images"):
        build_dataset("folder", data_dir=tmp_path)


def test_missing_path_errors_are_one_line(tmp_path):
    """The CLI prints a UserError as one line; the data layer's messages must not need more."""
    for name in ("folder", "coco", "voc2012", "places_extra69", "imagenet_val_subset"):
        with pytest.raises(UserError) as info:
            build_dataset(name, data_dir=tmp_path / "missing")
        message = str(info.value)
        assert "\n" not in message and str(tmp_path / "missing") in message and "--data-dir" in message


# ----------------------------------------------------------------------------------------- splits & labels
@pytest.fixture
def classes_folder(tmp_path):
    for c, n in (("cat", 20), ("dog", 10)):
        (tmp_path / c / "sub").mkdir(parents=True)
        for i in range(n):
            where = tmp_path / c / ("sub" if i % 2 else "") / f"{c}{i}.png"
            Image.fromarray(_colour(20, 24, seed=i + (100 if c == "dog" else 0))).save(where)
    return tmp_path


def test_ratio_split_is_disjoint_complete_and_independent_of_run_seed(classes_folder):
    parts = {s: build_dataset("folder", s, size=16, data_dir=classes_folder, seed=0) for s in ("train", "val", "test")}
    names = {s: {p.name for p in ds.paths} for s, ds in parts.items()}
    assert len(names["train"]) == 24 and len(names["val"]) == 3 and len(names["test"]) == 3
    assert not (names["train"] & names["test"]) and not (names["train"] & names["val"])
    assert not (names["val"] & names["test"])
    assert len(names["train"] | names["val"] | names["test"]) == 30
    other = build_dataset("folder", "test", size=16, data_dir=classes_folder, seed=9)
    assert {p.name for p in other.paths} == names["test"]
    shuffled = build_dataset("folder", "test", size=16, data_dir=classes_folder, split_seed=1)
    assert {p.name for p in shuffled.paths} != names["test"]


def test_folder_labels_and_stratified_split(classes_folder):
    ds = build_dataset("folder", "test", size=16, data_dir=classes_folder, labels="folders", stratify=True,
                       ratios=(0.5, 0.0, 0.5))
    assert ds.num_classes == 2 and ds.class_names == ["cat", "dog"]
    labels = [ds[i]["label"] for i in range(len(ds))]
    assert labels.count(0) == 10 and labels.count(1) == 5
    assert all(("dog" in p.name) == (lab == 1) for p, lab in zip(ds.paths, labels))


def test_per_class_counts(classes_folder):
    ds = build_dataset("folder", "train", size=16, data_dir=classes_folder, labels="folders",
                       per_class={"train": 4, "test": 2})
    test = build_dataset("folder", "test", size=16, data_dir=classes_folder, labels="folders",
                         per_class={"train": 4, "test": 2})
    assert len(ds) == 8 and len(test) == 4
    assert not {p.name for p in ds.paths} & {p.name for p in test.paths}


def test_manifest_split_and_labels(classes_folder):
    (classes_folder / "m.csv").write_text("# a comment\npath,split,label\ncat/cat0.png,test,1\n"
                                          "cat/sub/cat1.png,train,0\ndog/dog0.png,train,1\n")
    train = build_dataset("folder", "train", size=16, data_dir=classes_folder, manifest="m.csv")
    test = build_dataset("folder", "test", size=16, data_dir=classes_folder, manifest="m.csv")
    assert [p.name for p in train.paths] == ["cat1.png", "dog0.png"] and [p.name for p in test.paths] == ["cat0.png"]
    assert [train[i]["label"] for i in range(2)] == [0, 1] and test[0]["label"] == 1
    (classes_folder / "bad.csv").write_text("cat/cat0.png,testing\n")
    with pytest.raises(UserError, match="line 1"):
        build_dataset("folder", data_dir=classes_folder, manifest="bad.csv")


def test_voc_recipe_reads_its_split_lists(tmp_path):
    (tmp_path / "JPEGImages").mkdir()
    (tmp_path / "ImageSets" / "Segmentation").mkdir(parents=True)
    stems = [f"2007_{i:06d}" for i in range(5)]
    for i, s in enumerate(stems):
        Image.fromarray(_colour(20, 30, seed=i)).save(tmp_path / "JPEGImages" / f"{s}.jpg", quality=95)
    (tmp_path / "ImageSets" / "Segmentation" / "train.txt").write_text("\n".join(stems[:3]) + "\n")
    (tmp_path / "ImageSets" / "Segmentation" / "val.txt").write_text("\n".join(stems[3:]) + "\n")
    train = build_dataset("voc2012", "train", size=16, data_dir=tmp_path)
    test = build_dataset("voc2012", "test", size=16, data_dir=tmp_path)
    assert train.name == "voc2012" and len(train) == 3 and len(test) == 2
    assert [p.stem for p in test.paths] == stems[3:]
    with pytest.raises(UserError, match="val"):
        build_dataset("voc2012", "val", size=16, data_dir=tmp_path)


def test_folder_train_crops_follow_seed_and_epoch(classes_folder):
    a = build_dataset("folder", "train", size=16, data_dir=classes_folder, seed=1, cache=True)
    b = build_dataset("folder", "train", size=16, data_dir=classes_folder, seed=1)
    assert all(np.array_equal(a[i]["rgb"], b[i]["rgb"]) for i in range(5))
    a.set_epoch(3)
    assert any(not np.array_equal(a[i]["rgb"], b[i]["rgb"]) for i in range(10))


def test_a_recipe_path_and_overrides(tmp_path, monkeypatch, classes_folder):
    recipe = tmp_path / "pets.toml"
    recipe.write_text('name = "pets"\ndescription = "cats and dogs"\nsource = "test"\nsize = "30"\n'
                      'how_to_get = "make them"\n[options]\nlabels = "folders"\nratios = [0.5, 0.0, 0.5]\n')
    ds = build_dataset(str(recipe), "test", size=16, data_dir=classes_folder)
    assert ds.name == "pets" and ds.num_classes == 2 and len(ds) == 15
    assert len(build_dataset(str(recipe), "test", size=16, data_dir=classes_folder, ratios=(0.8, 0.0, 0.2))) == 6
    monkeypatch.setenv("COLORBENCH_DATASETS_PATH", str(tmp_path))
    from colorbench.data import list_datasets

    assert "pets" in {i.name for i in list_datasets()}
    assert len(build_dataset("pets", "train", size=16, data_dir=classes_folder)) == 15
    with pytest.raises(UserError, match="make them"):
        build_dataset("pets", data_dir=tmp_path / "none")
    (tmp_path / "broken.toml").write_text("name = \n")
    with pytest.raises(UserError, match="not valid TOML"):
        build_dataset(str(tmp_path / "broken.toml"), data_dir=classes_folder)


def test_header_check_skips_without_decoding(messy_folder):
    root, bad = messy_folder
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = build_dataset("folder", "train", size=32, data_dir=root, ratios=(1.0, 0.0, 0.0), check="header")
    # a header check finds the non-image, the greyscale and the tiny file; the truncated JPEG needs a decode
    assert sorted(Path(p).name for p, _ in ds.skipped) == ["grey.png", "notes.png", "tiny.png"]
    assert len(ds) == 4 and any("skipped 3 of 7 files" in str(w.message) for w in caught)


# ------------------------------------------------------------------------------------------- whole images
def test_pad_keeps_whole_images_shrunk_to_the_canvas_and_marks_them_valid(tmp_path):
    """``crop = "pad"``: the C2F reference's full images (long side at most ``size``) on a padded canvas."""
    from colorbench.color import rgb_to_network
    from colorbench.data.transforms import resize_uint8

    shapes = {"wide.png": (30, 60), "tall.png": (40, 20), "small.png": (10, 12)}
    for name, (h, w) in shapes.items():
        Image.fromarray(_colour(h, w, seed=h)).save(tmp_path / name)
    ds = build_dataset("folder", "test", size=32, data_dir=tmp_path, ratios=(0.0, 0.0, 1.0), crop="pad")
    assert len(ds) == 3  # no image is too small: nothing is skipped
    expected = {"wide.png": (16, 32), "tall.png": (32, 16), "small.png": (10, 12)}  # round(side * 32 / long)
    for i, path in enumerate(ds.paths):
        item = ds[i]
        h, w = expected[path.name]
        assert item["L"].shape == (1, 32, 32) and item["ab"].shape == (2, 32, 32) and item["rgb"].shape == (3, 32, 32)
        valid = item["valid"]
        assert valid.dtype == torch.bool and valid.shape == (1, 32, 32)
        assert valid[:, :h, :w].all() and int(valid.sum()) == h * w
        assert torch.count_nonzero(item["L"].masked_select(~valid)) == 0  # L = 50: L/50-1 = 0
        assert torch.count_nonzero(item["ab"].masked_select(~valid.expand(2, -1, -1))) == 0
        src = np.array(Image.open(path).convert("RGB"))
        L, ab = rgb_to_network(torch.from_numpy(resize_uint8(src, h, w)).permute(2, 0, 1)[None].float() / 255)
        torch.testing.assert_close(item["L"][:, :h, :w], L[0])
        torch.testing.assert_close(item["ab"][:, :h, :w], ab[0])
    batch = torch.utils.data.default_collate([ds[i] for i in range(3)])  # one canvas: any loader stacks them
    assert batch["valid"].shape == (3, 1, 32, 32)


def test_pad_flips_on_train_before_padding_and_bad_crop_is_named(tmp_path):
    Image.fromarray(_colour(20, 28)).save(tmp_path / "a.png")
    ds = build_dataset("folder", "train", size=32, data_dir=tmp_path, ratios=(1.0, 0.0, 0.0), crop="pad")
    flipped = [ds[0]]
    for epoch in range(1, 8):
        ds.set_epoch(epoch)
        flipped.append(ds[0])
    straight = build_dataset("folder", "test", size=32, data_dir=tmp_path, ratios=(0.0, 0.0, 1.0), crop="pad")[0]
    mirrored = straight["rgb"][:, :20, :28].flip(-1)
    kinds = {torch.equal(f["rgb"][:, :20, :28], mirrored) for f in flipped}
    assert kinds == {True, False}  # both flipped and unflipped epochs; the image stays top-left
    assert all(torch.equal(f["valid"], straight["valid"]) for f in flipped)
    with pytest.raises(UserError, match="crop must be"):
        build_dataset("folder", "test", size=32, data_dir=tmp_path, ratios=(0.0, 0.0, 1.0), crop="centre")


def test_coco_sample_recipe_pads_whole_photos_from_train_sample(tmp_path):
    (tmp_path / "train_sample").mkdir()
    for i in range(10):
        Image.fromarray(_colour(24 + i, 40, seed=i)).save(tmp_path / "train_sample" / f"{i:012d}.jpg", quality=95)
    ds = build_dataset("coco_sample", "train", size=32, data_dir=tmp_path)
    assert ds.name == "coco_sample" and ds.crop == "pad" and len(ds) == 7  # 70%
    item = ds[0]
    assert item["valid"].shape == (1, 32, 32) and int(item["valid"][0, :, :32].sum(0).max()) < 32  # landscape
    with pytest.raises(UserError, match="coco_sample.tgz"):
        build_dataset("coco_sample", data_dir=tmp_path / "missing")


def test_ratio_cuts_floor_are_the_c2f_references():
    """tstreule/c2f_img_color src/utils/data.py: cut = [int(n · cumulative ratio)]; fastai's 21,837 COCO photos ->
    15,285 / 3,276 / 3,276 (our round() cuts: 15,286 / 3,276 / 3,275)."""
    from collections import Counter

    from colorbench.data.splits import ratio_split

    keys = [f"{i:06d}.jpg" for i in range(21_837)]
    floor = Counter(ratio_split(keys, (0.7, 0.15, 0.15), 0, cuts="floor").values())
    rounded = Counter(ratio_split(keys, (0.7, 0.15, 0.15), 0).values())
    assert (floor["train"], floor["val"], floor["test"]) == (15_285, 3_276, 3_276)
    assert (rounded["train"], rounded["val"], rounded["test"]) == (15_286, 3_276, 3_275)


def test_imagenet_recipe_trains_on_val_and_tests_on_train_as_tarres(tmp_path):
    """Tarrés: ILSVRC-12's validation set to train, 10 per class of its training set to test (split_dirs)."""
    for top, n in (("val", 3), ("train", 13)):
        for c in ("n01", "n02"):
            (tmp_path / top / c).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(_colour(40, 40, seed=i)).save(tmp_path / top / c / f"{top}_{i}.png")
    train = build_dataset("imagenet_val_subset", "train", size=32, data_dir=tmp_path)
    test = build_dataset("imagenet_val_subset", "test", size=32, data_dir=tmp_path)
    assert len(train) == 6 and {p.parent.parent.name for p in train.paths} == {"val"}  # all (≤ 50) per val class
    assert len(test) == 20 and {p.parent.parent.name for p in test.paths} == {"train"}  # 10 per train class
    assert train.class_names == test.class_names == ["n01", "n02"]
    with pytest.raises(UserError, match="split_dirs gives the 'val' split no folder"):
        build_dataset("imagenet_val_subset", "val", size=32, data_dir=tmp_path)

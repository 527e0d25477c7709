"""The folder dataset's disk cache of decoded photos: lossless, reused across builds, invalidated by a changed file,
bounded; and the default resize of a plain folder."""
from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from colorbench.data import build_dataset, decoded
from colorbench.data import folder as folder_module


def _photos(root, n=6, h=90, w=120):
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(root / f"p{i}.png")
    return root


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COLORBENCH_DECODED_CACHE", str(tmp_path / "decoded"))
    return tmp_path / "decoded"


def test_disk_cache_items_equal_decoded_ones_and_a_rebuild_decodes_nothing(tmp_path, cache, monkeypatch):
    root = _photos(tmp_path / "photos")
    kw = dict(size=16, data_dir=root, ratios=(1.0, 0.0, 0.0))
    plain = build_dataset("folder", "train", cache=False, **kw)
    first = build_dataset("folder", "train", **kw)
    assert first.cache_mode == "disk" and len(list(cache.glob("*/*.npy"))) == 6
    for i in range(len(plain)):
        assert plain.image(i).shape == (32, 43, 3)  # "auto": shorter side 2 x the crop
        assert np.array_equal(plain.image(i), first.image(i)) and np.array_equal(plain[i]["L"], first[i]["L"])

    def no_decoding(*a, **k):
        raise AssertionError("decoded a file the cache holds")

    monkeypatch.setattr(folder_module, "read_rgb", no_decoding)
    again = build_dataset("folder", "train", **kw)
    assert all(np.array_equal(again.image(i), first.image(i)) for i in range(len(again)))


def test_a_changed_file_is_decoded_again(tmp_path, cache):
    root = _photos(tmp_path / "photos", n=2)
    kw = dict(size=16, data_dir=root, ratios=(1.0, 0.0, 0.0))
    before = build_dataset("folder", "train", **kw).image(0).copy()
    Image.fromarray(np.full((90, 120, 3), (200, 30, 40), np.uint8)).save(root / "p0.png")
    os.utime(root / "p0.png", ns=(1, 1))  # even with an older mtime: the size or mtime changed
    after = build_dataset("folder", "train", **kw).image(0)
    assert not np.array_equal(before, after) and tuple(after[5, 5]) == (200, 30, 40)


def test_the_cache_is_bounded_least_recently_used_first(tmp_path):
    root = tmp_path / "c"
    for i, k in enumerate(["aa1", "aa2", "aa3"]):
        decoded.store(root, k, np.zeros((10, 10, 3), np.uint8))
        os.utime(decoded.entry(root, k), (100 + i, 100 + i))
    size = decoded.entry(root, "aa1").stat().st_size
    assert decoded.trim(root, keep={"aa1"}, limit=2 * size) == size
    assert sorted(p.stem for p in root.glob("*/*.npy")) == ["aa1", "aa3"]  # aa2, the oldest not kept, went


def test_a_long_decode_prints_a_progress_line(tmp_path, cache, monkeypatch, capsys):
    monkeypatch.setattr(folder_module, "PROGRESS_AFTER_S", 0.0)
    build_dataset("folder", "train", size=16, data_dir=_photos(tmp_path / "photos", n=3), ratios=(1.0, 0.0, 0.0))
    err = capsys.readouterr().err
    assert "decoding 3 of 3 photo(s) once into" in err and "decoded 3 photo(s) into" in err and "3/3 checked" in err


def test_auto_resize_never_enlarges_and_recipes_keep_native_size(tmp_path, cache):
    root = _photos(tmp_path / "photos", n=2, h=20, w=30)
    assert build_dataset("folder", "train", size=16, data_dir=root, ratios=(1.0, 0.0, 0.0)).image(0).shape == \
        (20, 30, 3)
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'[options]\ndata_dir = "{_photos(tmp_path / "big", n=2)}"\nratios = [1.0, 0.0, 0.0]\n')
    ds = build_dataset(str(recipe), "train", size=16)
    assert ds.image(0).shape == (90, 120, 3) and ds.cache_mode is None

"""The data layer's built-in datasets: item contract, determinism, labels, and the sample split never leaking."""
from __future__ import annotations

import numpy as np
import pytest
import skimage.color
import skimage.data
import torch
from torch.utils.data import default_collate

from colorbench.data import build_dataset, list_datasets, sample_test_photos
from colorbench.data.sample import BANDS, PHOTOS, SampleDataset, _photos, band_rows
from colorbench.errors import UserError


def _check_item(item: dict, size: int, num_classes: int | None) -> None:
    assert item["L"].shape == (1, size, size) and item["L"].dtype == torch.float32
    assert item["ab"].shape == (2, size, size) and item["ab"].dtype == torch.float32
    assert item["rgb"].shape == (3, size, size) and item["rgb"].dtype == torch.float32
    assert 0.0 <= item["rgb"].min() and item["rgb"].max() <= 1.0
    assert -1.0 - 1e-5 <= item["L"].min() and item["L"].max() <= 1.0 + 1e-5
    if num_classes is not None:
        assert 0 <= item["label"] < num_classes
    # L and ab are the item's own rgb in Lab, normalised: compare with skimage (its matrix is ~0.03 ΔE off ours)
    lab = skimage.color.rgb2lab(item["rgb"].permute(1, 2, 0).double().numpy())
    np.testing.assert_allclose((item["L"][0].double().numpy() + 1) * 50, lab[..., 0], atol=0.05)
    np.testing.assert_allclose(item["ab"].double().numpy().transpose(1, 2, 0) * 110, lab[..., 1:], atol=0.1)


@pytest.mark.parametrize("name", ["synthetic", "sample"])
@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_items_follow_the_contract(name, split):
    ds = build_dataset(name, split, size=32)
    assert ds.name == name and len(ds) > 0 and ds.num_classes is not None
    for i in (0, len(ds) - 1):
        item = ds[i]
        assert item["index"] == i
        _check_item(item, 32, ds.num_classes)
    batch = default_collate([ds[i] for i in range(4)])
    assert batch["L"].shape == (4, 1, 32, 32) and batch["label"].shape == (4,)


@pytest.mark.parametrize("name", ["synthetic", "sample"])
def test_train_augmentation_is_a_function_of_seed_epoch_index(name):
    a, b = build_dataset(name, "train", size=32, seed=3), build_dataset(name, "train", size=32, seed=3)
    for i in range(6):
        assert torch.equal(a[i]["rgb"], b[i]["rgb"])
    a.set_epoch(1)
    changed = sum(not torch.equal(a[i]["rgb"], b[i]["rgb"]) for i in range(12))
    assert changed > 0  # another epoch draws other crops / flips
    b.set_epoch(1)
    assert all(torch.equal(a[i]["rgb"], b[i]["rgb"]) for i in range(6))


@pytest.mark.parametrize("name", ["synthetic", "sample"])
def test_test_split_is_deterministic_and_unflipped(name):
    ds = build_dataset(name, "test", size=32, seed=0)
    first = [ds[i]["rgb"].clone() for i in range(4)]
    ds.set_epoch(7)
    other_seed = build_dataset(name, "test", size=32, seed=5)
    for i in range(4):
        assert torch.equal(ds[i]["rgb"], first[i])
    if name == "sample":  # the held-out patches do not depend on the run's seed
        assert all(torch.equal(other_seed[i]["rgb"], first[i]) for i in range(4))


def test_synthetic_colour_follows_class():
    ds = build_dataset("synthetic", "val", size=32, length=40)
    hues = {}
    for i in range(len(ds)):
        item = ds[i]
        ab = item["ab"] * 110
        chroma = ab.norm(dim=0)
        assert chroma.min() < 2.0  # grey background present
        obj = chroma > 25  # object pixels
        assert obj.sum() > 30
        hue = torch.rad2deg(torch.atan2(ab[1][obj], ab[0][obj])).median().item() % 360
        hues.setdefault(item["label"], []).append(hue)
    assert sorted(hues) == [0, 1, 2, 3]
    means = {k: float(np.median(v)) for k, v in hues.items()}
    for k, v in hues.items():  # each class has one hue, distinct from the others
        assert max(abs(h - means[k]) for h in v) < 12
    ordered = sorted(means.values())
    assert min(np.diff(ordered)) > 40


def test_sample_uses_every_photo_with_photo_labels():
    ds = build_dataset("sample", "test", size=64)
    assert ds.num_classes == len(PHOTOS) == 8
    assert 40 <= len(ds) <= 80
    labels = {ds[i]["label"] for i in range(len(ds))}
    assert labels == set(range(8))
    sources = {ds.source(i) for i in range(len(ds))}
    assert {"stereo_motorcycle_left", "stereo_motorcycle_right"} <= sources


def test_sample_bands_are_disjoint_and_cover_each_photo():
    for height in (60, 300, 427, 1411):
        rows = [band_rows(height, s) for s in ("train", "val", "test")]
        assert rows[0][0] == 0 and rows[-1][1] == height
        assert rows[0][1] == rows[1][0] and rows[1][1] == rows[2][0]
        assert all(hi > lo for lo, hi in rows)
    assert list(BANDS) == ["train", "val", "test"]


def test_sample_test_patches_come_only_from_the_test_band():
    """Every test patch, at native resolution, is found inside the photo's test band and in no other band."""
    ds = SampleDataset("test", size=32)
    photos = {name: image for name, _, image in _photos()}
    for v, band in enumerate(ds.bands):
        name = ds.view_names[v]
        image = photos[name]
        H, W = image.shape[:2]
        y0, y1 = band_rows(H, "test")
        # the resized band is the test band, and nothing above it: compare to a resize of exactly those rows
        ref = torch.nn.functional.interpolate(torch.from_numpy(np.array(image[y0:y1])).permute(2, 0, 1)[None].float(),
                                              size=band.shape[:2], mode="bilinear", antialias=True)
        np.testing.assert_array_equal(band, ref[0].round().clamp(0, 255).byte().permute(1, 2, 0).numpy())


def test_sample_train_never_sees_test_pixels():
    """Leak check in pixel space: no train crop (over several epochs) equals a test patch, and the train bands
    hold none of the test band's rows."""
    train = build_dataset("sample", "train", size=32)
    test = build_dataset("sample", "test", size=32)
    test_keys = {test[i]["rgb"].numpy().tobytes() for i in range(len(test))}
    for epoch in range(2):
        train.set_epoch(epoch)
        for i in range(0, len(train), 7):
            assert train[i]["rgb"].numpy().tobytes() not in test_keys
    for _name, _, image in _photos():
        t0, _ = band_rows(image.shape[0], "test")
        _, v1 = band_rows(image.shape[0], "val")
        _, r1 = band_rows(image.shape[0], "train")
        assert r1 <= t0 and v1 <= t0


def test_sample_test_photos_are_the_native_test_bands():
    photos = sample_test_photos()
    assert len(photos) == 9
    names = [n for n, _ in photos]
    assert names[0] == "astronaut" and "chelsea" in names
    astronaut = skimage.data.astronaut()
    name, rgb = photos[0]
    assert rgb.dtype == torch.float32 and rgb.shape == (3, 102, 512)
    np.testing.assert_array_equal((rgb * 255).round().byte().permute(1, 2, 0).numpy(), astronaut[410:])


def test_held_out_squares_are_native_squares_no_train_item_reaches():
    from colorbench.data import held_out_squares

    squares = held_out_squares(min_side=128)
    views = {name: image for name, _, image in _photos()}
    assert len(squares) == 17  # chelsea's held-out rows are 120 px: too short; one stereo view only
    assert not any(n.startswith(("chelsea", "stereo_motorcycle_right")) for n, _ in squares)
    for name, rgb in squares:
        view, i = name.rsplit("-", 1)
        image = views[view]
        H, W = image.shape[:2]
        side = rgb.shape[-1]
        assert rgb.shape == (3, side, side) and side >= 128
        y0 = band_rows(H, "val")[0]
        assert y0 >= band_rows(H, "train")[1] and y0 + side == H  # below every train row, down to the bottom
        # the crop is the photo's own pixels: find it among the held-out rows' centred squares
        arr = (rgb * 255).round().byte().permute(1, 2, 0).numpy()
        x0 = (W - (W // side) * side) // 2 + int(i) * side
        np.testing.assert_array_equal(arr, image[y0:, x0:x0 + side])
    # a train patch never covers a held-out row at any size: the train band ends where the squares begin
    ds = SampleDataset("train", size=64)
    for v, _band in enumerate(ds.bands):
        H = views[ds.view_names[v]].shape[0]
        assert band_rows(H, "train")[1] == band_rows(H, "val")[0]


def test_sample_builds_offline_without_files(monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("the sample dataset tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    ds = build_dataset("sample", "val", size=16)
    assert len(ds) > 0 and ds[0]["L"].shape == (1, 16, 16)


def test_unknown_names_and_options_are_user_errors():
    with pytest.raises(UserError, match="Did you mean 'sample'"):
        build_dataset("sampel")
    with pytest.raises(UserError, match="length2"):
        build_dataset("synthetic", length2=3)
    with pytest.raises(UserError, match="split"):
        build_dataset("synthetic", "training")
    with pytest.raises(UserError, match="data_dir"):
        build_dataset("sample", data_dir="/tmp")


def test_list_datasets_describes_each_name():
    infos = {info.name: info for info in list_datasets()}
    assert {"sample", "synthetic", "folder", "cifar10"} <= set(infos)
    for info in infos.values():
        assert info.description and info.source and info.size


@pytest.mark.parametrize("name", ["synthetic", "sample"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_get_batch_equals_collated_items(name, split):
    """The trainer's fast path (one Lab conversion per batch) gives what DataLoader collation gives."""
    ds = build_dataset(name, split, size=24, seed=2)
    ds.set_epoch(3)
    indices = [5, 0, 7, 3, 11, 2]
    fast = ds.get_batch(indices)
    slow = default_collate([ds[i] for i in indices])
    assert set(fast) == set(slow)
    assert torch.equal(fast["rgb"], slow["rgb"]) and torch.equal(fast["index"], slow["index"])
    assert torch.equal(fast["label"], slow["label"])
    assert torch.allclose(fast["L"], slow["L"], atol=1e-6) and torch.allclose(fast["ab"], slow["ab"], atol=1e-6)
    with pytest.raises(IndexError):
        ds.get_batch([len(ds)])

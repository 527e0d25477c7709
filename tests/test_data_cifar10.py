"""cifar10 through torchvision on a tiny fake copy in the torchvision layout: near-grey drop, val splits, errors."""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torchvision.datasets.cifar
from torchvision.datasets import CIFAR10

from colorbench.data import build_dataset
from colorbench.data.cifar10 import mean_hue, near_grey
from colorbench.errors import UserError

PER_BATCH = 12
GREY_EVERY = 4  # every 4th image is grey (R = G = B)


def _images(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    imgs[::GREY_EVERY] = imgs[::GREY_EVERY, :, :, :1]  # grey copies of the red channel
    return imgs


@pytest.fixture
def fake_cifar(tmp_path, monkeypatch):
    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    for i, (name, _) in enumerate(CIFAR10.train_list + CIFAR10.test_list):
        imgs = _images(PER_BATCH, i)
        data = imgs.transpose(0, 3, 1, 2).reshape(PER_BATCH, -1)
        with open(base / name, "wb") as fh:
            pickle.dump({"data": data, "labels": [(i + j) % 10 for j in range(PER_BATCH)]}, fh)
    with open(base / CIFAR10.meta["filename"], "wb") as fh:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, fh)
    # the fake files have other checksums than the real ones
    monkeypatch.setattr(CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args, **kwargs: True)
    return tmp_path


def test_near_grey_images_are_dropped_and_counted(fake_cifar):
    with pytest.warns(UserWarning, match=r"dropped 15 of 60 near-grey"):
        train = build_dataset("cifar10", "train", size=32, data_dir=fake_cifar, val_split="random")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        val = build_dataset("cifar10", "val", size=32, data_dir=fake_cifar)
        test = build_dataset("cifar10", "test", size=32, data_dir=fake_cifar)
        kept = build_dataset("cifar10", "test", size=32, data_dir=fake_cifar, drop_grey=False)
    assert train.dropped == 15 and len(train) + len(val) == 45 and len(val) == round(0.1 * 45)
    assert test.dropped == 3 and len(test) == 9 and len(kept) == 12
    assert not set(train.source_index) & set(val.source_index)
    item = train[0]
    assert item["L"].shape == (1, 32, 32) and 0 <= item["label"] < 10
    assert train.num_classes == 10


def test_hue_sorted_val_takes_every_tenth_by_hue(fake_cifar):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        val = build_dataset("cifar10", "val", size=32, data_dir=fake_cifar, val_split="hue")
        train = build_dataset("cifar10", "train", size=32, data_dir=fake_cifar, val_split="hue")
    assert len(val) == 4 and len(train) == 41  # 45 kept: positions 9, 19, 29, 39 of the hue order
    all_imgs = np.concatenate([train.images, val.images])
    order = np.sort(mean_hue(all_imgs))
    np.testing.assert_allclose(np.sort(mean_hue(val.images)), order[9::10][:4], rtol=1e-6)


def test_grey_rule_and_hue_against_skimage():
    import skimage.color

    imgs = _images(8, 99)
    grey = near_grey(imgs)
    assert grey.tolist() == [i % GREY_EVERY == 0 for i in range(8)]
    hsv_hue = np.array([skimage.color.rgb2hsv(im)[..., 0].mean() for im in imgs])
    np.testing.assert_allclose(mean_hue(imgs), hsv_hue, atol=1e-5)


def test_crop_and_upsample_sizes(fake_cifar):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small = build_dataset("cifar10", "test", size=24, data_dir=fake_cifar)
        large = build_dataset("cifar10", "test", size=64, data_dir=fake_cifar)
    assert small[0]["rgb"].shape == (3, 24, 24) and large[0]["rgb"].shape == (3, 64, 64)


def test_missing_copy_says_how_to_get_it(tmp_path):
    with pytest.raises(UserError, match="cs.toronto.edu"):
        build_dataset("cifar10", data_dir=tmp_path)
    with pytest.raises(UserError, match="data_dir"):
        build_dataset("cifar10")


def test_get_batch_equals_items(fake_cifar):
    import torch
    from torch.utils.data import default_collate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train = build_dataset("cifar10", "train", size=24, data_dir=fake_cifar)
    fast, slow = train.get_batch([3, 1, 4]), default_collate([train[i] for i in (3, 1, 4)])
    assert torch.equal(fast["rgb"], slow["rgb"]) and torch.equal(fast["label"], slow["label"])
    assert torch.allclose(fast["ab"], slow["ab"], atol=1e-6)


def test_kth_protocol_scores_the_codes_first_4992_test_images_unfiltered(fake_cifar):
    """src/GAN/main.py + get_loss of duartegalvao/Image-Colorization-with-Deep-Learning: X_test[0:5000] in
    int(5000 / 128) = 39 batches of 128, from the test batch in file order, no image dropped."""
    from colorbench.data import protocol_for

    assert protocol_for("cifar10_kth").max_images == int(5000 / 128) * 128 == 4_992
    assert protocol_for("cifar10_kth").size == 32 and protocol_for("cifar10").max_images is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = build_dataset("cifar10_kth", "test", size=32, data_dir=fake_cifar)
        train = build_dataset("cifar10_kth", "train", size=32, data_dir=fake_cifar)
        ours = build_dataset("cifar10", "train", size=32, data_dir=fake_cifar)
    assert test.dropped == 0 and test.source_index.tolist() == list(range(PER_BATCH))  # grey ones kept, in order
    assert train.dropped == 15 and train.source_index.tolist() == ours.source_index.tolist()  # training as cifar10

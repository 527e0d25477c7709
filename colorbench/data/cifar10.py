"""``cifar10``: CIFAR-10 through torchvision from a local copy, with the KTH recipe (Galvão et al. 2019, §3).

* **Near-grey images are dropped** (KTH: "581 gray images ... were discarded"; their threshold is not stated).
  Ours: an image is near-grey when 99% of its pixels have chroma ``C*ab = sqrt(a² + b²) < 4`` (Lab units), i.e. its
  ``GREY_PERCENTILE``-th percentile chroma is below ``GREY_CHROMA``. The count dropped is printed when the dataset
  is built and kept in ``dataset.dropped``; ``drop_grey=False`` keeps every image, ``drop_grey_test=False`` every
  test image (the KTH code never filters its test batch).
* **Validation split** (``val_split``): ``"random"`` (default; a seeded 10% of the train set, KTH's "naive" split)
  or ``"hue"`` (KTH's colour-balanced split: images sorted by the mean HSV hue of their pixels, every 10th to val).
  ``split_seed`` (default 0) fixes the random split; test = CIFAR-10's test set.
* **Size**: items are 32×32; ``size < 32`` crops (random on train, centred otherwise), ``size > 32`` upsamples.

The files are read from ``data_dir`` (the folder holding ``cifar-10-batches-py/``); ``download=True`` lets
torchvision fetch them there first, and only then is the network used.

``cifar10_kth`` (:class:`Cifar10KTHDataset`): the same training data, and the test images the KTH report's figures
were measured on: its code (``src/GAN/main.py`` and ``get_loss`` in ``src/GAN/model.py`` of
duartegalvao/Image-Colorization-with-Deep-Learning) scores ``X_test[0:5000]`` in ``int(5000 / 128) = 39`` batches
of 128, i.e. the **first 4,992 images of CIFAR-10's test batch, in file order, unfiltered** (the report: "calculated
for 5 000 samples"). Its protocol (:mod:`colorbench.data.registry`) takes those 4,992; this class keeps every test
image (``drop_grey_test=False``).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from colorbench.color import rgb_to_lab
from colorbench.data.base import InMemoryDataset
from colorbench.data.transforms import centre_crop_box, item_rng, random_crop_box, resize_uint8
from colorbench.errors import UserError

GREY_CHROMA = 4.0  # Lab units
GREY_PERCENTILE = 99.0
VAL_FRACTION = 0.1
HOW_TO_GET = ("download the CIFAR-10 python version (cifar-10-python.tar.gz) from "
              "https://www.cs.toronto.edu/~kriz/cifar.html, untar it so that DIR/cifar-10-batches-py/ exists and pass "
              "--data-dir DIR (or build with download=True on a machine with a network)")


def near_grey(images: np.ndarray, chroma: float = GREY_CHROMA, percentile: float = GREY_PERCENTILE,
              batch: int = 4096) -> np.ndarray:
    """``[N,H,W,3]`` uint8 -> ``[N]`` bool: the ``percentile``-th percentile of pixel chroma is below ``chroma``."""
    out = np.zeros(len(images), dtype=bool)
    for s in range(0, len(images), batch):
        rgb = torch.from_numpy(np.array(images[s:s + batch])).permute(0, 3, 1, 2).float().div_(255)
        lab = rgb_to_lab(rgb)
        c = lab[:, 1:].square().sum(1).sqrt().flatten(1)
        out[s:s + batch] = (torch.quantile(c, percentile / 100, dim=1) < chroma).numpy()
    return out


def mean_hue(images: np.ndarray) -> np.ndarray:
    """``[N,H,W,3]`` uint8 -> ``[N]`` the arithmetic mean of each image's HSV hue in [0, 1) (grey pixels count 0)."""
    x = images.astype(np.float32) / 255
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    mx, mn = x.max(-1), x.min(-1)
    d = np.where(mx > mn, mx - mn, 1.0)
    h = np.where(mx == r, (g - b) / d, np.where(mx == g, 2.0 + (b - r) / d, 4.0 + (r - g) / d))
    h = np.where(mx > mn, (h / 6.0) % 1.0, 0.0)
    return h.reshape(len(images), -1).mean(1)


class Cifar10Dataset(InMemoryDataset):
    """CIFAR-10 (see the module docstring). Options: ``drop_grey``, ``val_split``, ``split_seed``, ``download``."""

    name = "cifar10"
    num_classes = 10

    def __init__(self, split: str = "train", *, size: int = 32, seed: int = 0, data_dir: str | Path | None = None,
                 drop_grey: bool = True, val_split: str = "random", split_seed: int = 0,
                 download: bool = False, drop_grey_test: bool = True) -> None:
        super().__init__(split, size=size, seed=seed)
        if data_dir is None:
            raise UserError(f"dataset 'cifar10' needs data_dir (--data-dir): {HOW_TO_GET}")
        if val_split not in ("random", "hue"):
            raise UserError(f"val_split must be 'random' or 'hue'; got {val_split!r}")
        root = Path(data_dir).expanduser()
        if not download and not (root / "cifar-10-batches-py").is_dir():
            raise UserError(f"dataset 'cifar10': {root / 'cifar-10-batches-py'} does not exist; {HOW_TO_GET}")
        from torchvision.datasets import CIFAR10

        try:
            source = CIFAR10(str(root), train=split != "test", download=download)
        except RuntimeError as exc:
            raise UserError(f"dataset 'cifar10' at {root}: {exc}; {HOW_TO_GET}") from None
        images, labels = np.asarray(source.data), np.asarray(source.targets, dtype=np.int64)
        keep = np.arange(len(images))
        self.dropped = 0
        if drop_grey and (drop_grey_test or split != "test"):
            grey = near_grey(images)
            self.dropped = int(grey.sum())
            keep = keep[~grey]
            warnings.warn(f"cifar10 ({'test' if split == 'test' else 'train+val'}): dropped {self.dropped:,} of "
                          f"{len(images):,} near-grey images (99% of pixels with chroma < {GREY_CHROMA:g})",
                          stacklevel=3)
        if split != "test":
            if val_split == "hue":
                order = keep[np.argsort(mean_hue(images[keep]), kind="stable")]
                is_val = np.zeros(len(order), dtype=bool)
                is_val[9::10] = True
            else:
                order = keep
                is_val = np.zeros(len(order), dtype=bool)
                drawn = np.random.default_rng(split_seed).permutation(len(order))
                is_val[drawn[: round(VAL_FRACTION * len(order))]] = True
            keep = np.sort(order[is_val if split == "val" else ~is_val])
        self.images, self.labels = images[keep], labels[keep]
        self.source_index = keep  # position in torchvision's CIFAR10 (train or test file)

    def __len__(self) -> int:
        return len(self.images)

    def crop(self, index: int) -> tuple[np.ndarray, int, bool]:
        image = self.images[index]
        flip = False
        if self.size > image.shape[0]:
            image = resize_uint8(image, self.size, self.size)
        if self.augment:
            rng = item_rng(self.seed, self.epoch, index)
            y, x = random_crop_box(image.shape[0], image.shape[1], self.size, rng)
            flip = bool(rng.integers(0, 2))
        else:
            y, x = centre_crop_box(image.shape[0], image.shape[1], self.size)
        return image[y:y + self.size, x:x + self.size], int(self.labels[index]), flip


KTH_TEST_IMAGES = 39 * 128
"""The KTH code's test images: ``int(5000 / 128)`` whole batches of 128 from the start of the test batch (4,992)."""


class Cifar10KTHDataset(Cifar10Dataset):
    """CIFAR-10 with the KTH report's test images (see the module docstring): the test split unfiltered."""

    name = "cifar10_kth"

    def __init__(self, split: str = "train", *, drop_grey_test: bool = False, **options) -> None:
        super().__init__(split, drop_grey_test=drop_grey_test, **options)

"""``sample``: the former default (kept for tests and the resolution report), patches of the colour photographs
that ship inside scikit-image.

Split without leaks: every photo is cut into three horizontal bands, by fraction of its height,
``train = [0, 0.6)``, ``val = [0.6, 0.8)``, ``test = [0.8, 1.0]``; each band is resized on its own (so no filter
reaches across a band edge) and patches are taken only inside their split's band. The two views of
``stereo_motorcycle`` share their rows, so the same scene region stays in one split.

Scale: each band is resized by the factor that makes the photo's shorter side ``photo_scale × size`` pixels
(default 5: at ``size=64`` the photos are 320 px on their shorter side, and a patch shows a fifth of it). The
val and test bands are then (at least) one patch tall; their patches are a fixed, centred grid (about 50 at any size),
with no flips. Train items are random crops inside the train band (and flips), ``train_repeats`` (default 2) times
as many per epoch as the train band holds non-overlapping patches. Label = the source photo (8 classes).

Decoded photos are cached in memory (uint8), once per process; loading them takes about a second.
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from colorbench.data.base import InMemoryDataset
from colorbench.data.transforms import item_rng, random_crop_box, resize_uint8

# photo name -> skimage.data loader name. Label = position in this table.
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
          "stereo_motorcycle")
BANDS = {"train": (0.0, 0.6), "val": (0.6, 0.8), "test": (0.8, 1.0)}


@functools.lru_cache(maxsize=1)
def _photos() -> tuple[tuple[str, int, np.ndarray], ...]:
    """``(view name, label, [H,W,3] uint8)`` for every view of every embedded photo, decoded once."""
    import skimage.data

    views = []
    for label, name in enumerate(PHOTOS):
        image = getattr(skimage.data, name)()
        if name == "stereo_motorcycle":  # (left, right, disparity)
            views += [(f"{name}_left", label, image[0]), (f"{name}_right", label, image[1])]
        else:
            views.append((name, label, image))
    for view in views:
        view[2].setflags(write=False)
    return tuple(views)


def band_rows(height: int, split: str) -> tuple[int, int]:
    """Rows ``[start, stop)`` of ``split``'s band in a photo ``height`` rows tall (native resolution)."""
    lo, hi = BANDS[split]
    return round(lo * height), round(hi * height)


def sample_test_photos() -> list[tuple[str, torch.Tensor]]:
    """The held-out test bands of the embedded photos at full resolution: ``[(name, rgb [3,H,W] float32 in [0,1])]``.

    These regions are never seen by any ``sample`` train or val item, at any size.
    """
    out = []
    for name, _, image in _photos():
        y0, y1 = band_rows(image.shape[0], "test")
        rgb = torch.from_numpy(np.array(image[y0:y1])).permute(2, 0, 1).float().div_(255.0)
        out.append((name, rgb.contiguous()))
    return out


HELD_OUT_ROWS = (BANDS["val"][0], BANDS["test"][1])
"""Rows (fractions of a photo's height) that no train item ever reaches: the val and test bands together."""


def held_out_squares(min_side: int = 128) -> list[tuple[str, torch.Tensor]]:
    """Square crops of the embedded photos' held-out rows at native resolution, for people to judge:
    ``[(f"{view}-{i}", rgb [3,s,s] float32 in [0,1])]``.

    Each view's held-out rows (:data:`HELD_OUT_ROWS`, the val and test bands: no train item reaches them, at any
    size) give a centred row of non-overlapping squares as tall as those rows; a view whose rows are shorter than
    ``min_side`` px gives none, and of the two stereo views only the left is used (the right shows the same scene,
    which a participant would see twice). The test bands alone are 60-282 px tall, too thin for squares of 128 px in
    most photos; taking val with them leaves the split and the evaluation protocol as they are.
    """
    out, labels = [], set()
    for name, label, image in _photos():
        if label in labels:
            continue
        labels.add(label)
        H, W = image.shape[:2]
        y0, y1 = round(HELD_OUT_ROWS[0] * H), round(HELD_OUT_ROWS[1] * H)
        side = y1 - y0
        if side < min_side:
            continue
        for i, (_, x) in enumerate(grid_boxes(side, W, side)):
            crop = np.array(image[y0:y1, x:x + side])
            out.append((f"{name}-{i}", torch.from_numpy(crop).permute(2, 0, 1).float().div_(255.0).contiguous()))
    return out


def grid_boxes(height: int, width: int, size: int) -> list[tuple[int, int]]:
    """Top-left corners of the centred grid of non-overlapping ``size`` patches in ``height``×``width``."""
    ny, nx = height // size, width // size
    oy, ox = (height - ny * size) // 2, (width - nx * size) // 2
    return [(oy + i * size, ox + j * size) for i in range(ny) for j in range(nx)]


class SampleDataset(InMemoryDataset):
    """Patches of scikit-image's bundled colour photos (see the module docstring).

    Options: ``photo_scale`` (shorter photo side in patches, default 5), ``train_repeats`` (default 2).
    """

    name = "sample"
    num_classes = len(PHOTOS)

    def __init__(self, split: str = "train", *, size: int = 64, seed: int = 0, photo_scale: float = 5.0,
                 train_repeats: int = 2) -> None:
        super().__init__(split, size=size, seed=seed)
        self.photo_scale = float(photo_scale)
        self.bands: list[np.ndarray] = []  # this split's band of each view, resized, [h,w,3] uint8
        self.labels: list[int] = []
        self.view_names: list[str] = []
        for name, label, image in _photos():
            H, W = image.shape[:2]
            scale = self.photo_scale * size / min(H, W)
            y0, y1 = band_rows(H, self.split)
            h, w = max(size, round((y1 - y0) * scale)), max(size, round(W * scale))
            self.bands.append(resize_uint8(image[y0:y1], h, w))
            self.labels.append(label)
            self.view_names.append(name)
        # items: (view, y, x) fixed for val/test; (view, None, None) for train (crop drawn per epoch)
        self.items: list[tuple[int, int | None, int | None]] = []
        for v, band in enumerate(self.bands):
            boxes = grid_boxes(band.shape[0], band.shape[1], size)
            if self.augment:
                self.items += [(v, None, None)] * (len(boxes) * int(train_repeats))
            else:
                self.items += [(v, y, x) for y, x in boxes]

    def __len__(self) -> int:
        return len(self.items)

    def crop(self, index: int) -> tuple[np.ndarray, int, bool]:
        v, y, x = self.items[index]
        band = self.bands[v]
        flip = False
        if y is None:
            rng = item_rng(self.seed, self.epoch, index)
            y, x = random_crop_box(band.shape[0], band.shape[1], self.size, rng)
            flip = bool(rng.integers(0, 2))
        return band[y:y + self.size, x:x + self.size], self.labels[v], flip

    def source(self, index: int) -> str:
        """The photo (view) that item ``index`` comes from."""
        return self.view_names[self.items[index][0]]

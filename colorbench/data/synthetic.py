"""``synthetic``: generated images in which colour is a learnable function of shape and texture (for tests).

Each image shows one object on a neutral (grey) background. The object's class decides its shape/texture and its hue:

====  =========================  =========
class  shape (seen in L)          hue (°)
====  =========================  =========
0      disc, flat                 40 (red-orange)
1      square, checkerboard       130 (green)
2      disc, stripes              250 (blue)
3      triangle, dots             320 (magenta)
====  =========================  =========

The background and the object differ in lightness (at least 15 L units), and each class has its own texture (period
``size/8``, ±8 L), so a network that sees only L can find the object and tell its class both from its outline and
locally from its texture, and paint it; everything else stays grey (a = b = 0). Images are
drawn in Lab (chroma 40), converted to sRGB (clipped) and quantised to uint8, so ``rgb``, ``L`` and ``ab`` agree.
An item is a pure function of ``(seed, split, index)`` (train flips also of the epoch); nothing is stored.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from colorbench.color import lab_to_rgb
from colorbench.data.base import InMemoryDataset
from colorbench.data.transforms import item_rng

CLASS_NAMES = ("disc", "square", "stripes", "triangle")  # shape + texture: flat, checkerboard, stripes, dots
CLASS_HUES_DEG = (40.0, 130.0, 250.0, 320.0)
CHROMA = 40.0
DEFAULT_LENGTH = {"train": 256, "val": 64, "test": 64}
_SPLIT_STREAM = {"train": 1, "val": 2, "test": 3}


def _object_mask(cls: int, xx: np.ndarray, yy: np.ndarray, r: float, angle: float, size: int) -> np.ndarray:
    """Anti-aliased coverage in [0,1] of the class's shape; ``xx``, ``yy`` are pixel offsets from the centre."""
    c, s = math.cos(angle), math.sin(angle)
    u, v = c * xx + s * yy, -s * xx + c * yy  # rotated coordinates
    if cls in (0, 2):  # disc: signed distance to the circle
        sd = np.sqrt(xx**2 + yy**2) - r
    elif cls == 1:  # square of half-side r/1.15 (similar area to the disc)
        h = r / 1.15
        sd = np.maximum(np.abs(u), np.abs(v)) - h
    else:  # equilateral triangle with circumradius 1.3 r
        R = 1.3 * r
        sd = np.full_like(xx, -np.inf)
        for k in range(3):
            t = angle + k * 2 * math.pi / 3
            sd = np.maximum(sd, math.cos(t) * xx + math.sin(t) * yy - R / 2)
    return np.clip(0.5 - sd, 0.0, 1.0)


def render(cls: int, rng: np.random.Generator, size: int) -> np.ndarray:
    """One ``[size,size,3]`` uint8 sRGB image of class ``cls`` drawn with the random generator ``rng``."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    cx, cy = rng.uniform(0.35, 0.65, size=2) * size
    r = rng.uniform(0.22, 0.32) * size
    angle = rng.uniform(0, 2 * math.pi)
    obj_l = rng.uniform(45.0, 70.0)
    bg_l = obj_l + rng.choice([-1.0, 1.0]) * rng.uniform(15.0, 30.0)
    # background: a gentle lightness gradient in a random direction
    g = rng.uniform(0, 2 * math.pi)
    grad = (math.cos(g) * (xx / size - 0.5) + math.sin(g) * (yy / size - 0.5)) * rng.uniform(0.0, 12.0)
    bg = np.clip(bg_l + grad, 5.0, 95.0)
    mask = _object_mask(cls, xx - cx, yy - cy, r, angle, size)
    obj = np.full_like(xx, obj_l)
    period = max(4.0, size / 8)
    u = 2 * math.pi * (math.cos(angle) * (xx - cx) + math.sin(angle) * (yy - cy)) / period
    v = 2 * math.pi * (-math.sin(angle) * (xx - cx) + math.cos(angle) * (yy - cy)) / period
    if cls == 1:  # checkerboard
        obj = obj + np.where(np.sin(u) * np.sin(v) >= 0, 8.0, -8.0)
    elif cls == 2:  # stripes: a square wave in lightness across the disc
        obj = obj + np.where(np.sin(u) >= 0, 8.0, -8.0)
    elif cls == 3:  # dots on a grid
        obj = obj + np.where(np.cos(u) + np.cos(v) > 1.0, 10.0, -2.0)
    L = mask * obj + (1 - mask) * bg
    hue = math.radians(CLASS_HUES_DEG[cls])
    a = mask * CHROMA * math.cos(hue)
    b = mask * CHROMA * math.sin(hue)
    lab = torch.from_numpy(np.stack([L, a, b]))[None]
    rgb = lab_to_rgb(lab, clip=True, warn=False)[0]
    return (rgb * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()


class SyntheticDataset(InMemoryDataset):
    """Generated shapes whose colour follows from shape and texture (see the module docstring).

    Options: ``length`` (items in the split; default 256 train / 64 val / 64 test).
    """

    name = "synthetic"
    num_classes = len(CLASS_NAMES)

    def __init__(self, split: str = "train", *, size: int = 64, seed: int = 0, length: int | None = None) -> None:
        super().__init__(split, size=size, seed=seed)
        self.length = int(length if length is not None else DEFAULT_LENGTH[self.split])

    def __len__(self) -> int:
        return self.length

    def label(self, index: int) -> int:
        """The class of item ``index`` (balanced: classes cycle through the indices)."""
        return index % len(CLASS_NAMES)

    def crop(self, index: int) -> tuple[np.ndarray, int, bool]:
        cls = self.label(index)
        image = render(cls, item_rng(self.seed, 0, index, _SPLIT_STREAM[self.split]), self.size)
        flip = self.augment and bool(item_rng(self.seed, self.epoch, index, 10).integers(0, 2))
        return image, cls, flip

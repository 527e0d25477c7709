"""The dataset base class: split, size, seed and the epoch that augmentation depends on."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from torch.utils.data import Dataset

from colorbench.data.transforms import to_batch, to_item

from colorbench.errors import UserError

SPLITS = ("train", "val", "test")


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    return split


def check_size(size: int) -> int:
    if not isinstance(size, int) or size < 1:
        raise UserError(f"size must be a positive integer (the square crop in pixels); got {size!r}")
    return size


class ColorDataset(Dataset):
    """Base for colorbench datasets. Items: see :func:`colorbench.data.transforms.to_item`.

    Attributes: ``name``, ``split``, ``size`` (square crop in px), ``seed``, ``epoch``, ``num_classes`` (None when
    the dataset has no labels). Train-split augmentation is a pure function of ``(seed, epoch, index)``; call
    :meth:`set_epoch` at the start of each epoch. Val and test are deterministic centre crops without flips.
    """

    name: str = "?"
    num_classes: int | None = None
    uint8_batches: bool = False
    """True: items hold ``rgb_u8`` (``[3,H,W]`` uint8) instead of L, ab and rgb, and the consumer converts whole
    batches (``colorbench.data.transforms.lab_batch``; ``colorbench.train.batches.to_device`` does, on the training
    device). The trainer sets it on CUDA for datasets that support it (padded folder crops stay float)."""

    def __init__(self, split: str = "train", *, size: int = 64, seed: int = 0) -> None:
        self.split = check_split(split)
        self.size = check_size(size)
        self.seed = int(seed)
        self.epoch = 0

    @property
    def augment(self) -> bool:
        """True on the train split (random crops and flips)."""
        return self.split == "train"

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation of this epoch (crops, flips) for every later ``__getitem__``."""
        self.epoch = int(epoch)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, split={self.split!r}, size={self.size}, "
                f"seed={self.seed}, len={len(self)}, num_classes={self.num_classes})")


class InMemoryDataset(ColorDataset):
    """A dataset whose crops come from memory: subclasses define :meth:`crop`; items and whole batches follow.

    ``get_batch(indices)`` is the trainer's fast path (no DataLoader, one Lab conversion per batch); it returns what
    torch's default collate makes of ``[self[i] for i in indices]``."""

    def crop(self, index: int) -> tuple[np.ndarray, int | None, bool]:
        """``([size,size,3] uint8 sRGB crop, label or None, flip)`` of item ``index`` (augmentation applied)."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {self!r}")
        image, label, flip = self.crop(index)
        return to_item(image, index, label, flip=flip, uint8=self.uint8_batches)

    def get_batch(self, indices: Sequence[int]) -> dict:
        """The collated batch of ``indices``: ``L [B,1,H,W]``, ``ab [B,2,H,W]``, ``rgb [B,3,H,W]``, ``index [B]``,
        ``label [B]`` (datasets with classes)."""
        indices = [int(i) for i in indices]
        for i in indices:
            if not 0 <= i < len(self):
                raise IndexError(f"index {i} out of range for {self!r}")
        crops = [self.crop(i) for i in indices]
        return to_batch([c[0] for c in crops], indices, [c[1] for c in crops], [c[2] for c in crops],
                        uint8=self.uint8_batches)

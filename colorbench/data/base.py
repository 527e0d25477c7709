"""The dataset base class: split, size, seed and the epoch that augmentation depends on."""
from __future__ import annotations

from torch.utils.data import Dataset

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

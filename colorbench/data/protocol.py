"""Evaluation protocols: which split, at which size, how many crops of each photo and how many images a dataset's
results are measured on.

A protocol belongs to the dataset, not to a profile or a command line: every bench row, ``colorbench eval`` and
validation during training measure a dataset the same way, so two numbers for one dataset are comparable. The
built-in datasets declare theirs in :mod:`colorbench.data.registry`; a recipe in its ``[protocol]`` table::

    [protocol]
    split = "test"
    size = 256          # the square test crop in px (the same ``size`` as build_dataset's)
    crops = 4           # optional: a centred 2x2 grid of crops per photo (1, 4, 9, ...; default 1, the centre)
    max_images = 5000   # optional: the first N images of the split, in its fixed order

Validation uses the same protocol on the ``val`` split (``validation()``), at most :data:`VAL_IMAGES` images.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from colorbench.errors import UserError

VAL_IMAGES = 32
"""Images of the val split scored at each validation during training (the same ones whatever the batch size)."""


@dataclass(frozen=True)
class Protocol:
    """``split``: the split scored; ``size``: the square crop in px; ``crops``: crops per photo (a centred
    ``√crops``×``√crops`` grid of adjacent crops; the items of one photo are consecutive, and tables resample photos,
    not crops); ``max_images``: the first N items (None: all)."""

    split: str = "test"
    size: int = 64
    max_images: int | None = None
    crops: int = 1

    def __post_init__(self) -> None:
        if self.split not in ("train", "val", "test"):
            raise UserError(f"evaluation protocol: split must be train, val or test; got {self.split!r}")
        if not isinstance(self.size, int) or self.size < 11:
            raise UserError(f"evaluation protocol: size must be an integer >= 11 (SSIM's 11x11 window); "
                            f"got {self.size!r}")
        root = int(self.crops ** 0.5 + 0.5) if isinstance(self.crops, int) and self.crops > 0 else 0
        if root * root != self.crops:
            raise UserError(f"evaluation protocol: crops must be a square number (1, 4, 9, ...: a centred grid of "
                            f"crops per photo); got {self.crops!r}")
        if self.max_images is not None and (not isinstance(self.max_images, int) or self.max_images < 1):
            raise UserError(f"evaluation protocol: max_images must be a positive integer or absent; "
                            f"got {self.max_images!r}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def dataset_options(self) -> dict[str, Any]:
        """Keyword options of :func:`colorbench.data.build_dataset` that this protocol adds (``crops`` beyond 1)."""
        return {"crops": self.crops} if self.crops != 1 else {}

    def validation(self, max_images: int = VAL_IMAGES) -> "Protocol":
        """The same protocol on the val split, first ``max_images`` images."""
        limit = max_images if self.max_images is None else min(max_images, self.max_images)
        return replace(self, split="val", max_images=limit)

    def describe(self) -> str:
        count = "all images" if self.max_images is None else f"the first {self.max_images} images"
        crops = f", {self.crops} crops per photo" if self.crops != 1 else ""
        return f"{self.split} split at {self.size} px{crops}, {count}"


def from_table(table: Any, where: str, default: Protocol) -> Protocol:
    """A protocol from a recipe's ``[protocol]`` table (missing keys from ``default``)."""
    if table is None:
        return default
    if not isinstance(table, dict):
        raise UserError(f"{where}: [protocol] must be a table with split, size and optionally crops, max_images")
    unknown = sorted(set(table) - {"split", "size", "crops", "max_images"})
    if unknown:
        raise UserError(f"{where}: unknown key(s) in [protocol]: {', '.join(unknown)}; valid: crops, max_images, "
                        "size, split")
    return replace(default, **table)

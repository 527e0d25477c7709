"""Whole test photos of a dataset, for people to look at (the bench's sample grid): not the evaluation's crops.

:func:`first_test_photos` returns the first ``n`` photos behind a dataset's items, resized to a given shorter side:

* ``sample``: the held-out test bands of the embedded photos (:func:`colorbench.data.sample_test_photos`), in
  their fixed order, whatever split the dataset object was built for;
* a dataset that exposes its source images (``paths`` and ``image(i)``, as ``folder`` and the recipes do): its
  first ``n`` images whole (after the dataset's own ``resize``; a photo that gives several crops is one photo),
  named after their files;
* any other dataset (``synthetic``, ``cifar10``: each item is a whole image already): item ``i``'s image.

A photo longer than ``max_aspect`` times its shorter side keeps a centred window of that aspect (the ``sample``
test bands are strips of 5:1 to 8:1; a grid of whole strips would be several thousand pixels wide), so ordinary
photos (up to 2:1 by default) stay whole.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from colorbench.data.transforms import resize_short_side

MAX_ASPECT = 2.0
"""Default longest side of a returned photo, in shorter sides."""


def first_test_photos(dataset: Any, n: int, short_side: int = 128,
                      max_aspect: float | None = MAX_ASPECT) -> list[tuple[str, np.ndarray]]:
    """The first ``n`` photos of ``dataset`` (see the module docstring) as ``[(name, [H,W,3] uint8 sRGB)]`` with
    ``min(H, W) == short_side`` (enlarged or shrunk, aspect kept) and ``max(H, W) <= max_aspect * short_side``
    (centred window; ``None`` keeps whole photos). Fewer when the dataset holds fewer."""
    from colorbench.data.sample import SampleDataset, sample_test_photos

    if isinstance(dataset, SampleDataset):
        raw = [(name, (rgb.permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8))
               for name, rgb in sample_test_photos()[:n]]
    else:
        paths = getattr(dataset, "paths", None)  # one per photo; a photo may give several items (crops)
        count = len(paths) if paths is not None else len(dataset)
        raw = [(_name(dataset, i), _image(dataset, i)) for i in range(min(n, count))]
    return [(name, _window(resize_short_side(image, short_side), max_aspect)) for name, image in raw]


def _name(dataset: Any, i: int) -> str:
    paths = getattr(dataset, "paths", None)
    return Path(paths[i]).stem if paths is not None else f"#{i}"


def _image(dataset: Any, i: int) -> np.ndarray:
    image = getattr(dataset, "image", None)
    if callable(image) and getattr(dataset, "paths", None) is not None:
        return np.asarray(image(i), dtype=np.uint8)
    item = dataset[i]
    if "rgb_u8" in item:
        return item["rgb_u8"].permute(1, 2, 0).numpy()
    return (item["rgb"].permute(1, 2, 0).clamp(0, 1).numpy() * 255.0).round().astype(np.uint8)


def _window(image: np.ndarray, max_aspect: float | None) -> np.ndarray:
    if max_aspect is None:
        return image
    h, w = image.shape[:2]
    long = max(int(min(h, w) * max_aspect), min(h, w))
    y0, x0 = max(0, (h - long) // 2), max(0, (w - long) // 2)
    return np.ascontiguousarray(image[y0:y0 + long, x0:x0 + long])

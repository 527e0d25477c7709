"""A train cell's sample photos: the trained method colourises the first test photos of its dataset whole
(:func:`colorbench.data.first_test_photos`, :data:`SIDE` px on the shorter side) for the bench's sample grid.

``samples.npz`` holds ``names`` (the photos' names), ``true_<i>`` and ``pred_<i>`` (``[H,W,3]`` uint8 sRGB: the
photo and the method's colourisation of its lightness, same size; ``pred_<i>`` is absent where the prediction was
not finite). :mod:`colorbench.report.samples` reads it back.
"""
from __future__ import annotations

from typing import Any

import numpy as np

SIDE = 128
"""Shorter side of every sample photo, in px."""


def colourise(method: Any, dataset: Any, n: int, side: int = SIDE) -> dict[str, np.ndarray]:
    """The arrays of ``samples.npz``: ``method`` colourises the first ``n`` test photos of ``dataset``, each whole,
    in float32 (:func:`colorbench.inference.colorize_photo`)."""
    from colorbench.data import first_test_photos
    from colorbench.errors import UserError
    from colorbench.inference import Settings, colorize_photo

    photos = first_test_photos(dataset, n, side)
    arrays: dict[str, np.ndarray] = {"names": np.array([name for name, _ in photos], dtype=str)}
    for i, (_, rgb) in enumerate(photos):
        arrays[f"true_{i}"] = rgb
        try:
            arrays[f"pred_{i}"] = colorize_photo(method, rgb, Settings(precision="fp32"))
        except UserError:  # a non-finite prediction: the grid shows an empty cell, the cell still counts
            pass
    return arrays

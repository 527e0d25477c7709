"""Reading a bench cell's sample photos (``samples.npz``, written by :mod:`colorbench.bench.samples`) for the
sample grid (:func:`colorbench.report.figures.sample_grid`). Records of earlier versions held ``L``, ``ab_true`` and
``ab_pred`` of the first test crops (normalised, float16); :func:`read` turns those into the same form.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from colorbench.bench.samples import SIDE

__all__ = ["SIDE", "Samples", "grey", "read"]


@dataclass
class Samples:
    """One cell's sample photos: names, the truths and the predictions (None: no finite prediction)."""

    names: list[str]
    truth: list[np.ndarray]
    pred: list[np.ndarray | None]


def _rgb(L: np.ndarray, ab: np.ndarray) -> np.ndarray:
    import torch

    from colorbench.color import network_to_rgb

    t = network_to_rgb(torch.from_numpy(L[None].astype(np.float32)), torch.from_numpy(ab[None].astype(np.float32)))
    return (t[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255.0).round().astype(np.uint8)


def read(arrays: Mapping[str, np.ndarray]) -> Samples | None:
    """The photos of a ``samples.npz`` (either form), or None when it holds none."""
    if "names" in arrays:
        names = [str(n) for n in np.asarray(arrays["names"]).reshape(-1)]
        truth = [np.asarray(arrays[f"true_{i}"], dtype=np.uint8) for i in range(len(names))]
        pred = [np.asarray(arrays[f"pred_{i}"], dtype=np.uint8) if f"pred_{i}" in arrays else None
                for i in range(len(names))]
    elif "L" in arrays and np.asarray(arrays["L"]).ndim == 4:
        L, ab_true, ab_pred = (np.asarray(arrays[k]) for k in ("L", "ab_true", "ab_pred"))
        names = [f"#{i}" for i in range(len(L))]
        truth = [_rgb(L[i], ab_true[i]) for i in range(len(L))]
        pred = [_rgb(L[i], ab_pred[i]) for i in range(len(L))]
    else:
        return None
    return Samples(names, truth, pred) if names else None


def grey(rgb: np.ndarray) -> np.ndarray:
    """``[H,W,3]`` uint8 sRGB -> the grey image a method sees: its Lab lightness with a = b = 0, as sRGB uint8."""
    import torch

    from colorbench.color import rgb_to_network

    L, ab = rgb_to_network(torch.from_numpy(rgb).permute(2, 0, 1)[None].float().div(255.0))
    return _rgb(L[0].numpy(), np.zeros_like(ab[0].numpy()))

"""Pad an image batch to a multiple of a network's total stride, and crop the prediction back.

A U-Net with ``levels`` stride-2 downsamplings needs H and W divisible by ``2**levels``; methods pad on the
bottom and right (so the top-left pixel stays at the origin), run the network, and crop back to ``(H, W)``.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def pad_to_multiple(
    x: torch.Tensor, multiple: int, mode: str = "reflect"
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad ``x`` ``[B,C,H,W]`` on the bottom and right so H and W become multiples of ``multiple``.

    Returns ``(x_pad, (H, W))``: the padded batch and the original size to give to :func:`crop_to`.
    ``mode`` is ``"reflect"`` (default), ``"replicate"``, ``"constant"`` (zeros) or ``"circular"``. Reflection
    needs a pad smaller than the side; where a side is too small for it (e.g. 5 px padded to 256) the pad is
    done in several reflect steps, each at most ``side - 1`` wide.
    """
    if x.dim() != 4:
        raise ValueError(f"pad_to_multiple expects a [B,C,H,W] batch, got shape {tuple(x.shape)}")
    if int(multiple) < 1:
        raise ValueError(f"pad_to_multiple: multiple must be >= 1, got {multiple}")
    H, W = int(x.shape[-2]), int(x.shape[-1])
    pad_h, pad_w = (-H) % multiple, (-W) % multiple
    if pad_h == 0 and pad_w == 0:
        return x, (H, W)
    if mode != "reflect":
        return F.pad(x, (0, pad_w, 0, pad_h), mode=mode), (H, W)
    # reflect padding must be < the current side: grow in steps (only matters for tiny inputs)
    while pad_h > 0 or pad_w > 0:
        h, w = int(x.shape[-2]), int(x.shape[-1])
        step_h = min(pad_h, h - 1)
        step_w = min(pad_w, w - 1)
        if (h == 1 and pad_h) or (w == 1 and pad_w):  # a 1-px side cannot reflect: replicate it
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
            break
        x = F.pad(x, (0, step_w, 0, step_h), mode="reflect")
        pad_h -= step_h
        pad_w -= step_w
    return x, (H, W)


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crop ``x`` ``[B,C,H',W']`` to its top-left ``[B,C,H,W]`` with ``size = (H, W)`` (the inverse of the pad)."""
    H, W = int(size[0]), int(size[1])
    if x.shape[-2] < H or x.shape[-1] < W:
        raise ValueError(f"crop_to: cannot crop {tuple(x.shape[-2:])} to the larger size {(H, W)}")
    return x[..., :H, :W]


def apply_padded(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, multiple: int, mode: str = "reflect"
) -> torch.Tensor:
    """Run ``fn`` on ``x`` padded to a multiple of ``multiple`` and crop the result back to ``x``'s H×W.

    ``fn`` maps ``[B,C,H',W'] -> [B,C',H',W']`` (a fully convolutional network); the result is ``[B,C',H,W]``.
    """
    x_pad, size = pad_to_multiple(x, multiple, mode)
    return crop_to(fn(x_pad), size)

"""Predict at a fixed square working size and bring ab back to the input's size, as released colourisers do.

Zhang et al.'s released PyTorch models (richzhang/colorization, ``colorizers/util.py``: ``preprocess_img`` and
``postprocess_tens``) resize the photo to 256×256, predict ab there and upsample ab bilinearly to the photo's size,
where it joins the full-resolution L. Here the L plane is resized (bicubic with antialiasing, PIL's filter on a
downscale) instead of the RGB photo before its conversion to Lab; the two differ by the resize's rounding only.

Other releases resize otherwise: DDColor's pipeline (piddnad/DDColor, ``ddcolor/pipeline.py``) resizes the photo
with ``cv2.resize``'s default (bilinear, half-pixel centres, no antialiasing) and brings ab back with
``F.interpolate``'s default (nearest): ``down="bilinear", antialias=False, up="nearest"``.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def predict_at(fn: Callable[[torch.Tensor], torch.Tensor], L: torch.Tensor, size: int, *, down: str = "bicubic",
               antialias: bool = True, up: str = "bilinear") -> torch.Tensor:
    """``fn`` on ``L`` (``[B,1,H,W]``) resized to ``size``×``size`` px (``down``, ``F.interpolate``'s mode, with
    ``antialias``), its ``[B,2,size,size]`` output resized back to ``[B,2,H,W]`` (``up``: ``"bilinear"`` or
    ``"nearest"``). ``size <= 0``, or an input already that size, calls ``fn(L)`` directly."""
    height, width = L.shape[-2:]
    if size <= 0 or (height, width) == (size, size):
        return fn(L)
    small = F.interpolate(L.float(), size=(size, size), mode=down, align_corners=False, antialias=antialias)
    ab = fn(small.to(L.dtype))
    corners = None if up == "nearest" else False
    return F.interpolate(ab.float(), size=(height, width), mode=up, align_corners=corners).to(ab.dtype)

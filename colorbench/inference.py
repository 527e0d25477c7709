"""Colourise one photo with a method, at full resolution or at a working size, within a memory bound.

The photo's lightness is kept at full resolution; only ab is predicted:

* ``working_size=0`` (full resolution): ab is predicted on the full-resolution L, in overlapping tiles blended by
  :mod:`colorbench.tiling`, so memory grows with the photo's pixels (a few float32 planes) and not with the network's
  activations;
* ``working_size=N``: ab is predicted on L resized to longer side N (aspect kept, never enlarged), then upsampled
  bilinearly; tiling still applies when N is larger than a tile;
* ``short_side=N`` (instead): the same with the *shorter* side N, the form a training scale takes (a folder dataset
  resizes each photo's shorter side; ``colorbench colorize`` defaults to the run's recorded one).

Colour conversions run in bands of rows, so a 6000×4000 photo never exists as a float32 RGB or Lab image. On CUDA
the network runs under bfloat16 autocast (``precision="auto"``); the blend and the colour maths stay float32.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from colorbench import tiling
from colorbench.color import AB_SCALE, lab_to_rgb, normalize_l, rgb_to_lab
from colorbench.data import images
from colorbench.data.images import DEFAULT_MAX_PIXELS
from colorbench.errors import UserError
from colorbench.method import Method

ROWS_PER_BAND = 256
"""Rows converted at a time between uint8 RGB and float32 Lab."""
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class Settings:
    """How ab is predicted: ``working_size`` (longer side in px; 0 = full resolution) or ``short_side`` (shorter
    side in px, when above 0), ``tile`` and ``overlap`` (px;
    ``tile=0`` runs the network once on the whole input), ``precision`` (``auto``: bf16 autocast on CUDA, fp32
    elsewhere)."""

    working_size: int = 0
    short_side: int = 0
    tile: int = tiling.DEFAULT_TILE
    overlap: int = tiling.DEFAULT_OVERLAP
    precision: str = "auto"

    def describe(self) -> str:
        size = "full resolution" if self.working_size <= 0 else f"working size {self.working_size} px"
        if self.short_side > 0:
            size = f"shorter side {self.short_side} px"
        tiles = "untiled" if self.tile <= 0 else f"tiles {self.tile} px, overlap {self.overlap} px"
        return f"{size}, {tiles}, precision {self.precision}"


def working_shape(height: int, width: int, working_size: int, short_side: int = 0) -> tuple[int, int]:
    """The size at which ab is predicted: longer side ``working_size`` (or, when ``short_side`` > 0, shorter side
    ``short_side``; aspect kept), never larger than the photo."""
    if short_side > 0:
        if min(height, width) <= short_side:
            return height, width
        scale = short_side / min(height, width)
        return max(short_side, round(height * scale)), max(short_side, round(width * scale))
    if working_size <= 0 or max(height, width) <= working_size:
        return height, width
    scale = working_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def tiles_for(height: int, width: int, settings: Settings) -> int:
    """Network calls for a ``height``×``width`` photo under ``settings`` (for progress bars)."""
    return tiling.count_tiles(*working_shape(height, width, settings.working_size, settings.short_side), settings.tile,
                              settings.overlap)


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None: float32, no autocast)."""
    if precision not in PRECISIONS:
        raise UserError(f"--precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def read_photo(path: str | Path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A photo as ``[H,W,3]`` uint8 sRGB, read by the data layer's reader (EXIF rotation, alpha over white, grey and
    palette images expanded, at most ``max_pixels`` pixels); a bad file is a UserError naming it."""
    try:
        return images.read_rgb(path, allow_grey=True, max_pixels=max_pixels)
    except FileNotFoundError:
        raise UserError(f"image {path} does not exist") from None
    except images.BadImage as exc:
        raise UserError(f"cannot use {path}: {exc}; give a PNG, JPEG, TIFF, BMP or WebP photo") from None


def lightness(rgb: np.ndarray) -> torch.Tensor:
    """``[H,W,3]`` uint8 sRGB -> ``[1,1,H,W]`` float32 L in [0,100], converted in bands of rows."""
    H, W = rgb.shape[:2]
    L_lab = torch.empty(1, 1, H, W, dtype=torch.float32)
    for y in range(0, H, ROWS_PER_BAND):
        band = torch.from_numpy(rgb[y:y + ROWS_PER_BAND]).permute(2, 0, 1)[None].float().div_(255.0)
        L_lab[..., y:y + band.shape[-2], :] = rgb_to_lab(band)[:, :1]
    return L_lab


def predict_ab(method: Method, L: torch.Tensor, settings: Settings = Settings(),
               on_tile: Callable[[], None] | None = None) -> torch.Tensor:
    """``[1,1,h,w]`` L/50-1 -> ``[1,2,h,w]`` ab/110 float32 on L's device: ``method.colorize`` on tiles (see
    :mod:`colorbench.tiling`), each moved to the method's device and run under the autocast ``settings`` asks for."""
    device = method.device
    dtype = autocast_dtype(device, settings.precision)

    def predict(piece: torch.Tensor) -> torch.Tensor:
        autocast = torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
        with torch.no_grad(), autocast:
            ab = method.colorize(piece.to(device))
        if ab.shape != (1, 2, *piece.shape[-2:]):
            raise RuntimeError(f"{method.name}.colorize returned {tuple(ab.shape)} for L of {tuple(piece.shape)}: "
                               "breaks the contract ([B,2,H,W] at the input's size)")
        return ab.float()

    return tiling.predict_tiled(predict, L, settings.tile, settings.overlap, on_tile=on_tile)


@torch.no_grad()
def colorize_photo(method: Method, rgb: np.ndarray, settings: Settings = Settings(),
                   on_tile: Callable[[], None] | None = None) -> np.ndarray:
    """``[H,W,3]`` uint8 sRGB (colour or grey: only its L is used) -> ``[H,W,3]`` uint8 colourised sRGB.

    The output's L is the input's L at full resolution; ab comes from :func:`predict_ab` at the working size,
    upsampled bilinearly when that is smaller. A prediction that is not finite is a UserError (nothing to write)."""
    H, W = rgb.shape[:2]
    L_lab = lightness(rgb)
    h, w = working_shape(H, W, settings.working_size, settings.short_side)
    L_small = L_lab if (h, w) == (H, W) else F.interpolate(L_lab, size=(h, w), mode="bilinear", antialias=True,
                                                            align_corners=False)
    ab = predict_ab(method, normalize_l(L_small), settings, on_tile)
    del L_small
    if not torch.isfinite(ab).all():
        bad = (~torch.isfinite(ab)).float().mean().item()
        raise UserError(f"{method.name} predicted non-finite colours ({bad:.1%} of ab values are NaN or infinite); "
                        "nothing was written: use a checkpoint whose training losses stayed finite")
    if (h, w) != (H, W):
        ab = F.interpolate(ab, size=(H, W), mode="bilinear", align_corners=False)
    ab = ab.cpu().mul_(AB_SCALE)
    out = np.empty((H, W, 3), dtype=np.uint8)
    for y in range(0, H, ROWS_PER_BAND):
        rows = slice(y, y + ROWS_PER_BAND)
        lab = torch.cat([L_lab[..., rows, :], ab[..., rows, :]], dim=1)
        band = lab_to_rgb(lab, warn=False)[0].permute(1, 2, 0)
        out[rows] = band.mul_(255.0).add_(0.5).clamp_(0, 255).to(torch.uint8).numpy()
    return out


def encode_png(rgb: np.ndarray) -> bytes:
    """``[H,W,3]`` uint8 -> PNG bytes (compression level 1: lossless, several times faster than the default)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()

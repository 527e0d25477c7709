"""sRGB <-> CIE L*a*b* (D65) in torch: batched, any device, differentiable, float32 and float64.

Matrices: the rounded IEC 61966-2-1 sRGB -> XYZ matrix and the D65 white ``xy = (0.3127, 0.3290)``, which is what
colour-science's ``sRGB_to_XYZ`` / ``XYZ_to_Lab`` use (the matrix derived from the primaries, as skimage and kornia
use, is ~0.02-0.03 ΔE76 away). XYZ -> RGB uses the exact inverse of that matrix, so a round trip is exact up to
floating point.

Network scale (every method): ``L/50 - 1`` and ``ab/110``, both about [-1, 1].
"""
from __future__ import annotations

import warnings

import torch

# IEC 61966-2-1 (rounded, as in the standard), rows X, Y, Z.
RGB_TO_XYZ = (
    (0.4124, 0.3576, 0.1805),
    (0.2126, 0.7152, 0.0722),
    (0.0193, 0.1192, 0.9505),
)
WHITE_D65_XY = (0.3127, 0.3290)
# Reference white XYZ (Y = 1) from the xy chromaticity.
WHITE_D65_XYZ = (WHITE_D65_XY[0] / WHITE_D65_XY[1], 1.0, (1.0 - WHITE_D65_XY[0] - WHITE_D65_XY[1]) / WHITE_D65_XY[1])

_EPSILON = 216.0 / 24389.0  # CIE constants, exact rationals
_KAPPA = 24389.0 / 27.0

L_SCALE, L_OFFSET, AB_SCALE = 50.0, 1.0, 110.0

_warned_gamut = False


def _matrix(values, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64).to(device=like.device, dtype=like.dtype)


def _xyz_to_rgb_matrix() -> torch.Tensor:
    return torch.linalg.inv(torch.tensor(RGB_TO_XYZ, dtype=torch.float64))


def _check(x: torch.Tensor, what: str) -> None:
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"{what} must be [B,3,H,W]; got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{what} must be a float tensor (float32 or float64); got {x.dtype}")


def srgb_to_linear(rgb: torch.Tensor) -> torch.Tensor:
    """IEC 61966-2-1 decoding: sRGB in [0,1] -> linear light."""
    return torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: torch.Tensor) -> torch.Tensor:
    """IEC 61966-2-1 encoding: linear light -> sRGB (not clipped)."""
    return torch.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """``[B,3,H,W]`` sRGB in [0,1] -> ``[B,3,H,W]`` Lab: L in [0,100], a and b roughly in [-110,110]."""
    _check(rgb, "rgb")
    linear = srgb_to_linear(rgb)
    m = _matrix(RGB_TO_XYZ, rgb) / _matrix(WHITE_D65_XYZ, rgb)[:, None]  # fold the white into the matrix
    xyz_n = torch.einsum("ij,bjhw->bihw", m, linear)
    f = torch.where(xyz_n > _EPSILON, xyz_n.clamp_min(_EPSILON) ** (1.0 / 3.0), (_KAPPA * xyz_n + 16.0) / 116.0)
    fx, fy, fz = f.unbind(1)
    return torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=1)


def lab_to_rgb(lab: torch.Tensor, clip: bool = True, warn: bool = True) -> torch.Tensor:
    """``[B,3,H,W]`` Lab -> ``[B,3,H,W]`` sRGB. Out-of-gamut colours are clipped to [0,1] (and, once per
    process, a warning says what share of values was clipped) unless ``clip=False``."""
    global _warned_gamut
    _check(lab, "lab")
    L, a, b = lab.unbind(1)
    fy = (L + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = fy - b / 200.0
    f = torch.stack((fx, fy, fz), dim=1)
    f3 = f**3
    xyz_n = torch.where(f3 > _EPSILON, f3, (116.0 * f - 16.0) / _KAPPA)
    m = _xyz_to_rgb_matrix().to(device=lab.device, dtype=lab.dtype) * _matrix(WHITE_D65_XYZ, lab)[None, :]
    linear = torch.einsum("ij,bjhw->bihw", m, xyz_n)
    rgb = linear_to_srgb(linear)
    if not clip:
        return rgb
    if warn and not _warned_gamut and not torch.is_grad_enabled():
        outside = ((rgb < -1e-6) | (rgb > 1 + 1e-6)).float().mean().item()
        if outside > 0:
            _warned_gamut = True
            warnings.warn(
                f"lab_to_rgb: {outside:.2%} of RGB values fell outside the sRGB gamut and were clipped to [0,1] "
                "(shown once per process)",
                stacklevel=2,
            )
    return rgb.clamp(0.0, 1.0)


# ------------------------------------------------------------------------------------------ network scale
def normalize_l(L_lab: torch.Tensor) -> torch.Tensor:
    """L in [0,100] -> L/50 - 1 in [-1,1]."""
    return L_lab / L_SCALE - L_OFFSET


def denormalize_l(L: torch.Tensor) -> torch.Tensor:
    """L/50 - 1 -> L in [0,100]."""
    return (L + L_OFFSET) * L_SCALE


def normalize_ab(ab_lab: torch.Tensor) -> torch.Tensor:
    """ab in Lab units -> ab/110."""
    return ab_lab / AB_SCALE


def denormalize_ab(ab: torch.Tensor) -> torch.Tensor:
    """ab/110 -> ab in Lab units."""
    return ab * AB_SCALE


def rgb_to_network(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``[B,3,H,W]`` sRGB -> (``[B,1,H,W]`` L/50-1, ``[B,2,H,W]`` ab/110)."""
    lab = rgb_to_lab(rgb)
    return normalize_l(lab[:, :1]), normalize_ab(lab[:, 1:])


def network_to_rgb(L: torch.Tensor, ab: torch.Tensor, clip: bool = True) -> torch.Tensor:
    """(``[B,1,H,W]`` L/50-1, ``[B,2,H,W]`` ab/110) -> ``[B,3,H,W]`` sRGB in [0,1]; differentiable."""
    if L.shape[0] != ab.shape[0] or L.shape[-2:] != ab.shape[-2:] or L.shape[1] != 1 or ab.shape[1] != 2:
        raise ValueError(f"L must be [B,1,H,W] and ab [B,2,H,W] of the same B,H,W; got {tuple(L.shape)} and {tuple(ab.shape)}")
    lab = torch.cat((denormalize_l(L), denormalize_ab(ab)), dim=1)
    return lab_to_rgb(lab, clip=clip, warn=False)

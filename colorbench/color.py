"""sRGB <-> CIE L*a*b* (D65) in torch: batched, any device, differentiable, float32 and float64.

Matrices: the rounded IEC 61966-2-1 sRGB -> XYZ matrix and the D65 white ``xy = (0.3127, 0.3290)``, which is what
colour-science's ``sRGB_to_XYZ`` / ``XYZ_to_Lab`` use (the matrix derived from the primaries, as skimage and kornia
use, is ~0.02-0.03 ΔE76 away). XYZ -> RGB uses the exact inverse of that matrix, so a round trip is exact up to
floating point.

Speed: the two piecewise curves (the sRGB transfer function and the CIE ``f``) are written without ``where``, as
``f(max(x, t)) + g(min(x, t)) - f(t)`` (both pieces meet at ``t``), and the powers as ``exp(k·log x)``; the 3×3
products are matrix multiplies. On the CPU without autograd the work runs in place, a cache-sized piece at a time
(64k pixels, spread over ``torch.get_num_threads()`` worker threads that run torch single-threaded; see
``colorbench._threads``): ~2-3× ``skimage.color.rgb2lab`` looping (see tests/perf). With
autograd, on a GPU, or in float64 (which picks the sRGB pieces exactly, see :func:`srgb_to_linear`), the same
formulas run out of place over the whole batch.

Network scale (every method): ``L/50 - 1`` and ``ab/110``, both about [-1, 1].
"""
from __future__ import annotations

import functools
import threading
import warnings
from typing import NamedTuple

import torch

from colorbench._threads import cpu_map

# IEC 61966-2-1 (rounded, as in the standard), rows X, Y, Z.
RGB_TO_XYZ = (
    (0.4124, 0.3576, 0.1805),
    (0.2126, 0.7152, 0.0722),
    (0.0193, 0.1192, 0.9505),
)
WHITE_D65_XY = (0.3127, 0.3290)
# Reference white XYZ (Y = 1) from the xy chromaticity.
WHITE_D65_XYZ = (WHITE_D65_XY[0] / WHITE_D65_XY[1], 1.0, (1.0 - WHITE_D65_XY[0] - WHITE_D65_XY[1]) / WHITE_D65_XY[1])

_EPSILON = 216.0 / 24389.0  # CIE constants, exact rationals; f is continuous at _EPSILON: cbrt = 6/29
_KAPPA = 24389.0 / 27.0
_F_EDGE = 6.0 / 29.0  # f(_EPSILON)
_LINEAR_EDGE = 0.0031308  # linear value where the sRGB curve changes piece (IEC 61966-2-1)
# Encoded value where it changes piece: the encoding of _LINEAR_EDGE (0.0404499...), as colour-science uses, so both
# directions pick the same piece; the standard prints it rounded as 0.04045.
_SRGB_EDGE = 1.055 * _LINEAR_EDGE ** (1 / 2.4) - 0.055

L_SCALE, L_OFFSET, AB_SCALE = 50.0, 1.0, 110.0
_CHUNK_PIXELS = 1 << 16  # CPU in-place path: pixels per piece (3 channels × 64k × 4 bytes = 768 KiB)

_warned_gamut = False
_warned_range = False
RANGE_TOLERANCE = 1e-4  # float rounding: 1.0000001 is still 1


class _Consts(NamedTuple):
    to_xyz_n: torch.Tensor  # [3,3] linear RGB -> XYZ / white
    f_to_lab: torch.Tensor  # [3,3] (fx, fy, fz) -> (L + 16, a, b)
    to_rgb: torch.Tensor  # [3,3] XYZ / white -> linear RGB
    lab_to_f: torch.Tensor  # [3,3] (L + 16, a, b) -> (fx, fy, fz)
    srgb_knee: float  # decode(_SRGB_EDGE) by the power piece, in this dtype's arithmetic
    linear_knee: float  # encode(_LINEAR_EDGE) by the power piece, in this dtype's arithmetic


@functools.lru_cache(maxsize=16)
def _consts(device: torch.device, dtype: torch.dtype) -> _Consts:
    m = torch.tensor(RGB_TO_XYZ, dtype=torch.float64)
    white = torch.tensor(WHITE_D65_XYZ, dtype=torch.float64)
    f_to_lab = torch.tensor(((0.0, 116.0, 0.0), (500.0, -500.0, 0.0), (0.0, 200.0, -200.0)), dtype=torch.float64)
    knee = torch.tensor([_SRGB_EDGE], dtype=dtype)
    srgb_knee = _decode_power(knee).item()
    linear_knee = _encode_power(torch.tensor([_LINEAR_EDGE], dtype=dtype)).item()
    return _Consts(*(t.to(device=device, dtype=dtype) for t in (
        m / white[:, None], f_to_lab, torch.linalg.inv(m) * white[None, :], torch.linalg.inv(f_to_lab))),
        srgb_knee, linear_knee)


def _decode_power(x: torch.Tensor) -> torch.Tensor:
    """The power piece of the sRGB decoding, ``((x + 0.055) / 1.055) ** 2.4`` (x ≥ 0.04045)."""
    return x.add(0.055).mul_(1 / 1.055).log_().mul_(2.4).exp_()


def _encode_power(linear: torch.Tensor) -> torch.Tensor:
    """The power piece of the sRGB encoding, ``1.055 * linear ** (1/2.4) - 0.055`` (linear ≥ 0.0031308)."""
    return linear.log().mul_(1 / 2.4).exp_().mul_(1.055).sub_(0.055)


def _check(x: torch.Tensor, what: str) -> torch.Tensor:
    """``x`` checked, in its compute dtype: float64 stays, float32 stays, float16/bfloat16 go up to float32 (their
    8-11 bit mantissas put the result up to 4 ΔE off)."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"{what} must be [B,3,H,W]; got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{what} must be a float tensor (float32 or float64; float16 and bfloat16 are computed in "
                        f"float32); got {x.dtype} (convert uint8 with x / 255)")
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _warn_outside_unit(rgb: torch.Tensor) -> None:
    """Warn (once per process) when ``rgb`` holds values outside [0, 1] beyond :data:`RANGE_TOLERANCE`."""
    global _warned_range
    if not rgb.numel():
        return
    lo, hi = (float(v) for v in torch.stack(torch.aminmax(rgb.detach())).tolist())
    if lo < -RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
        _warned_range = True
        hint = "; divide 0-255 images by 255" if hi > 1.5 else ""
        warnings.warn(f"rgb_to_lab: rgb holds values in [{lo:.4g}, {hi:.4g}], outside sRGB's [0, 1]: the Lab values "
                      f"are extrapolated, not colours{hint} (shown once per process)", stacklevel=4)


def _no_autocast(fn):
    """Run a conversion with autocast off: under ``torch.autocast`` its matrix products would drop to bf16/fp16
    (and the in-place CPU path would meet tensors of two dtypes)."""

    @functools.wraps(fn)
    def wrapper(x: torch.Tensor, *args, **kwargs):
        if x.device.type in ("cpu", "cuda", "mps") and torch.is_autocast_enabled(x.device.type):
            with torch.autocast(x.device.type, enabled=False):
                return fn(x, *args, **kwargs)
        return fn(x, *args, **kwargs)

    return wrapper


def srgb_to_linear(rgb: torch.Tensor) -> torch.Tensor:
    """IEC 61966-2-1 decoding: sRGB in [0,1] -> linear light (any shape; differentiable).

    The standard's two pieces miss each other by ~1e-9 at the knee: float32 cannot see it, float64 can (1e-6 ΔE
    near black), so float64 picks the piece exactly with ``where``."""
    if rgb.dtype == torch.float64:
        return torch.where(rgb <= _SRGB_EDGE, rgb / 12.92, ((rgb.clamp_min(_SRGB_EDGE) + 0.055) / 1.055) ** 2.4)
    k = _consts(rgb.device, rgb.dtype)
    hi = ((rgb.clamp_min(_SRGB_EDGE) + 0.055) / 1.055).log().mul(2.4).exp()
    return hi + rgb.clamp_max(_SRGB_EDGE) / 12.92 - k.srgb_knee


def linear_to_srgb(linear: torch.Tensor) -> torch.Tensor:
    """IEC 61966-2-1 encoding: linear light -> sRGB, not clipped (any shape; differentiable; float64 exact as in
    :func:`srgb_to_linear`)."""
    if linear.dtype == torch.float64:
        return torch.where(linear <= _LINEAR_EDGE, linear * 12.92,
                           1.055 * linear.clamp_min(_LINEAR_EDGE) ** (1 / 2.4) - 0.055)
    k = _consts(linear.device, linear.dtype)
    hi = linear.clamp_min(_LINEAR_EDGE).log().div(2.4).exp().mul(1.055).sub(0.055)
    return hi + linear.clamp_max(_LINEAR_EDGE) * 12.92 - k.linear_knee


def _cie_f(t: torch.Tensor) -> torch.Tensor:
    """CIE ``f``: cube root above ε, the linear piece below (continuous at ε)."""
    return t.clamp_min(_EPSILON).log().div(3.0).exp() + t.clamp_max(_EPSILON) * (_KAPPA / 116.0) - (8.0 / 116.0)


def _cie_f_inv(f: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`_cie_f`: cube above 6/29, the linear piece below (continuous at 6/29)."""
    hi = f.clamp_min(_F_EDGE)
    return hi * hi * hi + f.clamp_max(_F_EDGE) * (116.0 / _KAPPA) - (16.0 / _KAPPA + _EPSILON)


def _rgb_to_lab_flat(x: torch.Tensor, k: _Consts) -> torch.Tensor:
    """``[..., 3, N]`` sRGB -> ``[..., 3, N]`` Lab, out of place (autograd, GPU)."""
    f = _cie_f(torch.matmul(k.to_xyz_n, srgb_to_linear(x)))
    lab = torch.matmul(k.f_to_lab, f)
    return lab - torch.tensor((16.0, 0.0, 0.0), device=x.device, dtype=x.dtype)[:, None]


def _rgb_to_lab_inplace(x: torch.Tensor, out: torch.Tensor, k: _Consts) -> None:
    """``[G, 3, N]`` sRGB -> Lab into ``out`` (same shape, contiguous), in place; no autograd."""
    lin = torch.clamp_min(x, _SRGB_EDGE)
    lin.add_(0.055).mul_(1 / 1.055).log_().mul_(2.4).exp_()
    lin.add_(torch.clamp_max(x, _SRGB_EDGE), alpha=1 / 12.92).sub_(k.srgb_knee)
    xyz = torch.matmul(k.to_xyz_n, lin)
    f = torch.clamp_min(xyz, _EPSILON)
    f.log_().mul_(1 / 3).exp_()
    f.add_(xyz.clamp_max_(_EPSILON), alpha=_KAPPA / 116.0).sub_(8.0 / 116.0)
    torch.matmul(k.f_to_lab, f, out=out)
    out[:, 0].sub_(16.0)


def _cpu_tasks(B: int, n: int, pixels: int) -> list[tuple[int, int, int, int]]:
    """Split ``B`` images of ``n`` pixels into ``(b0, b1, s, e)`` pieces of about ``pixels`` pixels each."""
    if n >= pixels:
        return [(b, b + 1, s, min(n, s + pixels)) for b in range(B) for s in range(0, n, pixels)]
    group = max(1, pixels // n)
    return [(b, min(B, b + group), 0, n) for b in range(0, B, group)]


def _lab_to_rgb_inplace(x: torch.Tensor, out: torch.Tensor, k: _Consts) -> None:
    """``[G, 3, N]`` Lab -> unclipped sRGB into ``out`` (same shape, contiguous), in place; no autograd."""
    f = torch.matmul(k.lab_to_f, x)
    f.add_(k.lab_to_f[:, :1], alpha=16.0)  # the +16 on L, through the matrix
    xyz = torch.clamp_min(f, _F_EDGE).pow_(3)
    xyz.add_(f.clamp_max_(_F_EDGE), alpha=116.0 / _KAPPA).sub_(16.0 / _KAPPA + _EPSILON)
    lin = torch.matmul(k.to_rgb, xyz)
    hi = torch.clamp_min(lin, _LINEAR_EDGE)
    hi.log_().mul_(1 / 2.4).exp_().mul_(1.055).sub_(0.055 + k.linear_knee)
    torch.add(hi, lin.clamp_max_(_LINEAR_EDGE), alpha=12.92, out=out)


def _cpu_pieces(fn, x: torch.Tensor, out: torch.Tensor, k: _Consts) -> None:
    """Run ``fn(piece_in, piece_out, k)`` over ``[B,3,N]`` contiguous ``x`` into ``out``, a cache-sized piece at a
    time, in place, no autograd (the CPU path of both conversions).

    The pieces (the same for any thread count, so results are too) go through :func:`colorbench._threads.cpu_map`:
    with more than one torch thread they are spread over that many Python worker threads, each running torch
    single-threaded, so no op opens an OpenMP team (on a busy machine the barriers cost more than the work). Measured
    on 64×256², 2 threads: 64k-pixel pieces this way 67-71 ms, against 141-158 ms for the earlier 10k-pixel pieces
    (many more small ops, bound by the GIL) and 77-84 ms on one thread."""
    B, _, n = x.shape
    local = threading.local()

    def run(task: tuple[int, int, int, int]) -> None:
        b0, b1, s, e = task
        if s == 0 and e == n:
            fn(x[b0:b1], out[b0:b1], k)
            return
        buf = getattr(local, "buf", None)
        if buf is None:
            buf = local.buf = torch.empty(1, 3, _CHUNK_PIXELS, dtype=x.dtype)
        piece = buf[:, :, :e - s]
        fn(x[b0:b1, :, s:e], piece, k)
        out[b0:b1, :, s:e].copy_(piece)

    cpu_map(run, _cpu_tasks(B, n, _CHUNK_PIXELS))


@_no_autocast
def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """``[B,3,H,W]`` sRGB in [0,1] -> ``[B,3,H,W]`` Lab: L in [0,100], a and b roughly in [-110,110].

    float32 and float64 are computed in their own precision; float16 and bfloat16 in float32 (and returned as
    float32). Autocast is switched off inside. Values outside [0,1] (0-255 data, an unclipped prediction) are
    converted as given, and the first such call of the process warns (one min/max pass until it has warned: 3% of
    the conversion's time on a CPU thread)."""
    rgb = _check(rgb, "rgb")
    if not _warned_range:
        _warn_outside_unit(rgb)
    B, _, H, W = rgb.shape
    k = _consts(rgb.device, rgb.dtype)
    if (rgb.device.type != "cpu" or rgb.dtype == torch.float64 or (rgb.requires_grad and torch.is_grad_enabled())
            or rgb.numel() == 0):
        return _rgb_to_lab_flat(rgb.reshape(B, 3, H * W), k).reshape(B, 3, H, W)
    x = rgb.detach().contiguous().view(B, 3, H * W)
    out = torch.empty_like(x)
    _cpu_pieces(_rgb_to_lab_inplace, x, out, k)
    return out.view(B, 3, H, W)


@_no_autocast
def lab_to_rgb(lab: torch.Tensor, clip: bool = True, warn: bool = True) -> torch.Tensor:
    """``[B,3,H,W]`` Lab -> ``[B,3,H,W]`` sRGB. Out-of-gamut colours are clipped to [0,1] (and, once per
    process, a warning says what share of values was clipped) unless ``clip=False``. Dtypes and autocast as in
    :func:`rgb_to_lab`."""
    global _warned_gamut
    lab = _check(lab, "lab")
    B, _, H, W = lab.shape
    k = _consts(lab.device, lab.dtype)
    if (lab.device.type != "cpu" or lab.dtype == torch.float64 or (lab.requires_grad and torch.is_grad_enabled())
            or lab.numel() == 0):
        shifted = lab.reshape(B, 3, H * W) + torch.tensor((16.0, 0.0, 0.0), device=lab.device, dtype=lab.dtype)[:, None]
        xyz_n = _cie_f_inv(torch.matmul(k.lab_to_f, shifted))
        rgb = linear_to_srgb(torch.matmul(k.to_rgb, xyz_n)).reshape(B, 3, H, W)
    else:
        x = lab.detach().contiguous().view(B, 3, H * W)
        rgb = torch.empty_like(x)
        _cpu_pieces(_lab_to_rgb_inplace, x, rgb, k)
        rgb = rgb.view(B, 3, H, W)
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
    return rgb.clamp_(0.0, 1.0) if not rgb.requires_grad else rgb.clamp(0.0, 1.0)


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
        raise ValueError(f"L must be [B,1,H,W] and ab [B,2,H,W] of the same B,H,W; got {tuple(L.shape)} and "
                         f"{tuple(ab.shape)}")
    lab = torch.cat((denormalize_l(L), denormalize_ab(ab)), dim=1)
    return lab_to_rgb(lab, clip=clip, warn=False)


def neutral_rgb(L: torch.Tensor) -> torch.Tensor:
    """``[B,1,H,W]`` L/50-1 -> ``[B,3,H,W]`` the neutral sRGB image ``Lab(L, 0, 0)`` in [0,1] (three equal channels):
    the grey photo a method that reads RGB sees (Koalarization's extractor, DDColor's encoder)."""
    lab = torch.cat((denormalize_l(L.float()), torch.zeros_like(L.float()).expand(-1, 2, -1, -1)), dim=1)
    return lab_to_rgb(lab, warn=False).to(L.dtype)

"""SSIM exactly as ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1, channel_axis=...)``, and several times faster on a CPU.

What skimage computes, per channel: local means, variances and covariance with a Gaussian filter (sigma 1.5,
truncate 3.5, so an 11-tap kernel of radius 5, normalised to sum 1; scipy's ``gaussian_filter`` with 'reflect'
borders), the SSIM map ``((2 mx my + C1)(2 sxy + C2)) / ((mx² + my² + C1)(sx² + sy² + C2))`` with
``C1 = (0.01 L)²``, ``C2 = (0.03 L)²``, L = 1, then the mean over the map with a 5-pixel border cropped, then the
mean over channels. The cropped border is exactly the filter's radius, so the kept values never touch the padding:
a 'valid' separable filter gives the same numbers (agreement ~1e-7 in float32, ~1e-15 in float64).

How it is fast in eager PyTorch (no compile step): the filter runs on 4 maps per channel instead of 5 (with
``s = x + y`` and ``d = x - y``: ``mx my = (ms² - md²)/4``, ``mx² + my² = (ms² + md²)/2``,
``E[xy] = (E[s²] - E[d²])/4``, ``E[x²] + E[y²] = (E[s²] + E[d²])/2``; the 1/√2 and 1/2 are folded into the
kernel). On a CPU the horizontal pass is oneDNN's depthwise convolution (float32) and the vertical pass banded
matrix products on 16-row blocks (BLAS), each one pass instead of 10 in-place adds of shifted slices (still used
for float64's horizontal pass and on GPUs). The channel planes go through in pieces of ~128k pixels (a few planes
at once, or row strips of a large one) spread over worker threads that run torch single-threaded
(``colorbench._threads``): measured on 64 pairs at 256², one thread: 128k-pixel pieces 246 ms, 64k 325 ms, 32k
419 ms; 256k about the same as 128k. On CUDA the whole batch goes at once.
"""
from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from colorbench.metrics._check import accumulate_dtype, check_pair, check_range, compute_dtype
from colorbench._threads import cpu_map
from colorbench.ssim_window import RADIUS, SIGMA, TRUNCATE, WIN_SIZE  # noqa: F401  (TRUNCATE: re-exported)
K1, K2 = 0.01, 0.03
_CPU_CHUNK_PIXELS = 1 << 17  # pixels per CPU piece (measured best with 2 worker threads)
_CUDA_CHUNK_PIXELS = 1 << 24


def gaussian_kernel(sigma: float = SIGMA, radius: int = RADIUS) -> list[float]:
    """The 1-D kernel scipy's ``gaussian_filter`` uses: ``exp(-t²/2σ²)`` for t in [-radius, radius], summing to 1."""
    w = [math.exp(-0.5 * (t / sigma) ** 2) for t in range(-radius, radius + 1)]
    total = math.fsum(w)
    return [v / total for v in w]


_KERNEL = gaussian_kernel()


def _filter_valid(maps: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian, 'valid' region: ``[N,H,W]`` -> ``[N,H-10,W-10]``, maps 0..N/2 scaled by 1/√2 and
    maps N/2..N by 1/2 (N = 4n: the sums and differences, then their squares; see :func:`_ssim_sums`)."""
    r = RADIUS
    n4, h, w = maps.shape
    if maps.device.type != "cpu":
        return _scale_halves(_rows_shift(_cols_shift(maps)))
    if maps.dtype == torch.float32:  # oneDNN's depthwise convolution: one pass, not 10 (0.8 vs 1.9 ms, 8 maps of 256²)
        rows = F.conv2d(maps[None], _conv_weight(n4, maps.dtype), groups=n4)[0]
    else:  # float64: oneDNN has no float64 convolution
        rows = _cols_shift(maps)
    # vertical: banded matrix products on blocks of _BLOCK output rows (BLAS; 0.8 ms against 1.7 ms for 10 passes),
    # one map at a time so that every block is a strided view BLAS reads in place (a batch over maps and blocks
    # at once made matmul copy the overlapping blocks first: 1.9 ms)
    h_out, w_out = h - 2 * r, w - 2 * r
    out = torch.empty(n4, h_out, w_out, dtype=maps.dtype)
    rows = rows.contiguous()
    blocks, half = h_out // _BLOCK, n4 // 2
    if blocks:
        band = _band(_BLOCK, maps.dtype)
        for m in range(n4):
            src = rows[m].as_strided((blocks, _BLOCK + 2 * r, w_out), (_BLOCK * w_out, w_out, 1))
            torch.matmul(band[int(m >= half)], src, out=out[m, :blocks * _BLOCK].view(blocks, _BLOCK, w_out))
    rest = h_out - blocks * _BLOCK
    if rest:
        band = _band(rest, maps.dtype)
        for i, part in enumerate((slice(0, half), slice(half, n4))):
            torch.matmul(band[i], rows[part, blocks * _BLOCK:], out=out[part, blocks * _BLOCK:])
    return out


_BLOCK = 16  # output rows per banded block (measured: 16 and 32 best on 256² planes)


@functools.lru_cache(maxsize=32)
def _band(rows_out: int, dtype: torch.dtype) -> torch.Tensor:
    """``[2, rows_out, rows_out+10]``: row i holds the kernel at columns i..i+10, scaled by 1/√2 and by 1/2."""
    band = torch.zeros(rows_out, rows_out + 2 * RADIUS, dtype=torch.float64)
    k = torch.tensor(_KERNEL, dtype=torch.float64)
    for i in range(rows_out):
        band[i, i:i + WIN_SIZE] = k
    return torch.stack((band * math.sqrt(0.5), band * 0.5)).to(dtype)


@functools.lru_cache(maxsize=32)
def _conv_weight(channels: int, dtype: torch.dtype) -> torch.Tensor:
    """``[channels,1,1,11]`` depthwise weight of the horizontal pass."""
    return torch.tensor(_KERNEL, dtype=dtype).view(1, 1, 1, WIN_SIZE).repeat(channels, 1, 1, 1)


def _cols_shift(maps: torch.Tensor) -> torch.Tensor:
    """Horizontal pass as 5 symmetric pairs of shifted slices: ``[N,H,W]`` -> ``[N,H,W-10]``."""
    k, r = _KERNEL, RADIUS
    w_out = maps.shape[-1] - 2 * r
    rows = torch.mul(maps[..., r:r + w_out], k[r])
    tmp = torch.empty_like(rows)
    for i in range(r):  # symmetric taps i and 2r - i share one weight
        torch.add(maps[..., i:i + w_out], maps[..., 2 * r - i:2 * r - i + w_out], out=tmp)
        rows.add_(tmp, alpha=k[i])
    return rows


def _rows_shift(rows: torch.Tensor) -> torch.Tensor:
    """Vertical pass as 5 symmetric pairs of shifted slices: ``[N,H,W]`` -> ``[N,H-10,W]``."""
    k, r = _KERNEL, RADIUS
    h_out = rows.shape[-2] - 2 * r
    out = torch.mul(rows[..., r:r + h_out, :], k[r])
    tmp = torch.empty_like(out)
    for i in range(r):
        torch.add(rows[..., i:i + h_out, :], rows[..., 2 * r - i:2 * r - i + h_out, :], out=tmp)
        out.add_(tmp, alpha=k[i])
    return out


def _scale_halves(out: torch.Tensor) -> torch.Tensor:
    half = out.shape[0] // 2
    out[:half].mul_(math.sqrt(0.5))
    out[half:].mul_(0.5)
    return out


def _ssim_sums(pred: torch.Tensor, true: torch.Tensor, c1: float, c2: float) -> torch.Tensor:
    """``[n,h,w]`` planes -> ``[n]`` sums of the SSIM map over the valid ``[h-10, w-10]`` region.

    The filter returns ``ms = G(s)/√2``, ``md = G(d)/√2``, ``ess = G(s²)/2``, ``edd = G(d²)/2``, so
    ``2 mx my = ms² - md²``, ``mx² + my² = ms² + md²``, ``2 sxy = (ess - ms²) - (edd - md²)`` and
    ``sx² + sy² = (ess - ms²) + (edd - md²)``."""
    n = pred.shape[0]
    maps = torch.empty((4 * n, *pred.shape[1:]), dtype=pred.dtype, device=pred.device)  # s, d, s², d²
    torch.add(pred, true, out=maps[:n])
    torch.sub(pred, true, out=maps[n:2 * n])
    torch.square(maps[:2 * n], out=maps[2 * n:])
    ms, md, ess, edd = _filter_valid(maps).chunk(4, dim=0)
    ms.square_()
    md.square_()
    u = ess.sub_(ms)
    v = edd.sub_(md)
    two_mxy = ms - md  # 2 mx my
    m_sq = ms.add_(md)  # mx² + my²
    num_c = torch.sub(u, v).add_(c2)  # 2 sxy + C2
    den_c = u.add_(v).add_(c2)  # sx² + sy² + C2
    ssim_map = two_mxy.add_(c1).mul_(num_c).div_(m_sq.add_(c1).mul_(den_c))
    return ssim_map.sum(dim=(1, 2), dtype=accumulate_dtype(ssim_map))


def _ssim_planes(pred: torch.Tensor, true: torch.Tensor, data_range: float) -> torch.Tensor:
    """``[n,H,W]`` planes -> ``[n]`` float64 mean SSIM of each plane.

    On a CPU the planes go through in pieces of about ``_CPU_CHUNK_PIXELS`` pixels (several small planes at once,
    or horizontal strips of a large plane with a 10-row overlap) so that the 4 filtered maps stay in cache."""
    n, h, w = pred.shape
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    count = (h - 2 * RADIUS) * (w - 2 * RADIUS)
    if pred.device.type == "cuda":
        step = max(1, _CUDA_CHUNK_PIXELS // (h * w))
        return torch.cat([_ssim_sums(pred[i:i + step], true[i:i + step], c1, c2)
                          for i in range(0, n, step)]) / count
    if h * w <= _CPU_CHUNK_PIXELS:
        step = _CPU_CHUNK_PIXELS // (h * w)
        pieces = cpu_map(lambda i: _ssim_sums(pred[i:i + step], true[i:i + step], c1, c2), range(0, n, step))
        return torch.cat(pieces) / count
    rows = max(8, _CPU_CHUNK_PIXELS // w - 2 * RADIUS)  # output rows per strip
    strips = [(i, r0, min(h, r0 + rows + 2 * RADIUS)) for i in range(n) for r0 in range(0, h - 2 * RADIUS, rows)]
    pieces = cpu_map(lambda s: _ssim_sums(pred[s[0]:s[0] + 1, s[1]:s[2]], true[s[0]:s[0] + 1, s[1]:s[2]], c1, c2),
                     strips)
    sums = torch.zeros(n, dtype=torch.float64)
    for (i, _, _), value in zip(strips, pieces):
        sums[i] += value[0]
    return sums / count


def ssim(pred_rgb: torch.Tensor, true_rgb: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-image SSIM of ``[B,C,H,W]`` images (sRGB in [0,1] for the suite; any C) -> ``[B]``, same dtype family
    (float64 in, float64 out; anything else computed in float32). Never above 1. Values outside
    ``[0, data_range]`` (0-255 images with the default range) raise ``ValueError``.

    Images need H, W >= 11 (the Gaussian window): smaller ones raise ``ValueError`` (skimage raises too; there is
    no meaningful 11×11 statistic on them).
    """
    check_pair(pred_rgb, true_rgb, "ssim", pred_rgb.shape[1] if pred_rgb.ndim == 4 else 3)
    check_range(pred_rgb, true_rgb, "ssim", data_range)
    h, w = pred_rgb.shape[-2:]
    if h < WIN_SIZE or w < WIN_SIZE:
        raise ValueError(f"ssim: images must be at least {WIN_SIZE}×{WIN_SIZE} (the Gaussian window, sigma "
                         f"{SIGMA}); got {h}×{w}. Evaluate at a larger size or leave SSIM out for such images")
    dtype = compute_dtype(pred_rgb)
    pred_rgb, true_rgb = pred_rgb.to(dtype), true_rgb.to(dtype)
    b, c = pred_rgb.shape[:2]
    if b == 0:
        return pred_rgb.new_zeros(0)
    per_plane = _ssim_planes(pred_rgb.flatten(0, 1), true_rgb.flatten(0, 1), data_range)
    return per_plane.view(b, c).mean(dim=1).to(dtype)

"""Fréchet distances between feature distributions (``fid``, ``fid_tv``), from local Inception weights.

    FID = ‖μ_t − μ_p‖² + tr(Σ_t) + tr(Σ_p) − 2·tr((Σ_t Σ_p)^½)        (Heusel et al. 2017)

over 2048-d Inception pool features of the truths (t) and the predictions (p); Σ is the unbiased sample covariance
(``np.cov``, as mseitzer/pytorch-fid and DDColor). Everything is float64. ``tr((Σ_t Σ_p)^½)`` is the sum of the
square roots of the eigenvalues of ``Σ_t Σ_p``, which equal those of the symmetric ``Σ_t^½ Σ_p Σ_t^½``, so no
complex square root arises:

* with fewer images than dimensions on both sides (the usual test set of a few hundred images), ``Σ_t Σ_p``'s
  non-zero eigenvalues are the squared singular values of ``X_t X_pᵀ / sqrt((n_t−1)(n_p−1))`` (X: centred features),
  so the trace is that small matrix's nuclear norm, exact and cheap;
* otherwise ``Σ_t^½`` comes from ``eigh(Σ_t)``, then ``eigvalsh(Σ_t^½ Σ_p Σ_t^½)``.

Guard: eigenvalues are clamped at 0 only when their negative part is round-off (≥ −1e-6 × the largest);
a covariance that is really not positive semi-definite raises. The result matches SciPy's ``sqrtm`` form
(pytorch-fid's ``calculate_frechet_distance``) on known Gaussians (``tests/test_metrics_fid.py``).

The truth side is cached per extractor, per weights file and per batch content (a sha256 of the batch's truth
pixels), in memory and in :data:`CACHE_DIR` (one small ``.pt`` file of ``[B,2048]`` float32 features per batch), so
a second method evaluated on the same protocol, in this process or a later one, pays only for its own images. The
key is the content itself, so a changed dataset, crop or weights file can never hit a stale entry.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from colorbench import pretrained as pt
from colorbench.metrics import weighted
from colorbench.nets.inception import FEATURES, InceptionFeatures, fid_inception, tv_inception

EXTRACTORS: dict[str, tuple[Callable[[], InceptionFeatures], str]] = {
    "fid": (fid_inception, "inception_fid"),
    "tv": (tv_inception, "inception_v3"),
}
_BUILT: dict[tuple[str, str], InceptionFeatures] = {}
_TRUTH: dict[tuple[str, str, str], torch.Tensor] = {}
CACHE_DIR: Path | None = Path("runs/fid_truth")
"""Where truth features persist between processes (None: memory only). Relative to the working directory, like
the bench's other caches under ``runs/``."""
_TRUTH_LIMIT = 200_000  # cached truth images (≈ 1.6 GB of float32 features) before the cache starts over


def build(device: torch.device | str = "cpu", extractor: str = "fid") -> InceptionFeatures:
    """The ``extractor`` network (``"fid"``: the TF-ported FID Inception; ``"tv"``: torchvision's Inception-v3)
    with its weights, on ``device``: ``[B,3,H,W]`` sRGB in [0,1] -> ``[B,2048]`` (built once per process)."""
    key = (str(torch.device(device)), extractor)
    if key not in _BUILT:
        make, backbone = EXTRACTORS[extractor]
        net = make()
        path = weighted.load(net.net, backbone)
        net.weights_id = pt.sha256_of(path)[:16]  # part of the truth cache's key
        # channels-last convolutions: 1.5-1.6x faster on 2 CPU threads (8 images at 256², same figures to 1e-13)
        _BUILT[key] = net.to(device, memory_format=torch.channels_last)
    return _BUILT[key]


def _key(net: InceptionFeatures, extractor: str, true_rgb: torch.Tensor) -> tuple[str, str, str]:
    return extractor, str(getattr(net, "weights_id", "")), _digest(true_rgb)


def _file(key: tuple[str, str, str]) -> Path | None:
    return CACHE_DIR / f"{key[0]}-{key[1]}-{key[2][:32]}.pt" if CACHE_DIR is not None and key[1] else None


def truth_features(net: InceptionFeatures, extractor: str, true_rgb: torch.Tensor) -> torch.Tensor | None:
    """Cached ``[B,2048]`` features of this exact truth batch (``true_rgb`` ``[B,3,H,W]``) under these weights,
    from memory or :data:`CACHE_DIR`, on ``true_rgb``'s device; None when not cached."""
    key = _key(net, extractor, true_rgb)
    found = _TRUTH.get(key)
    path = _file(key)
    if found is None and path is not None and path.is_file():
        try:
            found = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # a truncated or foreign file: computed again and rewritten
            found = None
        if not isinstance(found, torch.Tensor) or found.shape != (true_rgb.shape[0], FEATURES):
            found = None
        else:
            _TRUTH[key] = found
    return None if found is None else found.to(true_rgb.device)


def remember_truth(net: InceptionFeatures, extractor: str, true_rgb: torch.Tensor, features: torch.Tensor) -> None:
    """Keep this truth batch's features (memory, and :data:`CACHE_DIR` when set)."""
    import io

    from colorbench import _atomic as atomic

    if sum(v.shape[0] for v in _TRUTH.values()) > _TRUTH_LIMIT:
        _TRUTH.clear()
    key = _key(net, extractor, true_rgb)
    _TRUTH[key] = features.detach().to("cpu", torch.float32).clone()
    path = _file(key)
    if path is not None:
        buffer = io.BytesIO()
        torch.save(_TRUTH[key], buffer)
        try:
            atomic.write_bytes(path, buffer.getvalue())
        except OSError:  # a read-only working directory: memory only
            pass


def clear_cache() -> None:
    """Forget the cached truth features and built networks (tests)."""
    _TRUTH.clear()
    _BUILT.clear()


def _digest(rgb: torch.Tensor) -> str:
    x = rgb.detach().to("cpu", torch.float32).contiguous()
    return hashlib.sha256(str(tuple(x.shape)).encode() + x.numpy().tobytes()).hexdigest()


class FeatureStats:
    """Running float64 sums of ``[n,D]`` features (mean and unbiased covariance), keeping the features themselves
    while ``n <= D`` for the exact small-sample route of :func:`frechet_distance`."""

    def __init__(self, dim: int = FEATURES) -> None:
        self.n = 0
        self.total = torch.zeros(dim, dtype=torch.float64)
        self.outer = torch.zeros(dim, dim, dtype=torch.float64)
        self.kept: list[torch.Tensor] | None = []

    def add(self, features: torch.Tensor) -> None:
        f = features.detach().to("cpu", torch.float64)
        self.n += f.shape[0]
        self.total += f.sum(dim=0)
        self.outer.addmm_(f.T, f)
        if self.kept is not None:
            self.kept.append(f)
            if self.n > self.total.numel():  # beyond D images the covariance route is as cheap
                self.kept = None

    def mean(self) -> np.ndarray:
        return (self.total / self.n).numpy()

    def cov(self) -> np.ndarray:
        """Unbiased sample covariance ``[D,D]`` (``np.cov(features, rowvar=False)``)."""
        mu = self.total / self.n
        return ((self.outer - self.n * torch.outer(mu, mu)) / (self.n - 1)).numpy()

    def centred(self) -> np.ndarray | None:
        """The kept features minus their mean ``[n,D]``, or None when too many were added to keep."""
        if self.kept is None:
            return None
        f = torch.cat(self.kept)
        return (f - f.mean(dim=0)).numpy()


def _sqrt_psd_eigs(values: np.ndarray, what: str) -> np.ndarray:
    """``sqrt`` of eigenvalues of a PSD matrix, clamping round-off negatives; a real negative one raises."""
    top = float(np.max(np.abs(values))) if values.size else 0.0
    if values.size and float(values.min()) < -1e-6 * max(top, 1e-300):
        raise ValueError(f"frechet_distance: {what} has eigenvalue {float(values.min()):.3g} (largest {top:.3g}): "
                         "not a covariance (features with NaN/inf, or fewer than 2 images?)")
    return np.sqrt(np.clip(values, 0.0, None))


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``tr((Σ1 Σ2)^½)`` of two ``[D,D]`` covariances, float64, via ``eigvalsh(Σ1^½ Σ2 Σ1^½)``."""
    w, v = np.linalg.eigh(np.asarray(sigma1, np.float64))
    root = (v * _sqrt_psd_eigs(w, "sigma1")) @ v.T
    inner = root @ np.asarray(sigma2, np.float64) @ root
    return float(_sqrt_psd_eigs(np.linalg.eigvalsh((inner + inner.T) / 2), "sigma1^½ sigma2 sigma1^½").sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (``[D]``, ``[D,D]``), float64."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"frechet_distance: shapes differ: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} vs "
                         f"{sigma2.shape}")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2))


def frechet_from_stats(a: FeatureStats, b: FeatureStats) -> float:
    """The Fréchet distance of two feature sets: the nuclear-norm route when both kept their features, else
    :func:`frechet_distance` on the covariances. NaN with fewer than 2 images on a side."""
    if a.n < 2 or b.n < 2:
        return float("nan")
    xa, xb = a.centred(), b.centred()
    if xa is None or xb is None:
        return frechet_distance(a.mean(), a.cov(), b.mean(), b.cov())
    diff = a.mean() - b.mean()
    tr_a = float(np.einsum("ij,ij->", xa, xa)) / (a.n - 1)
    tr_b = float(np.einsum("ij,ij->", xb, xb)) / (b.n - 1)
    cross = np.linalg.svd(xa @ xb.T, compute_uv=False).sum() / np.sqrt((a.n - 1) * (b.n - 1))
    return float(diff @ diff + tr_a + tr_b - 2 * cross)

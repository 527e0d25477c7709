"""Colourisation as classification: the quantised ab space of Zhang, Isola and Efros 2016 ("Colorful Image
Colorization", ECCV, §2.1-2.2), shared by every method that predicts a distribution over ab bins.

* **Bins** (:func:`bin_centres`): the paper's Q = 313 in-gamut points of a grid of 10 Lab units, its published
  table (``resources/pts_in_hull.npy`` of richzhang/colorization), carried here as one b range per a value.
* **Soft encoding** (:func:`soft_encode`): a colour's 5 nearest bins, weighted by a Gaussian of σ = 5 Lab units on
  the distance and normalised to sum 1 (§2.1).
* **Prior and rebalancing** (:func:`empirical_prior`, :func:`smooth_prior`, :func:`rebalance_weights`): the
  empirical distribution of the training pixels' nearest bins, smoothed with a Gaussian of σ = 5 over the bin
  centres; weights ``w ∝ ((1-λ)·p̃ + λ/Q)⁻¹``, λ = 0.5, scaled so that ``E_p̃[w] = 1`` (eq. 3-4).
* **Loss** (:func:`rebalanced_cross_entropy`): the multinomial cross-entropy against the soft encoding, each pixel
  weighted by the rebalancing weight of its nearest bin (eq. 2).
* **Decoding** (:func:`decode`): the annealed mean, softmax of the logits / T with T = 0.38 (eq. 5); T = 1 gives the
  mean of the distribution, T → 0 its mode.
* **Cached priors** (:func:`prior_config`): a training set's prior is computed once (seed 0, epoch 0 crops of its
  train split at the training size) and written atomically under ``runs/priors/``; a method returns its path and
  content hash from :meth:`colorbench.method.Method.data_config`, so the hash enters every cell key.

Units: colours here are in **Lab units** (``ab_lab``, about [-110, 110]); centres are ``[Q,2]`` (a, b).
"""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any, Literal, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from colorbench import _atomic as atomic
from colorbench.color import AB_SCALE

GRID = 10.0
"""Grid step of the bins, Lab units."""
NEIGHBOURS = 5
"""Bins of a colour's soft encoding."""
SIGMA = 5.0
"""σ of the soft encoding's and the prior smoothing's Gaussian, Lab units."""
LAMBDA = 0.5
"""Rebalancing mix: λ = 0.5 the paper's; λ = 1 uniform weights (plain cross-entropy)."""
T_ANNEALED = 0.38
"""Temperature of the annealed mean."""
PRIOR_DIR = Path("runs/priors")
"""Where training-set priors are cached (relative to the working directory, as ``runs/bench``)."""

# The published table, a -> (lowest b, highest b), every b in between on the grid of 10: 313 points.
# Source: Zhang, Isola and Efros 2016, richzhang/colorization, resources/pts_in_hull.npy (sorted by a, then b).
ZHANG_313: dict[int, tuple[int, int]] = {
    -90: (50, 90), -80: (20, 90), -70: (0, 90), -60: (-20, 90), -50: (-30, 100), -40: (-40, 100),
    -30: (-50, 100), -20: (-50, 100), -10: (-60, 100), 0: (-70, 100), 10: (-80, 90), 20: (-80, 90),
    30: (-90, 90), 40: (-100, 90), 50: (-100, 80), 60: (-110, 80), 70: (-110, 80), 80: (-110, 70),
    90: (-110, 70), 100: (-90, 0),
}


def bin_centres() -> torch.Tensor:
    """``[313,2]`` float32: the paper's ab bin centres in Lab units, in the published order (a, then b)."""
    pts = [(a, b) for a, (lo, hi) in ZHANG_313.items() for b in range(lo, hi + 1, int(GRID))]
    return torch.tensor(pts, dtype=torch.float32)


def _sq_distances(ab_lab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """``[B,2,H,W]`` Lab units, ``[Q,2]`` -> ``[B,Q,H,W]`` squared distances."""
    ab = ab_lab.float()
    c = centres.to(ab)
    cross = torch.einsum("bchw,qc->bqhw", ab, c)
    return ((ab * ab).sum(1, keepdim=True) - 2 * cross + (c * c).sum(1)[None, :, None, None]).clamp_min(0)


def soft_encode(ab_lab: torch.Tensor, centres: torch.Tensor, neighbours: int = NEIGHBOURS,
                sigma: float = SIGMA) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft encoding: ``[B,2,H,W]`` ab in Lab units -> ``(index [B,k,H,W] long, weight [B,k,H,W])``, the ``k``
    nearest bins (nearest first) and Gaussian weights ``exp(-d²/2σ²)`` normalised to sum 1 over ``k``."""
    d2 = _sq_distances(ab_lab, centres)
    near, index = torch.topk(d2, neighbours, dim=1, largest=False, sorted=True)
    weight = torch.softmax(-near / (2 * sigma ** 2), dim=1)  # = exp(-d²/2σ²) / Σ exp(-d²/2σ²)
    return index, weight


def nearest_bin(ab_lab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """``[B,2,H,W]`` ab in Lab units -> ``[B,H,W]`` long: the index of the nearest bin centre.

    For the paper's grid bins this is a lookup: a colour whose nearest grid point (rounded to 10) is a bin belongs
    to it; only the others (outside the table's hull) are searched among all centres."""
    on_grid = bool(((centres % GRID) == 0).all()) and centres.abs().max() <= AB_SCALE
    if not on_grid:
        return _sq_distances(ab_lab, centres).argmin(dim=1)
    k = int(AB_SCALE // GRID)
    side = 2 * k + 1
    table = torch.full((side * side,), -1, dtype=torch.long, device=ab_lab.device)
    cells = (centres.to(ab_lab.device) / GRID).round().long() + k
    table[cells[:, 0] * side + cells[:, 1]] = torch.arange(centres.shape[0], device=ab_lab.device)
    g = torch.round(ab_lab.float() / GRID).clamp(-k, k).long() + k  # [B,2,H,W]
    out = table[g[:, 0] * side + g[:, 1]]
    off = out < 0
    if off.any():
        far = ab_lab.float().permute(0, 2, 3, 1)[off]  # [N,2]
        out[off] = torch.cdist(far, centres.to(far)).argmin(dim=1)
    return out


def decode(logits: torch.Tensor, centres: torch.Tensor, how: Literal["annealed", "mean", "mode"] = "annealed",
           t: float = T_ANNEALED) -> torch.Tensor:
    """``[B,Q,H,W]`` bin logits -> ``[B,2,H,W]`` ab in Lab units.

    ``annealed``: the expectation under ``softmax(logits / t)``, which equals the re-normalised ``p ** (1/t)`` of the
    bin probabilities ``p`` (eq. 5); ``mean``: the same at t = 1; ``mode``: the centre of the most probable bin."""
    c = centres.to(device=logits.device, dtype=torch.float32)
    if how == "mode":
        return c[logits.argmax(dim=1)].permute(0, 3, 1, 2).contiguous()
    if how not in ("annealed", "mean"):
        raise ValueError(f"decode must be 'annealed', 'mean' or 'mode', got {how!r}")
    temp = 1.0 if how == "mean" else float(t)
    weights = torch.softmax(logits.float() / temp, dim=1)
    return torch.einsum("bqhw,qc->bchw", weights, c)


def smooth_prior(counts: torch.Tensor, centres: torch.Tensor, sigma: float = SIGMA) -> torch.Tensor:
    """``[Q]`` bin counts -> ``[Q]`` the empirical distribution smoothed by a Gaussian of ``sigma`` Lab units over
    the bin centres (each bin's mass spread over its neighbours), summing to 1."""
    c = centres.double()
    kernel = torch.exp(-torch.cdist(c, c) ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum(dim=0, keepdim=True)  # column q: where bin q's mass goes
    p = counts.double() / counts.double().sum().clamp_min(1e-12)
    smoothed = kernel @ p
    return (smoothed / smoothed.sum()).float()


def rebalance_weights(prior: torch.Tensor, lam: float = LAMBDA) -> torch.Tensor:
    """``[Q]`` smoothed prior p̃ -> ``[Q]`` weights ``w ∝ ((1-λ)p̃ + λ/Q)⁻¹`` with ``Σ p̃·w = 1`` (eq. 4);
    λ = 1 gives uniform weights 1."""
    p = prior.double()
    w = 1.0 / ((1.0 - lam) * p + lam / p.numel())
    return (w / (p * w).sum()).float()


NON_GREY_THRESHOLD = 5.0
"""The released training code's ``NonGrayMaskLayer`` threshold on |a|, |b|, Lab units."""


def non_grey_mask(ab_lab: torch.Tensor, threshold: float = NON_GREY_THRESHOLD) -> torch.Tensor:
    """``[B,2,H,W]`` ab in Lab units -> ``[B]`` float, 1 for an image with some |a| or |b| above ``threshold``, 0
    for a grey one (the released code's ``NonGrayMaskLayer``, on the subsampled ab it sees)."""
    return (ab_lab.abs() > threshold).flatten(1).any(dim=1).to(torch.float32)


def rebalanced_cross_entropy(logits: torch.Tensor, index: torch.Tensor, weight: torch.Tensor,
                             class_weights: torch.Tensor | None = None,
                             image_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 2, averaged over pixels: ``-v(q*) Σ_k weight_k log softmax(logits)[index_k]``, with ``v(q*)`` the
    rebalancing weight of the nearest bin (``index[:,0]``; None: 1). ``logits`` ``[B,Q,H,W]``; ``index``,
    ``weight`` ``[B,k,H,W]`` from :func:`soft_encode`; ``image_mask`` ``[B]`` (e.g. :func:`non_grey_mask`)
    multiplies every pixel of its image (the mean still runs over all pixels, as the code's masked weights)."""
    logp = F.log_softmax(logits.float(), dim=1).gather(1, index)
    per_pixel = -(weight * logp).sum(dim=1)
    if class_weights is not None:
        per_pixel = per_pixel * class_weights.to(per_pixel)[index[:, 0]]
    if image_mask is not None:
        per_pixel = per_pixel * image_mask.to(per_pixel)[:, None, None]
    return per_pixel.mean()


# ------------------------------------------------------------------------------------------------- priors
def empirical_prior(dataset: Any, centres: torch.Tensor, sigma: float = SIGMA, batch: int = 64) -> torch.Tensor:
    """``[Q]`` the smoothed prior of ``dataset`` (items or ``get_batch`` with ``"ab"`` ``[.,2,H,W]`` ab/110): the
    nearest-bin counts of every pixel of every item, then :func:`smooth_prior`."""
    counts = torch.zeros(centres.shape[0], dtype=torch.float64)
    n = len(dataset)
    for start in range(0, n, batch):
        idx = list(range(start, min(n, start + batch)))
        if hasattr(dataset, "get_batch"):
            ab = dataset.get_batch(idx)["ab"]
        else:
            ab = torch.stack([dataset[i]["ab"] for i in idx])
        bins = nearest_bin(ab.float() * AB_SCALE, centres)
        counts += torch.bincount(bins.reshape(-1), minlength=centres.shape[0]).double()
    return smooth_prior(counts, centres, sigma)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def prior_config(dataset: str, size: int, data_options: Mapping[str, Any] | None = None,
                 folder: Path | None = None) -> dict[str, str]:
    """The cached prior of ``dataset``'s train split at ``size`` px: ``{"prior": path, "prior_sha": content
    hash}``, computing and writing it (atomically, ``[313]`` float32 .npy under ``folder``, default
    ``runs/priors``) the first time. The file's name hashes what the prior depends on (dataset, size, options,
    the dataset's files, the code that computes it), so a changed input makes a new file."""
    from colorbench import fingerprint
    from colorbench.data import build_dataset, data_fingerprint

    opts = dict(data_options or {})
    inputs = {"dataset": dataset, "size": int(size), "options": opts, "sigma": SIGMA,
              "data": data_fingerprint(dataset, opts.get("data_dir")),
              "code": fingerprint.modules_hash(__name__)}
    name = f"{Path(str(dataset)).stem}-{int(size)}px-{_sha(json.dumps(inputs, sort_keys=True, default=str).encode())}"
    path = (folder or PRIOR_DIR) / f"{name}.npy"
    if not path.is_file():
        train = build_dataset(dataset, "train", size=int(size), seed=0, **opts)  # epoch 0 crops of seed 0
        prior = empirical_prior(train, bin_centres()).numpy().astype(np.float32)
        buf = io.BytesIO()
        np.save(buf, prior)
        atomic.write_bytes(path, buf.getvalue())
    return {"prior": str(path), "prior_sha": _sha(path.read_bytes())}


def load_prior(path: str | Path, sha: str | None = None) -> torch.Tensor:
    """``[313]`` the prior written by :func:`prior_config`; ``sha`` (its ``prior_sha``) must match the file."""
    from colorbench.errors import UserError

    p = Path(path)
    if not p.is_file():
        raise UserError(f"prior file {p} does not exist; train through colorbench (it writes it) or drop the "
                        "'prior' setting to train without class rebalancing")
    data = p.read_bytes()
    if sha and _sha(data) != sha:
        raise UserError(f"prior file {p} has changed since this run was configured (hash {_sha(data)}, expected "
                        f"{sha}); delete it and run again")
    prior = torch.from_numpy(np.load(io.BytesIO(data)).astype(np.float32))
    if prior.shape != (len(bin_centres()),):
        raise UserError(f"prior file {p} holds {tuple(prior.shape)} values, expected ({len(bin_centres())},)")
    return prior


def class_weights(prior: str | Path | None, sha: str | None = None, lam: float = LAMBDA) -> torch.Tensor | None:
    """``[313]`` the rebalancing weights of the prior file ``prior`` (checked against ``sha``); ones without a prior
    (or with λ = 1); None when the file is gone (e.g. a run folder read from another working directory: the
    checkpoint's own copy of the weights then replaces whatever the method starts with)."""
    q = len(bin_centres())
    if not prior or lam >= 1.0:
        return torch.ones(q)
    if not Path(prior).is_file():
        return None
    return rebalance_weights(load_prior(prior, sha), lam)


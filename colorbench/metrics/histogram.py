"""Colour-histogram divergence between predicted and true ab, pooled over a test set (docs/architecture.md, "Histogram
divergence, precisely").

Bins: 220 bins of width 1 on [-110, 110) in Lab units, one histogram for a and one for b. The Lab value of a
normalised ab is ``ab * 110`` computed in the input's dtype (float32 for anything but float64), and a value v falls
in bin ``floor(v) + 110``; values outside [-110, 110) are counted in the edge bins, so every pixel counts once
(the truth never leaves the range: sRGB spans a ∈ [-86, 98], b ∈ [-108, 95]).

Canonical form: t and p are the pooled counts normalised to sum 1;
``KL(true‖pred) = Σ (t+ε)·ln((t+ε)/(p+ε))`` with ε = 1e-10 and no renormalisation
(= ``scipy.special.rel_entr(t+ε, p+ε).sum()``); ``JS = scipy.spatial.distance.jensenshannon(t, p)**2`` (natural
log, no ε, so JS ≤ ln 2).

Legacy form (``legacy=True``): t and p are the pooled counts divided by the number of images (mean counts per
image, not normalised), with the same KL formula. This is how KL values of 10-370 as published (Tarrés 2020)
can arise; normalised histograms give KL of order 0.01-1. JS normalises its inputs by definition, and the published JS
values (≤ ln 2) fit that, so JS is the same in both forms. Tables must say which form a KL is in.
"""
from __future__ import annotations

import torch

from colorbench.color import AB_SCALE
from colorbench.metrics._check import check_pair

BINS = 220
LOW = -110  # Lab units; bins are [LOW + i, LOW + i + 1)
EPS = 1e-10


def bin_edges() -> torch.Tensor:
    """The 221 bin edges in Lab units, float64: -110, -109, ..., 110."""
    return torch.arange(LOW, LOW + BINS + 1, dtype=torch.float64)


def ab_counts(ab: torch.Tensor) -> torch.Tensor:
    """``[B,2,H,W]`` ab/110 (finite) -> ``[2,220]`` int64 counts on ab's device (row 0 = a, row 1 = b)."""
    ab = ab if ab.dtype == torch.float64 else ab.float()
    # floor, clamp and shift are exact on integers in float; b's bins follow a's, so one bincount counts both;
    # int32 indices bincount ~2x faster than int64
    shift = torch.tensor((-LOW, BINS - LOW), dtype=ab.dtype, device=ab.device).view(1, 2, 1, 1)
    idx = (ab * AB_SCALE).floor_().clamp_(LOW, LOW + BINS - 1).add_(shift).to(torch.int32)
    return torch.bincount(idx.flatten(), minlength=2 * BINS).view(2, BINS)


def ab_counts_per_image(ab: torch.Tensor) -> torch.Tensor:
    """``[B,2,H,W]`` ab/110 (finite) -> ``[B,2,220]`` int64 counts of each image on ab's device, the same bins as
    :func:`ab_counts` (whose result is their sum over images)."""
    ab = ab if ab.dtype == torch.float64 else ab.float()
    n = ab.shape[0]
    shift = torch.tensor((-LOW, BINS - LOW), dtype=ab.dtype, device=ab.device).view(1, 2, 1, 1)
    idx = (ab * AB_SCALE).floor_().clamp_(LOW, LOW + BINS - 1).add_(shift).to(torch.int64)
    idx += torch.arange(n, device=ab.device).mul_(2 * BINS).view(n, 1, 1, 1)  # image i's bins follow image i-1's
    return torch.bincount(idx.flatten(), minlength=n * 2 * BINS).view(n, 2, BINS)


class AbHistogram:
    """Streaming pooled histogram of a and b: ``update(ab)`` any number of times, memory stays ``[2,220]``.

    ``counts``: ``[2,220]`` int64 on the CPU (row 0 = a, row 1 = b); ``n_images``: images seen.
    """

    def __init__(self) -> None:
        self.counts = torch.zeros(2, BINS, dtype=torch.int64)
        self.n_images = 0

    def update(self, ab: torch.Tensor) -> None:
        """Add ``[B,2,H,W]`` normalised ab (ab/110), on any device."""
        if ab.ndim != 4 or ab.shape[1] != 2:
            raise ValueError(f"AbHistogram.update: ab must be [B,2,H,W] ab/110; got shape {tuple(ab.shape)}")
        if not ab.is_floating_point():
            raise TypeError(f"AbHistogram.update: ab must be a float tensor (ab/110); got {ab.dtype}")
        if not bool(torch.isfinite(ab.sum())):  # one cheap pass; NaN/inf would land in arbitrary bins
            raise ValueError("AbHistogram.update: ab holds NaN or inf values (or values beyond ~1e30)")
        self.add_counts(ab_counts(ab), ab.shape[0])

    def add_counts(self, counts: torch.Tensor, n_images: int) -> None:
        """Add ``[2,220]`` counts from :func:`ab_counts` of ``n_images`` images."""
        self.counts += counts.cpu()
        self.n_images += n_images

    def merge(self, other: "AbHistogram") -> None:
        """Pool another accumulator's counts into this one (e.g. from another shard or rank)."""
        self.counts += other.counts
        self.n_images += other.n_images

    def normalised(self) -> torch.Tensor:
        """``[2,220]`` float64, each row summing to 1."""
        if self.n_images == 0:
            raise ValueError("AbHistogram: no images were added; call update() before reading the histogram")
        c = self.counts.to(torch.float64)
        return c / c.sum(dim=1, keepdim=True)

    def mean_counts(self) -> torch.Tensor:
        """``[2,220]`` float64: pooled counts divided by the number of images (the legacy form)."""
        if self.n_images == 0:
            raise ValueError("AbHistogram: no images were added; call update() before reading the histogram")
        return self.counts.to(torch.float64) / self.n_images


def _rel_entr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Elementwise ``x·ln(x/y)`` with 0 where x = 0 (scipy.special.rel_entr for x, y >= 0)."""
    return torch.where(x > 0, x * torch.log(x / y), torch.zeros_like(x))


def kl_divergence(t: torch.Tensor, p: torch.Tensor, eps: float = EPS) -> float:
    """``Σ (t+ε)·ln((t+ε)/(p+ε))`` over a 1-D histogram pair (no renormalisation), as a float."""
    t, p = t.double() + eps, p.double() + eps
    return float(_rel_entr(t, p).sum())


def js_divergence(t: torch.Tensor, p: torch.Tensor) -> float:
    """Squared Jensen-Shannon distance with natural log: ``jensenshannon(t, p)**2``; inputs are normalised first."""
    t, p = t.double(), p.double()
    t, p = t / t.sum(), p / p.sum()
    m = (t + p) / 2.0
    return float((_rel_entr(t, m).sum() + _rel_entr(p, m).sum()) / 2.0)


def divergence_from_histograms(true: AbHistogram, pred: AbHistogram, legacy: bool = False) -> dict:
    """JS and KL from two pooled accumulators. Returns ``{"js_a", "js_b", "kl_a", "kl_b"}`` (floats, nats),
    ``"hist_true"``/``"hist_pred"`` (``[2,220]`` float64 in the form used), ``"bin_edges"`` (``[221]``, Lab units)
    and ``"form"`` (``"normalised"`` or ``"legacy"``)."""
    t = true.mean_counts() if legacy else true.normalised()
    p = pred.mean_counts() if legacy else pred.normalised()
    out: dict = {}
    for i, ch in enumerate("ab"):
        out[f"js_{ch}"] = js_divergence(t[i], p[i])
        out[f"kl_{ch}"] = kl_divergence(t[i], p[i])
    out.update(hist_true=t, hist_pred=p, bin_edges=bin_edges(), form="legacy" if legacy else "normalised")
    return out


def ab_histogram_divergence(pred_ab: torch.Tensor, true_ab: torch.Tensor, legacy: bool = False) -> dict:
    """Histogram divergence of one batch, pooled over its images: ``[B,2,H,W]`` ab/110 pair -> the dict of
    :func:`divergence_from_histograms`. For a test set streamed in batches use :class:`AbHistogram` (or the
    Evaluator), which pools exactly the same counts."""
    check_pair(pred_ab, true_ab, "ab_histogram_divergence", 2)
    if not bool(torch.isfinite(pred_ab.sum())):
        raise ValueError("ab_histogram_divergence: pred_ab holds NaN or inf values; a prediction must be finite")
    h_true, h_pred = AbHistogram(), AbHistogram()
    h_true.update(true_ab)
    h_pred.update(pred_ab)
    return divergence_from_histograms(h_true, h_pred, legacy=legacy)

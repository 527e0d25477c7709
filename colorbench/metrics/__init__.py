"""colorbench.metrics: pure functions on batched tensors (any device) and the :data:`METRICS` declaration table.

Units are in the argument names: ``*_rgb`` is ``[B,3,H,W]`` sRGB in [0,1]; ``*_ab`` is ``[B,2,H,W]`` normalised
ab/110. Per-image functions return ``[B]`` tensors; :func:`ab_histogram_divergence` returns a dict of floats and
histograms. The streaming :class:`colorbench.evaluator.Evaluator` only accumulates these.

    from colorbench import metrics
    metrics.psnr(pred_rgb, true_rgb)         # [B] dB, data range 1, inf for identical images
    metrics.ssim(pred_rgb, true_rgb)         # [B], = skimage structural_similarity(gaussian_weights=True, ...)
    metrics.ab_histogram_divergence(pred_ab, true_ab)   # {'js_a','js_b','kl_a','kl_b', histograms}
    metrics.colorfulness(rgb)                # [B], Hasler & Suesstrunk 2003
"""
from __future__ import annotations

from colorbench.metrics.histogram import (
    AbHistogram,
    ab_counts,
    ab_counts_per_image,
    ab_histogram_divergence,
    bin_edges,
    divergence_from_histograms,
    js_divergence,
    kl_divergence,
)
from colorbench.metrics.perceptual import perceptual_status
from colorbench.metrics.pixel import colorfulness, delta_colorfulness, delta_e76, mae_ab, psnr
from colorbench.metrics.structural import ssim
from colorbench.metrics.table import (DEGENERATE, HISTOGRAM_METRICS, METRICS, PER_IMAGE_METRICS, DegenerateRule,
                                     MetricInfo)

__all__ = [
    "DEGENERATE", "HISTOGRAM_METRICS", "METRICS", "PER_IMAGE_METRICS", "DegenerateRule", "MetricInfo", "AbHistogram",
    "ab_counts", "ab_counts_per_image", "ab_histogram_divergence", "bin_edges",
    "divergence_from_histograms", "js_divergence", "kl_divergence", "perceptual_status", "colorfulness",
    "delta_colorfulness", "delta_e76", "mae_ab", "psnr", "ssim",
]

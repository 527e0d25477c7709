"""colorbench.metrics: pure functions on batched tensors (any device) and the :data:`METRICS` declaration table.

Units are in the argument names: ``*_rgb`` is ``[B,3,H,W]`` sRGB in [0,1]; ``*_ab`` is ``[B,2,H,W]`` normalised
ab/110. Per-image functions return ``[B]`` tensors; :func:`ab_histogram_divergence` returns a dict of floats and
histograms. The streaming :class:`colorbench.evaluator.Evaluator` only accumulates these.

    from colorbench import metrics
    metrics.psnr(pred_rgb, true_rgb)         # [B] dB, data range 1, inf for identical images
    metrics.ssim(pred_rgb, true_rgb)         # [B], = skimage structural_similarity(gaussian_weights=True, ...)
    metrics.ab_histogram_divergence(pred_ab, true_ab)   # {'js_a','js_b','kl_a','kl_b', histograms}
    metrics.colorfulness(rgb)                # [B] on 0..255, Hasler & Suesstrunk 2003
    metrics.colorfulness(rgb, kind="abs")    # [B], the colourisation papers' absolute-value form

The figures that need pretrained files live in their own modules, imported on use (they import torchvision):
``colorbench.metrics.lpips`` (``lpips(pred_rgb, true_rgb, net="alex"|"vgg")``) and ``colorbench.metrics.fid``
(``frechet_distance``, the Inception extractors); ``colorbench.metrics.weighted`` checks their files.
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
from colorbench.metrics.pixel import colorfulness, delta_colorfulness, delta_e76, mae_ab, psnr
from colorbench.metrics.structural import ssim
from colorbench.metrics.table import (DEFAULT_METRICS, DEGENERATE, GROUPS, HISTOGRAM_METRICS, METRICS,
                                     PER_IMAGE_METRICS, WEIGHTED_METRICS, DegenerateRule, MetricInfo, select)

__all__ = [
    "DEFAULT_METRICS", "DEGENERATE", "GROUPS", "HISTOGRAM_METRICS", "METRICS", "PER_IMAGE_METRICS",
    "WEIGHTED_METRICS", "DegenerateRule", "MetricInfo", "select", "AbHistogram",
    "ab_counts", "ab_counts_per_image", "ab_histogram_divergence", "bin_edges",
    "divergence_from_histograms", "js_divergence", "kl_divergence", "colorfulness",
    "delta_colorfulness", "delta_e76", "mae_ab", "psnr", "ssim",
]

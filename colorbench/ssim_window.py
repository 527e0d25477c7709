"""SSIM's Gaussian window, as scikit-image and SciPy build it (sigma 1.5, truncate 3.5: 11 taps of radius 5).

Torch-free, so the checks of a training crop (it must hold one window, or the crop can never be evaluated) need
not load the metrics; :mod:`colorbench.metrics.structural` filters with this window.
"""
from __future__ import annotations

SIGMA = 1.5
TRUNCATE = 3.5
RADIUS = int(TRUNCATE * SIGMA + 0.5)  # 5, as scipy.ndimage computes it
WIN_SIZE = 2 * RADIUS + 1  # 11

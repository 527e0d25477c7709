"""Weight initialisation shared by the methods: pix2pix / DCGAN N(0, 0.02) and TensorFlow's Glorot initialisers."""
from __future__ import annotations

import math

import torch
from torch import nn

from colorbench.nets.blocks import FrozenStatsBatchNorm2d

_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.InstanceNorm2d, nn.GroupNorm,
          nn.LayerNorm, FrozenStatsBatchNorm2d)
_TRUNCATED_STD = 0.87962566103423978
"""Standard deviation of a unit normal truncated to [-2, 2] (TensorFlow's ``VarianceScaling`` correction)."""


def init_normal_(module: nn.Module, std: float = 0.02) -> nn.Module:
    """Initialise ``module`` in place, recursively, as pix2pix does (``init_type='normal'``, gain 0.02).

    Conv / transposed-conv / linear weights ~ N(0, std), their biases 0; affine norm-layer weights ~ N(1, std),
    their biases 0. Parametrised weights (e.g. spectral norm's ``weight_orig``) are initialised through the
    module's ``weight_orig`` when present. Returns ``module`` for chaining.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                          nn.ConvTranspose3d, nn.Linear)):
            weight = getattr(m, "weight_orig", None)
            if weight is None:
                parametrizations = getattr(m, "parametrizations", None)
                weight = parametrizations.weight.original if parametrizations is not None and hasattr(
                    parametrizations, "weight") else m.weight
            nn.init.normal_(weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, _NORMS):
            if getattr(m, "weight", None) is not None:
                nn.init.normal_(m.weight, 1.0, std)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
    return module


def glorot_truncated_normal_(weight: torch.Tensor) -> torch.Tensor:
    """TensorFlow's ``glorot_normal_initializer`` in place: a normal truncated at ±2σ, σ chosen so that the drawn
    values have standard deviation ``sqrt(2 / (fan_in + fan_out))`` (fans include the kernel area).

    TensorFlow 1.x draws ``truncated_normal(stddev = sqrt(1 / fan_avg) / 0.8796...)``; PyTorch's
    ``xavier_normal_`` is the same standard deviation without truncation."""
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(weight)
    std = math.sqrt(2.0 / float(fan_in + fan_out)) / _TRUNCATED_STD
    return nn.init.trunc_normal_(weight, 0.0, std, a=-2.0 * std, b=2.0 * std)


def init_xavier_(module: nn.Module, distribution: str = "uniform") -> nn.Module:
    """Glorot / Xavier initialisation in place (TensorFlow's default, as the KTH code uses).

    Conv / transposed-conv / linear weights ~ Glorot ``distribution``: ``"uniform"`` (TF ``glorot_uniform``),
    ``"normal"`` (PyTorch ``xavier_normal_``, untruncated) or ``"truncated_normal"`` (TF ``glorot_normal``,
    :func:`glorot_truncated_normal_`); fans include the kernel area; biases 0; affine norm layers weight 1,
    bias 0 (TensorFlow's defaults).
    """
    fn = {"uniform": nn.init.xavier_uniform_, "normal": nn.init.xavier_normal_,
          "truncated_normal": glorot_truncated_normal_}.get(distribution)
    if fn is None:
        raise ValueError(f"init_xavier_: distribution must be 'uniform', 'normal' or 'truncated_normal', "
                         f"got {distribution!r}")
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                          nn.ConvTranspose3d, nn.Linear)):
            fn(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, _NORMS):
            if getattr(m, "weight", None) is not None:
                nn.init.ones_(m.weight)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
    return module


INIT_NAMES = ("glorot_normal", "glorot_uniform", "normal", "torch")
"""Names :func:`init_by_name_` takes, as the methods' ``init`` config fields spell them."""


def init_by_name_(module: nn.Module, init: str) -> nn.Module:
    """Initialise ``module`` in place by a config name: ``"glorot_normal"`` (TensorFlow's, truncated),
    ``"glorot_uniform"`` (TensorFlow's default), ``"normal"`` (N(0, 0.02), pix2pix) or ``"torch"`` (leave PyTorch's
    own initialisation). Returns ``module``."""
    if init == "glorot_normal":
        return init_xavier_(module, "truncated_normal")
    if init == "glorot_uniform":
        return init_xavier_(module, "uniform")
    if init == "normal":
        return init_normal_(module, 0.02)
    if init != "torch":
        raise ValueError(f"init must be one of {', '.join(INIT_NAMES)}; got {init!r}")
    return module

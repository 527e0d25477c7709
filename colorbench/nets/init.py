"""Weight initialisation shared by the GAN methods (pix2pix, DCGAN convention)."""
from __future__ import annotations

from torch import nn

_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.InstanceNorm2d, nn.GroupNorm,
          nn.LayerNorm)


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


def init_xavier_(module: nn.Module, distribution: str = "uniform") -> nn.Module:
    """Glorot / Xavier initialisation in place (TensorFlow's default, as the KTH code uses).

    Conv / transposed-conv / linear weights ~ Glorot ``distribution`` (``"uniform"`` or ``"normal"``; fans
    include the kernel area), biases 0; affine norm layers weight 1, bias 0 (TensorFlow's defaults).
    """
    fn = {"uniform": nn.init.xavier_uniform_, "normal": nn.init.xavier_normal_}.get(distribution)
    if fn is None:
        raise ValueError(f"init_xavier_: distribution must be 'uniform' or 'normal', got {distribution!r}")
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

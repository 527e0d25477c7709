"""Spectral normalisation (Miyato et al. 2018) on every conv of a module, and a check that it is there.

Górriz et al. (and the BBC ColorGAN code, ``ConvSN2D``) normalise every conv of the generator and of the
discriminators: the weight is divided by its largest singular value, estimated by one power iteration per forward
pass in training (``torch.nn.utils.parametrizations.spectral_norm``: ``n_power_iterations=1``, ``eps=1e-12``, the
same as the Keras layer). Apply it *after* initialising the weights: the parametrisation keeps the initialised
tensor as ``parametrizations.weight.original``.
"""
from __future__ import annotations

from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def has_spectral_norm(module: nn.Module) -> bool:
    """True if ``module``'s ``weight`` is spectrally normalised (a ``spectral_norm`` parametrisation)."""
    if not parametrize.is_parametrized(module, "weight"):
        return False
    return any(type(p).__name__ == "_SpectralNorm" for p in module.parametrizations.weight)


def apply_spectral_norm(module: nn.Module, n_power_iterations: int = 1, eps: float = 1e-12) -> nn.Module:
    """Spectrally normalise, in place, every conv (1-3D, transposed too) inside ``module``; returns ``module``.

    Convs that are already normalised are left alone, so calling it twice is harmless. Linear layers are not
    touched (the Górriz networks have none; pass them to ``spectral_norm`` yourself if a network needs it).
    """
    for m in module.modules():
        if isinstance(m, CONV_TYPES) and not has_spectral_norm(m):
            spectral_norm(m, n_power_iterations=n_power_iterations, eps=eps)
    return module


def spectral_norm_coverage(module: nn.Module) -> tuple[int, int]:
    """``(normalised convs, all convs)`` inside ``module``; equal when every conv is normalised."""
    convs = [m for m in module.modules() if isinstance(m, CONV_TYPES)]
    return sum(has_spectral_norm(m) for m in convs), len(convs)

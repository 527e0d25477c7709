"""The adversarial losses every GAN method shares, in one place.

``gan_loss("bce", logits, real)``: binary cross-entropy of a discriminator's logits against the all-real (1) or
all-fake (0) target (Goodfellow et al. 2014 in the non-saturating form: the generator's loss is
``gan_loss("bce", D(fake), True)``), as pix2pix (Isola et al. 2017), C2F, the KTH report's DCGAN / VAC-GAN and
featrec's pix2pix base use it. ``gan_loss("lsgan", outputs, real)``: least squares against 1 or 0 (Mao et al.
2017), summed over the scales of a multi-scale discriminator (Górriz et al.; featrec's Górriz base).
Both are computed in float32 whatever the logits' dtype (mixed precision), and are 0-dim tensors.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

KINDS = ("bce", "lsgan")


def gan_loss(kind: str, logits: torch.Tensor | Sequence[torch.Tensor], real: bool) -> torch.Tensor:
    """``kind`` "bce" (``logits``: one tensor, any shape) or "lsgan" (one tensor or a sequence of per-scale
    outputs, their losses summed); ``real``: the target is 1 (real) or 0 (fake)."""
    target = 1.0 if real else 0.0
    if kind == "bce":
        if not isinstance(logits, torch.Tensor):
            raise TypeError("gan_loss('bce', ...): logits must be one tensor")
        x = logits.float()
        return F.binary_cross_entropy_with_logits(x, torch.full_like(x, target))
    if kind == "lsgan":
        outputs = [logits] if isinstance(logits, torch.Tensor) else list(logits)
        return sum(F.mse_loss(o.float(), torch.full_like(o, target, dtype=torch.float32)) for o in outputs)
    raise ValueError(f"gan_loss: kind must be one of {', '.join(KINDS)}, got {kind!r}")

"""The frozen feature extractor every method that borrows a pretrained backbone shares.

A frozen backbone φ (featrec's VGG16 / ResNet50 / segmentation decoder for the feature-reconstruction loss;
Koalarization's Inception-ResNet-v2 for the fusion vector) is: normalised by the backbone's own mean and std,
never trained (``requires_grad`` off), always in eval mode (batch norm on its running statistics, no dropout)
whatever ``train()`` it is given, and left out of :meth:`colorbench.method.Method.networks` (the trainer and DDP
never see it). Gradients still flow *through* it to its input when the caller needs them (a feature loss on a
prediction); a caller that only reads features wraps the call in ``torch.no_grad()``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from colorbench.nets.padding import pad_to_multiple

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def resize_square(x: torch.Tensor, size: int) -> torch.Tensor:
    """``[B,C,H,W] -> [B,C,size,size]``, bilinear and antialiased (a no-op at that size already)."""
    if tuple(x.shape[-2:]) == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


class FrozenFeatures(nn.Module):
    """``[B,C,H,W]`` image in [0,1] (C = 3 sRGB, or 1 grey, repeated to 3) -> ``net`` of the normalised image.

    ``size``: the backbone's input side; the image is resized to ``size``² first (:func:`resize_square`).
    ``multiple`` > 1: reflect-pad to that multiple first (networks that halve the image five times).
    ``self.net`` is the backbone itself.
    """

    def __init__(self, net: nn.Module, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 *, size: int | None = None, multiple: int = 1) -> None:
        super().__init__()
        self.net, self.size, self.multiple = net, (int(size) if size else None), int(multiple)
        self.register_buffer("mean", torch.tensor(tuple(mean), dtype=torch.float32).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(tuple(std), dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> "FrozenFeatures":  # frozen: always in eval mode
        return super().train(False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = resize_square(image, self.size) if self.size else image
        x = (x.expand(-1, 3, -1, -1) - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        if self.multiple > 1:
            x, _ = pad_to_multiple(x, self.multiple)
        return self.net(x)

"""torchvision's VGG16 with batch norm, cut after its deepest tapped conv, returning the tapped convs' outputs.

For perceptual losses that read several layers before their batch norm and ReLU (BasicSR's ``PerceptualLoss`` with
``vgg_type: vgg16_bn`` and layers ``conv1_1`` ... ``conv5_1``, as DDColor's training config). Wrap it in
:class:`colorbench.nets.frozen.FrozenFeatures` (ImageNet normalisation, frozen) and fill it with
``load_pretrained(taps, "vgg16_bn")``: its keys are torchvision's (``features.<i>.*``).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

VGG16_BN_CONVS = {
    "conv1_1": 0, "conv1_2": 3, "conv2_1": 7, "conv2_2": 10, "conv3_1": 14, "conv3_2": 17, "conv3_3": 20,
    "conv4_1": 24, "conv4_2": 27, "conv4_3": 30, "conv5_1": 34, "conv5_2": 37, "conv5_3": 40,
}
"""Layer name -> index of that conv in ``torchvision.models.vgg16_bn().features``."""


class VGG16BNTaps(nn.Module):
    """``[B,3,H,W]`` (already normalised) -> the outputs ``[B,C_k,H_k,W_k]`` of the named convs, in the given order."""

    def __init__(self, layers: Sequence[str] = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")) -> None:
        super().__init__()
        import torchvision

        unknown = [n for n in layers if n not in VGG16_BN_CONVS]
        if unknown:
            raise ValueError(f"VGG16BNTaps: unknown layers {unknown}; known: {', '.join(VGG16_BN_CONVS)}")
        self.taps = [VGG16_BN_CONVS[n] for n in layers]
        self.features = torchvision.models.vgg16_bn(weights=None).features[: max(self.taps) + 1]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out: dict[int, torch.Tensor] = {}
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.taps:
                out[i] = x
        return [out[i] for i in self.taps]

"""The LPIPS v0.1 network (Zhang, Isola, Efros, Shechtman & Wang, "The Unreasonable Effectiveness of Deep Features
as a Perceptual Metric", CVPR 2018; richzhang/PerceptualSimilarity, the ``lpips`` package 0.1.4).

``[B,3,H,W]`` sRGB in [0,1] pairs -> ``[B]`` distances: inputs scaled to [-1,1], shifted and scaled by the fixed
``ScalingLayer`` constants, five feature maps of the backbone (AlexNet after each ReLU of ``features``; VGG-16
after relu1_2, relu2_2, relu3_3, relu4_3, relu5_3), each unit-normalised over channels (``x / (‖x‖ + 1e-10)``),
squared differences weighted by the v0.1 1×1 linear heads, averaged over space and summed over the five layers.
Built with random weights; :mod:`colorbench.metrics.lpips` loads the backbone and the heads (local only).
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision import models

_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
_CUTS = {"alex": (2, 5, 8, 10, 12), "vgg": (4, 9, 16, 23, 30)}
_CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}
NETS = tuple(_CUTS)


class LPIPS(nn.Module):
    """LPIPS v0.1 over ``net`` (``"alex"`` or ``"vgg"``); ``features`` is torchvision's ``alexnet().features`` or
    ``vgg16().features`` (its keys load from torchvision's files), ``heads`` the five linear layers."""

    def __init__(self, net: str = "alex") -> None:
        super().__init__()
        if net not in _CUTS:
            raise ValueError(f"LPIPS: net must be one of {NETS}; got {net!r}")
        self.net = net
        backbone = models.alexnet(weights=None) if net == "alex" else models.vgg16(weights=None)
        self.features = backbone.features[: _CUTS[net][-1]]
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in _CHANNELS[net])
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        out, start = [], 0
        for cut in _CUTS[self.net]:
            for layer in self.features[start:cut]:
                x = layer(x)
            out.append(x)
            start = cut
        return out

    def forward(self, pred_rgb: torch.Tensor, true_rgb: torch.Tensor) -> torch.Tensor:
        """``[B,3,H,W]`` sRGB in [0,1] each -> ``[B]`` LPIPS distances (float32)."""
        n = pred_rgb.shape[0]
        x = torch.cat((pred_rgb, true_rgb)).float()
        x = ((2 * x - 1) - self.shift) / self.scale
        total = torch.zeros(n, dtype=torch.float32, device=x.device)
        for tap, head in zip(self._taps(x), self.heads):
            tap = tap / (tap.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)
            total += head((tap[:n] - tap[n:]).square()).mean(dim=(1, 2, 3))
        return total

    def load_heads(self, sd: dict[str, torch.Tensor]) -> None:
        """The v0.1 heads from the ``lpips`` package's ``weights/v0.1/<net>.pth`` (keys ``lin<i>.model.1.weight``)
        or from this module's own ``heads.<i>.weight``."""
        for i, head in enumerate(self.heads):
            key = next((k for k in (f"lin{i}.model.1.weight", f"heads.{i}.weight", f"lin{i}.weight") if k in sd),
                       None)
            if key is None or sd[key].shape != head.weight.shape:
                raise ValueError(f"LPIPS heads: no tensor lin{i}.model.1.weight of shape "
                                 f"{tuple(head.weight.shape)} in the file (it holds {', '.join(list(sd)[:5])})")
            head.weight.data.copy_(sd[key])

"""DeOldify's spectral-norm critic, DDColor's discriminator (reference code piddnad/DDColor,
``basicsr/archs/discriminator_arch.py`` ``DynamicUNetDiscriminator``; fastai layers, ``ddcolor_arch_utils/unet.py``).

``[B,3,H,W]`` sRGB in [0,1] -> ``[B,N]`` logits, one per patch. Layers for ``width=64, n_blocks=3``: conv4×4/2 (64),
then per block a conv3×3 (same width) and a conv4×4/2 doubling it (the first block's followed by SAGAN
self-attention, Zhang et al. 2019), a conv3×3 (512), and a conv4×4 without padding or bias to one map. Every conv is
spectrally normalised, kaiming-initialised, with a zero bias, followed by ReLU (not the last). 5,919,617 parameters
at ``width=64, n_blocks=3``, as the reference's. The input side must be at least :attr:`SpectralCritic.min_size`
(``4·2**(n_blocks+1)``: 64 at three blocks); :meth:`SpectralCritic.forward` replicate-pads smaller inputs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from colorbench.nets.pixel_decoder import sn_conv


class SelfAttention(nn.Module):
    """SAGAN self-attention over all positions, ``[B,C,H,W] -> [B,C,H,W]``: ``x + γ·attention(x)``, γ starts at 0."""

    def __init__(self, channels: int) -> None:
        super().__init__()

        def conv1d(cin: int, cout: int) -> nn.Module:
            conv = nn.Conv1d(cin, cout, 1, bias=False)
            nn.init.kaiming_normal_(conv.weight)
            return spectral_norm(conv)

        self.query, self.key, self.value = conv1d(channels, channels // 8), conv1d(channels, channels // 8), \
            conv1d(channels, channels)
        self.gamma = nn.Parameter(torch.tensor([0.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape
        x = x.flatten(2)
        f, g, h = self.query(x), self.key(x), self.value(x)
        beta = F.softmax(torch.bmm(f.transpose(1, 2), g), dim=1)
        return (self.gamma * torch.bmm(h, beta) + x).view(size)


def _layer(cin: int, cout: int, kernel: int, stride: int = 1, *, attention: bool = False, bias: bool = True,
           padding: int | None = None, relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [sn_conv(cin, cout, kernel, stride=stride, bias=bias, padding=padding)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    if attention:
        layers.append(SelfAttention(cout))
    return nn.Sequential(*layers)


class SpectralCritic(nn.Module):
    """``[B,in_channels,H,W] -> [B,N]`` patch logits (``N = (H/2**(n_blocks+1) - 3)·(W/...)``); see the module doc."""

    def __init__(self, in_channels: int = 3, width: int = 64, n_blocks: int = 3) -> None:
        super().__init__()
        nf = int(width)
        layers = [_layer(in_channels, nf, 4, 2)]
        for i in range(int(n_blocks)):
            layers += [_layer(nf, nf, 3), _layer(nf, nf * 2, 4, 2, attention=i == 0)]
            nf *= 2
        layers += [_layer(nf, nf, 3), _layer(nf, 1, 4, bias=False, padding=0, relu=False)]
        self.layers = nn.Sequential(*layers)
        self.min_size = 4 * 2 ** (int(n_blocks) + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if min(h, w) < self.min_size:
            x = F.pad(x, (0, max(0, self.min_size - w), 0, max(0, self.min_size - h)), mode="replicate")
        return self.layers(x).flatten(1)

"""Multi-scale discriminators (Wang et al. 2018, pix2pixHD; used by Górriz et al. 2019) and their LSGAN losses.

``num_scales`` discriminators with separate weights; discriminator ``s`` sees the input average-pooled ``s`` times
(2×2 windows, stride 2: full, 1/2, 1/4 resolution for three scales), as the BBC ColorGAN code does with Keras
``AvgPool2D(2, padding='same')``: on an odd side the last window is cut at the border and averages only the pixels
inside it (``ceil_mode=True``), so a 37×53 map becomes 19×27.

Losses are least squares (Mao et al. 2017, LSGAN), targets 1 for real and 0 for fake, one mean-squared error per
scale, summed over scales with weight 1 each (the reference compiles each discriminator with ``loss='mse'`` and the
combined model with ``loss_weights=[1] * d_scales``).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn


def downsample(x: torch.Tensor) -> torch.Tensor:
    """``[B,C,H,W] -> [B,C,ceil(H/2),ceil(W/2)]``: 2×2 average pooling, border windows averaging what is inside."""
    return F.avg_pool2d(x, kernel_size=2, stride=2, ceil_mode=True, count_include_pad=False)


def pyramid(x: torch.Tensor, num_scales: int) -> list[torch.Tensor]:
    """``[x, downsample(x), downsample(downsample(x)), ...]``: ``num_scales`` maps, full resolution first."""
    if num_scales < 1:
        raise ValueError(f"num_scales must be at least 1, got {num_scales}")
    maps = [x]
    for _ in range(num_scales - 1):
        maps.append(downsample(maps[-1]))
    return maps


class MultiScaleDiscriminator(nn.Module):
    """``num_scales`` discriminators, the ``s``-th on the input pooled ``s`` times.

    Args:
        make: ``make(scale) -> nn.Module`` builds the discriminator of scale ``scale`` (0 = full resolution); each
            maps ``[B,C,H',W'] -> [B,1,h,w]`` patch scores.
        num_scales: 3 in Górriz et al.; 1 is a single ordinary discriminator.

    ``forward(x)`` returns the list of the discriminators' outputs, full resolution first.
    """

    def __init__(self, make: Callable[[int], nn.Module], num_scales: int = 3) -> None:
        super().__init__()
        if num_scales < 1:
            raise ValueError(f"MultiScaleDiscriminator needs num_scales >= 1, got {num_scales}")
        self.discriminators = nn.ModuleList(make(s) for s in range(num_scales))

    @property
    def num_scales(self) -> int:
        return len(self.discriminators)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``[B,C,H,W]`` -> ``num_scales`` score maps ``[B,1,h_s,w_s]``, full resolution first."""
        return [d(m) for d, m in zip(self.discriminators, pyramid(x, self.num_scales))]


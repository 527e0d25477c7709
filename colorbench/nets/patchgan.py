"""The PatchGAN discriminator (pix2pix's ``NLayerDiscriminator``; 70×70 receptive field at ``n_layers=3``).

Layers, for ``width=64, n_layers=3``: 4×4 convs 64 (stride 2, no norm), 128 (s2), 256 (s2), 512 (stride 1),
each but the first followed by a norm, all by LeakyReLU 0.2, then a 4×4 stride-1 conv to one logit per patch
(no norm, no activation: use ``BCEWithLogitsLoss``). On 3 input channels (L + ab) with batch norm it has
2,765,633 parameters, exactly the reference's. Output: ``[B,1,H',W']`` logits; with ``padding="same"`` H' and W'
are ``H/2**(n_layers)`` and ``W/2**(n_layers)``, with the reference's ``padding=1`` two pixels fewer.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from colorbench.nets.blocks import ConvWrapper, SameConv2d, make_norm


class PatchGAN(nn.Module):
    """``[B,in_channels,H,W] -> [B,1,H',W']`` patch logits.

    Args:
        in_channels: 3 for ``concat(L, ab)``.
        width: channels of the first layer; layer ``n`` has ``width * min(2**n, max_mult)``.
        n_layers: stride-2 layers (3 = the 70×70 PatchGAN; the stride-1 layer and the output follow).
        norm: ``"batch"``, ``"instance"`` or ``"none"``; never on the first or the output layer unless
            ``norm_first`` (the VAC+GAN paper puts batch norm on every layer, the first included).
        padding: ``"reference"`` (``padding=1`` everywhere, as pix2pix) or ``"same"`` (TensorFlow 'same':
            stride-1 layers keep the size, as the KTH code).
        bias: conv biases of the hidden layers; ``None`` = only without batch norm (pix2pix's rule). The first
            and the output conv always have one.
        use_spectral_norm: wrap every conv in ``torch.nn.utils.parametrizations.spectral_norm``;
            ``conv_wrap`` takes any other wrapper instead.
    """

    def __init__(
        self,
        in_channels: int = 3,
        width: int = 64,
        n_layers: int = 3,
        *,
        norm: str = "batch",
        max_mult: int = 8,
        norm_first: bool = False,
        padding: Literal["reference", "same"] = "reference",
        bias: bool | None = None,
        use_spectral_norm: bool = False,
        conv_wrap: ConvWrapper | None = None,
    ) -> None:
        super().__init__()
        if padding not in ("reference", "same"):
            raise ValueError(f"padding must be 'reference' or 'same', got {padding!r}")
        if use_spectral_norm and conv_wrap is None:
            conv_wrap = nn.utils.parametrizations.spectral_norm
        self._wrap = conv_wrap
        hidden_bias = (norm != "batch") if bias is None else bool(bias)
        same = padding == "same"

        def norm_layers(channels: int) -> list[nn.Module]:
            layer = make_norm(norm, channels)
            return [] if layer is None else [layer]

        first_bias = True if not norm_first else hidden_bias
        layers: list[nn.Module] = [self._conv(in_channels, width, 2, bias=first_bias, same=same)]
        if norm_first:
            layers += norm_layers(width)
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, max_mult)
            stride = 2 if n < n_layers else 1
            layers += [self._conv(width * prev, width * mult, stride, bias=hidden_bias, same=same),
                       *norm_layers(width * mult), nn.LeakyReLU(0.2, inplace=True)]
        layers.append(self._conv(width * mult, 1, 1, bias=True, same=same))
        self.model = nn.Sequential(*layers)
        side = 1
        while self.output_size(side) < 1:
            side += 1
        self.min_size = side  # the smallest input side that gives one logit (24 px for the 70×70 PatchGAN)

    def _conv(self, c_in: int, c_out: int, stride: int, *, bias: bool, same: bool) -> nn.Module:
        if same and stride == 1:
            return SameConv2d(c_in, c_out, 4, bias=bias, wrap=self._wrap)
        conv = nn.Conv2d(c_in, c_out, 4, stride=stride, padding=1, bias=bias)
        return self._wrap(conv) if self._wrap is not None else conv

    def output_size(self, side: int) -> int:
        """Side of the logit map for an input side of ``side`` px (0 when the input is too small)."""
        inner: set[nn.Module] = set()
        for m in self.model.modules():
            if isinstance(m, SameConv2d):
                side = m.output_side(side)
                inner.add(m.conv)
            elif isinstance(m, nn.Conv2d) and m not in inner:
                side = (side + 2 * m.padding[0] - m.kernel_size[0]) // m.stride[0] + 1
                if side < 1:
                    return 0
        return side

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B,in_channels,H,W]`` -> ``[B,1,H',W']`` logits (one per overlapping patch)."""
        if min(x.shape[-2:]) < self.min_size:
            raise ValueError(
                f"PatchGAN input {tuple(x.shape[-2:])} is smaller than its minimum side {self.min_size} px; "
                "pad the input (e.g. colorbench.nets.padding.pad_to_multiple) or use fewer n_layers"
            )
        return self.model(x)

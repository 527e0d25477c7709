"""fastai's ``DynamicUnet`` on a torchvision ResNet encoder, rebuilt on plain torch (fastai is not a dependency).

The C2F reference (tstreule/c2f_img_color, ``src/generator.py``) builds its generator as
``DynamicUnet(create_body(resnet18, n_in=n_input, cut=-2), n_out=2, img_size=(128, 128))`` with fastai 2.5's
defaults: no blur, no self-attention, ``norm_type=None`` (the decoder's convs carry a bias and no batch norm),
``last_cross=True``, ``bottle=False``, ``y_range=None`` (no output activation), ReLU activations. That one
configuration is what this module builds; its parameter count equals the reference's (31,113,008 on 3 input
channels, 31,099,672 on 1; ``tests/test_paper_counts.py``). For an ``H×W`` input and ResNet-18:

* **encoder** (:func:`resnet_encoder`): ``conv1 bn1 relu`` (/2, 64 maps) ``maxpool layer1`` (/4, 64) ``layer2``
  (/8, 128) ``layer3`` (/16, 256) ``layer4`` (/32, 512): the ResNet without its pooling and classifier;
* **middle**: BatchNorm(512), ReLU, conv3×3 512→1024 + ReLU, conv3×3 1024→512 + ReLU;
* **decoder**: one :class:`UnetBlock` per skip, deepest first (the outputs of ``layer3``, ``layer2``, ``layer1``
  and the stem's ``relu``: the last layer before each size change, found by a probe pass as fastai does). A
  block upsamples ×2 by "PixelShuffle ICNR" (conv1×1 to 4·c/2 maps + ReLU, then ``PixelShuffle(2)``: c/2 maps),
  resizes that (nearest) to the skip's size when they differ, concatenates BatchNorm(skip), applies ReLU, then
  two conv3×3 + ReLU; the last block halves its channels (512, 384, 256, then 96 maps);
* **head**: PixelShuffle ICNR ×2 (96 maps, back to ~H×W), nearest resize to exactly H×W, concatenation with the
  network's input (the "last cross": 96 + in_channels maps), a residual block (conv3×3 + ReLU, conv3×3, identity
  shortcut, ReLU after the sum), and a conv1×1 to ``n_out`` maps with no activation.

Any H×W works (the nearest resizes absorb odd sizes, as in fastai); no padding is needed. Parity: given the same
weights, its outputs equal fastai 2.8.12's ``DynamicUnet(create_body(resnet18(), n_in=3, cut=-2), 2, (256, 256))``
in eval and in training mode (``tests/test_nets.py``, a fixture made outside the project).

Initialisation (fastai's): kaiming-normal weights and zero biases for the middle, block and residual convs, ICNR
for the PixelShuffle convs (each group of 4 sub-pixel filters starts equal, so the upsampling starts free of
checkerboard artefacts), weight 1 and bias 1e-3 for the decoder's batch norms, torch's defaults for the encoder
and the output conv (fastai draws that conv's bias from N(0, 0.01)). The C2F reference overwrites all of it with its
``init_weights`` (N(0, 0.02) conv weights, N(1, 0.02) / 0 batch norms); see :mod:`colorbench.methods.c2f`.

Where we differ from fastai: parameter names are our own (``encoder.layer1.0.conv1.weight`` as torchvision's,
``middle``, ``blocks``, ``head``), not fastai's ``layers.N`` indices; skips are passed explicitly instead of by
forward hooks; the probe pass that finds the skips restores every module's train/eval mode (fastai's leaves the
encoder and the decoder blocks in ``eval()`` mode after construction).
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from colorbench.nets.blocks import evaluating

RESNET_STAGES = ("layer1", "layer2", "layer3", "layer4")


def resnet_encoder(name: str = "resnet18", in_channels: int = 3, depth: int = 5) -> nn.Sequential:
    """A torchvision ResNet (``weights=None``) without ``avgpool``/``fc``, as fastai's ``create_body(cut=-2)``.

    ``depth`` (2-5) counts the downsamplings kept: 5 ends at ``layer4`` (/32), 3 at ``layer2`` (/8). Children are
    named as torchvision's (``conv1``, ``bn1``, ``relu``, ``maxpool``, ``layer1`` ...), so a torchvision weights
    file maps onto the encoder key for key. ``in_channels != 3`` replaces ``conv1`` by a 7×7 stride-2 conv of
    that many inputs (fastai's ``_update_first_layer``).
    """
    import torchvision

    if not 2 <= int(depth) <= 5:
        raise ValueError(f"resnet_encoder: depth must be 2..5 (downsamplings kept), got {depth}")
    builder = getattr(torchvision.models, name, None)
    if builder is None or not name.startswith("resnet"):
        raise ValueError(f"resnet_encoder: {name!r} is not a torchvision ResNet (resnet18, resnet34, ...)")
    net = builder(weights=None)
    if in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, net.conv1.out_channels, kernel_size=7, stride=2, padding=3, bias=False)
    names = ["conv1", "bn1", "relu", "maxpool", *RESNET_STAGES[: int(depth) - 1]]
    return nn.Sequential(OrderedDict((n, getattr(net, n)) for n in names))


def icnr_(weight: torch.Tensor, scale: int = 2) -> torch.Tensor:
    """ICNR initialisation in place (Aitken et al. 2017, "Checkerboard artifact free sub-pixel convolution").

    ``weight`` ``[out, in, k, k]`` feeds ``PixelShuffle(scale)``: each of the ``out / scale²`` output maps gets
    ``scale²`` identical kaiming-normal filters, so the shuffled result starts as a nearest-neighbour upsampling.
    """
    out, cin, kh, kw = weight.shape
    groups = out // scale**2
    base = nn.init.kaiming_normal_(weight.new_zeros(groups, cin, kh, kw))
    with torch.no_grad():
        weight.copy_(base.repeat_interleave(scale**2, dim=0))
    return weight


def _conv_relu(cin: int, cout: int, kernel: int = 3) -> nn.Sequential:
    """fastai's ``ConvLayer(norm_type=None)``: conv (with bias) then ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2), nn.ReLU())


class PixelShuffleICNR(nn.Sequential):
    """``[B,cin,h,w] -> [B,cout,2h,2w]``: conv1×1 to ``4·cout`` maps, ReLU, ``PixelShuffle(2)``; ICNR init."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(_conv_relu(cin, cout * 4, kernel=1), nn.PixelShuffle(2))
        icnr_(self[0][0].weight)
        nn.init.zeros_(self[0][0].bias)


class UnetBlock(nn.Module):
    """One decoder step: upsample ``[B,up,h,w]`` ×2, join BatchNorm(skip ``[B,skip,H,W]``), two conv3×3 + ReLU.

    Output ``[B,nf,H,W]`` with ``nf = up/2 + skip``, halved when ``final``."""

    def __init__(self, up_channels: int, skip_channels: int, final: bool = False) -> None:
        super().__init__()
        self.shuf = PixelShuffleICNR(up_channels, up_channels // 2)
        self.bn = nn.BatchNorm2d(skip_channels)
        ni = up_channels // 2 + skip_channels
        nf = ni // 2 if final else ni
        self.conv1 = _conv_relu(ni, nf)
        self.conv2 = _conv_relu(nf, nf)
        self.out_channels = nf

    def forward(self, up: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = self.shuf(up)
        if up.shape[-2:] != skip.shape[-2:]:
            up = F.interpolate(up, size=skip.shape[-2:], mode="nearest")
        return self.conv2(self.conv1(F.relu(torch.cat((up, self.bn(skip)), dim=1))))


class ResBlock(nn.Module):
    """fastai's ``ResBlock(1, c, c, norm_type=None)``: ``relu(conv3×3(relu(conv3×3(x))) + x)``, ``[B,c,H,W]``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.convpath = nn.Sequential(_conv_relu(channels, channels), nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.convpath(x) + x)


def _skip_points(encoder: nn.Sequential, in_channels: int, probe: int) -> tuple[list[int], list[int], int, bool]:
    """Probe ``encoder`` once: ``(skip indices, their channels, bottom channels, first child downsamples)``.

    A skip is the last child before the spatial size changes (fastai's ``_get_sz_change_idxs``)."""
    x = torch.zeros(1, in_channels, probe, probe, device=next(encoder.parameters()).device)
    sizes, channels = [], []
    with torch.no_grad(), evaluating(encoder):
        for layer in encoder:
            x = layer(x)
            sizes.append(x.shape[-1])
            channels.append(x.shape[1])
    idx = [i for i in range(len(sizes) - 1) if sizes[i] != sizes[i + 1]]
    return idx, [channels[i] for i in idx], channels[-1], sizes[0] != probe


class DynamicUnet(nn.Module):
    """``[B,in_channels,H,W] -> [B,n_out,H,W]`` (see the module docstring for the layout and initialisation).

    ``encoder``: an ``nn.Sequential`` whose children run in order (e.g. :func:`resnet_encoder`); the skips are
    the outputs before each size change. ``probe``: the side of the probe pass that finds them (the reference
    passes ``img_size=(128, 128)``; any size that the encoder downsamples cleanly gives the same network).
    """

    def __init__(self, encoder: nn.Sequential, n_out: int, in_channels: int, probe: int = 128) -> None:
        super().__init__()
        self.encoder = encoder
        skip_at, skip_channels, bottom, stem_downsamples = _skip_points(encoder, in_channels, probe)
        self.skip_at = tuple(skip_at)
        self.middle = nn.Sequential(nn.BatchNorm2d(bottom), nn.ReLU(), _conv_relu(bottom, 2 * bottom),
                                    _conv_relu(2 * bottom, bottom))
        blocks, ch = [], bottom
        for k, skip in enumerate(reversed(skip_channels)):
            blocks.append(UnetBlock(ch, skip, final=k == len(skip_channels) - 1))
            ch = blocks[-1].out_channels
        self.blocks = nn.ModuleList(blocks)
        self.shuf = PixelShuffleICNR(ch, ch) if stem_downsamples else nn.Identity()
        self.cross = ResBlock(ch + in_channels)
        self.head = nn.Conv2d(ch + in_channels, n_out, kernel_size=1)
        for m in [*self.middle.modules(), *self.cross.modules(),
                  *(c for b in self.blocks for c in (*b.conv1.modules(), *b.conv2.modules()))]:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d) and not any(m is e for e in encoder.modules()):
                nn.init.ones_(m.weight)
                nn.init.constant_(m.bias, 1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips: list[torch.Tensor] = []
        h = x
        for i, layer in enumerate(self.encoder):
            h = layer(h)
            if i in self.skip_at:
                skips.append(h)
        h = self.middle(h)
        for block, skip in zip(self.blocks, reversed(skips)):
            h = block(h, skip)
        h = self.shuf(h)
        if h.shape[-2:] != x.shape[-2:]:
            h = F.interpolate(h, size=x.shape[-2:], mode="nearest")
        return self.head(self.cross(torch.cat((h, x), dim=1)))

"""One configurable U-Net: the pix2pix U-Net-256 (Isola et al. 2017) and the KTH U-Net (Galvão et al. 2019).

Both are encoders of 4×4 stride-2 convs and decoders that upsample ×2 and concatenate the mirrored encoder map
(skip first, then the decoder's map). They differ in three ways, each an option here:

* ``order``: ``"pre"`` (pix2pix) puts the activation *before* each conv (``LReLU → conv → norm`` down,
  ``ReLU → convT → norm`` up), so a skip carries the un-activated map; ``"post"`` (KTH) puts it after
  (``conv → norm → LReLU`` down, ``convT → norm → ReLU`` up).
* ``stem``: KTH starts with a stride-1 4×4 conv at full resolution whose map is the outermost skip, and ends
  with a 1×1 conv on ``concat(stem, last up)``; pix2pix (no stem) has its last transposed conv output the
  image directly.
* ``no_norm_down``: pix2pix has no norm on its outermost and innermost down convs.

Widths: encoder map ``i`` (stem first when present) has ``min(width * 2**i, max_width)`` channels; each up
layer outputs the width of the skip it is joined with. ``levels`` counts the stride-2 downsamplings, so H and
W must be multiples of ``2**levels`` (:attr:`UNet.multiple`); methods pad with
:func:`colorbench.nets.padding.pad_to_multiple`. ``levels_for(crop, cap)`` gives the depth that follows the
training crop (``log2(crop)`` capped at the paper's).

Use :func:`pix2pix_unet` and :func:`kth_unet` for the two published networks; the pix2pix one at 8 levels,
1→2 channels, is exactly the reference generator (54,409,858 parameters).
"""
from __future__ import annotations

import math
from typing import Literal, Mapping, Sequence

import torch
from torch import nn

from colorbench.nets.blocks import ConvWrapper, SameConv2d, make_norm

Order = Literal["pre", "post"]
Upsample = Literal["transpose", "nearest", "bilinear"]


def levels_for(crop: int, cap: int) -> int:
    """Number of stride-2 levels for a training crop: ``min(floor(log2(crop)), cap)``.

    ``crop`` is the side of the square training crop in pixels (e.g. 256 -> 8, 32 -> 5); ``cap`` is the paper's
    depth. A crop below 2 px is an error.
    """
    if int(crop) < 2:
        raise ValueError(f"crop must be at least 2 px to downsample, got {crop}")
    return max(1, min(int(math.floor(math.log2(int(crop)))), int(cap)))


class UNet(nn.Module):
    """U-Net ``[B,in_channels,H,W] -> [B,out_channels,H,W]``; H and W multiples of :attr:`multiple`.

    Args:
        in_channels, out_channels: e.g. 1 (L/50-1) and 2 (ab/110).
        levels: stride-2 downsamplings (the bottleneck is ``H / 2**levels``).
        width, max_width: channels of the outermost encoder map and the cap (64 and 512 in both papers).
        norm: ``"batch"``, ``"instance"`` or ``"none"``; ``norm_overrides`` maps ``("down"|"up"|"stem", index)``
            to another norm for single layers (index 0 = outermost down, 0 = innermost up).
        order: ``"pre"`` (pix2pix) or ``"post"`` (KTH), see the module docstring.
        stem: a stride-1 4×4 conv first and a 1×1 conv head (KTH).
        no_norm_down: down-layer indices without a norm (pix2pix: ``(0, levels - 1)``).
        dropout: the rate of every dropout layer; ``dropout_up`` / ``dropout_down`` list the up layers
            (0 = innermost) and the stride-2 down layers (0 = outermost) followed by dropout. A down layer's
            dropout acts on the path to the next layer, not on its skip (as the KTH VAC+GAN code does).
        upsample: ``"transpose"`` (4×4 stride-2 transposed conv) or ``"nearest"`` / ``"bilinear"`` ×2 followed
            by a 'same' conv of ``up_kernel``.
        out_activation: ``"tanh"`` or ``"none"``.
        bias: conv biases; ``None`` = only when ``norm`` is not ``"batch"`` (pix2pix's rule), the output layer
            always has one.
        conv_wrap: applied to every conv (e.g. spectral norm).
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 2,
        *,
        levels: int = 8,
        width: int = 64,
        max_width: int = 512,
        norm: str = "batch",
        order: Order = "pre",
        stem: bool = False,
        no_norm_down: Sequence[int] = (),
        dropout: float = 0.5,
        dropout_up: Sequence[int] = (),
        dropout_down: Sequence[int] = (),
        upsample: Upsample = "transpose",
        up_kernel: int = 4,
        out_activation: Literal["tanh", "none"] = "tanh",
        bias: bool | None = None,
        norm_overrides: Mapping[tuple[str, int], str] | None = None,
        conv_wrap: ConvWrapper | None = None,
    ) -> None:
        super().__init__()
        if levels < 1:
            raise ValueError(f"UNet needs at least 1 level, got levels={levels}")
        if order not in ("pre", "post"):
            raise ValueError(f"order must be 'pre' or 'post', got {order!r}")
        if upsample not in ("transpose", "nearest", "bilinear"):
            raise ValueError(f"upsample must be 'transpose', 'nearest' or 'bilinear', got {upsample!r}")
        self.levels, self.order, self.has_stem = int(levels), order, bool(stem)
        self._norm, self._overrides = norm, dict(norm_overrides or {})
        self._bias = (norm != "batch") if bias is None else bool(bias)
        self._wrap = conv_wrap
        self._upsample, self._up_kernel = upsample, int(up_kernel)
        n_maps = self.levels + (1 if stem else 0)
        widths = [min(width * 2**i, max_width) for i in range(n_maps)]
        self.widths = widths

        self.stem = self._stem(in_channels, widths[0]) if stem else None
        downs = []
        for i in range(self.levels):
            c_in = widths[i] if stem else (in_channels if i == 0 else widths[i - 1])
            c_out = widths[i + 1] if stem else widths[i]
            downs.append(self._down(c_in, c_out, index=i, first=(i == 0 and not stem),
                                    with_norm=i not in no_norm_down))
        self.downs = nn.ModuleList(downs)
        self.down_dropout = nn.ModuleDict({str(i): nn.Dropout(dropout) for i in dropout_down})

        # skips, innermost first: every encoder map except the bottleneck
        skip_widths = widths[:-1][::-1]
        ups = []
        for j in range(self.levels):
            c_in = widths[-1] if j == 0 else 2 * skip_widths[j - 1]
            is_out = j == self.levels - 1 and not stem
            c_out = out_channels if is_out else skip_widths[j]
            ups.append(self._up(c_in, c_out, index=j, is_out=is_out, drop=dropout if j in dropout_up else 0.0))
        self.ups = nn.ModuleList(ups)
        self.head = self._wrap_conv(nn.Conv2d(2 * widths[0], out_channels, 1)) if stem else None
        self.out_activation = nn.Tanh() if out_activation == "tanh" else nn.Identity()

    # ---------------------------------------------------------------------------------------- building
    @property
    def multiple(self) -> int:
        """H and W of the input must be multiples of this (``2**levels``)."""
        return 2**self.levels

    def _wrap_conv(self, conv: nn.Module) -> nn.Module:
        return self._wrap(conv) if self._wrap is not None else conv

    def _norm_layer(self, where: str, index: int, channels: int) -> list[nn.Module]:
        layer = make_norm(self._overrides.get((where, index), self._norm), channels)
        return [] if layer is None else [layer]

    def _stem(self, c_in: int, c_out: int) -> nn.Module:
        layers = [SameConv2d(c_in, c_out, 4, bias=self._bias, wrap=self._wrap), *self._norm_layer("stem", 0, c_out)]
        if self.order == "post":
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        return nn.Sequential(*layers)

    def _down(self, c_in: int, c_out: int, *, index: int, first: bool, with_norm: bool) -> nn.Module:
        conv = self._wrap_conv(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=self._bias))
        norm = self._norm_layer("down", index, c_out) if with_norm else []
        if self.order == "pre":  # the input of the first layer is the image: no activation before it
            act = [] if first else [nn.LeakyReLU(0.2, inplace=False)]
            return nn.Sequential(*act, conv, *norm)
        return nn.Sequential(conv, *norm, nn.LeakyReLU(0.2, inplace=True))

    def _up(self, c_in: int, c_out: int, *, index: int, is_out: bool, drop: float) -> nn.Module:
        bias = True if is_out else self._bias
        if self._upsample == "transpose":
            conv: nn.Module = self._wrap_conv(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=bias))
        else:
            resize = nn.Upsample(scale_factor=2, mode=self._upsample,
                                 **({"align_corners": False} if self._upsample == "bilinear" else {}))
            conv = nn.Sequential(resize, SameConv2d(c_in, c_out, self._up_kernel, bias=bias, wrap=self._wrap))
        norm = [] if is_out else self._norm_layer("up", index, c_out)
        dropout = [nn.Dropout(drop)] if drop > 0 else []
        if self.order == "pre":  # ReLU on the concatenation (skip + previous up), as pix2pix
            return nn.Sequential(nn.ReLU(inplace=False), conv, *norm, *dropout)
        act = [] if is_out else [nn.ReLU(inplace=True)]
        return nn.Sequential(conv, *norm, *act, *dropout)

    # ----------------------------------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B,in_channels,H,W] -> [B,out_channels,H,W]``; H and W must be multiples of ``2**levels``."""
        H, W = x.shape[-2:]
        if H % self.multiple or W % self.multiple:
            raise ValueError(
                f"UNet with {self.levels} levels needs H and W divisible by {self.multiple}, got {H}×{W}; "
                "pad the input with colorbench.nets.padding.pad_to_multiple(x, net.multiple) and crop back"
            )
        skips = []
        h = x
        if self.stem is not None:
            h = self.stem(h)
            skips.append(h)
        for i, down in enumerate(self.downs):
            h = down(h)
            skips.append(h)
            if str(i) in self.down_dropout:
                h = self.down_dropout[str(i)](h)
        skips.pop()  # the bottleneck is not a skip
        for up in self.ups:
            h = up(h)
            if skips:
                h = torch.cat([skips.pop(), h], dim=1)
        if self.head is not None:
            h = self.head(h)
        return self.out_activation(h)


def pix2pix_unet(
    in_channels: int = 1, out_channels: int = 2, *, levels: int = 8, width: int = 64, norm: str = "batch",
    dropout: float = 0.5, use_dropout: bool = True, conv_wrap: ConvWrapper | None = None,
) -> UNet:
    """The pix2pix ``unet_256`` generator (``levels=8``) or its shallower siblings (``unet_128`` = 7).

    As the reference code: pre-activation blocks, no norm on the outermost and innermost down convs, conv biases
    only without batch norm (the output layer always), tanh; dropout 0.5 after the up layers that are
    ``max_width`` wide and not the innermost (up layers 1..levels-5; 1, 2, 3 at 8 levels — the paper's
    "CD512" decoder layers), none below 6 levels.
    """
    drop_up = tuple(range(1, levels - 4)) if use_dropout else ()
    return UNet(in_channels, out_channels, levels=levels, width=width, max_width=8 * width, norm=norm,
                order="pre", stem=False, no_norm_down=(0, levels - 1), dropout=dropout, dropout_up=drop_up,
                upsample="transpose", out_activation="tanh", bias=None, conv_wrap=conv_wrap)


def kth_unet(
    in_channels: int = 1, out_channels: int = 2, *, levels: int = 4, width: int = 64, norm: str = "batch",
    dropout: float = 0.5, dropout_up: Sequence[int] = (0, 1), dropout_down: Sequence[int] = (),
) -> UNet:
    """The KTH U-Net (Galvão et al. 2019): at 32² a stride-1 64-wide stem, 4 stride-2 downs 128, 256, 512, 512.

    Post-activation blocks (conv → BN → LeakyReLU 0.2; transposed conv → BN → ReLU → dropout), every layer
    normalised, conv biases on (TensorFlow's default), dropout ``dropout`` after the first two up layers;
    a 1×1 conv on ``concat(stem, last up)`` with tanh. VAC+GAN adds dropout on the two innermost
    (512-wide) down layers: ``dropout_down=(levels - 2, levels - 1)``.
    """
    return UNet(in_channels, out_channels, levels=levels, width=width, max_width=8 * width, norm=norm,
                order="post", stem=True, no_norm_down=(), dropout=dropout, dropout_up=dropout_up,
                dropout_down=dropout_down, upsample="transpose", out_activation="tanh", bias=True)

"""The Górriz et al. (2019) networks: the IBN U-Net generator and its discriminator (BBC ColorGAN, Keras).

Shared by the ``gorriz`` and ``featrec`` methods (a method never imports another method): the networks, their
settings (:class:`GorrizGANConfig`, which both methods' configs extend), :func:`build_gorriz_gan` and the
discriminator update (:func:`gorriz_d_step`), so featrec's Górriz base is the ``gorriz`` method plus a feature loss.

Generator, ``levels = 7`` (the paper, at 128² and above)::

    L [B,1,H,W] ─ down 64 (no norm) ─ 128 ─ 256 ─ 512 ─ 512 ─ 512 ─ 512      each: 4×4 conv stride 2 → norm → LReLU 0.2
                  up 512 ─ 512 ─ 512 ─ 256 ─ 128 ─ 64                        each: nearest ×2 → 4×4 conv → norm → ReLU
                                                                                    → concat(up, mirrored down map)
                  nearest ×2 → 4×4 conv → 2 channels → tanh ─► ab [B,2,H,W]

Down map ``i`` has ``min(width * 2**i, max_width)`` channels; up block ``j`` (0 = innermost) outputs the width of
the down map it is joined with, so fewer ``levels`` (a small training crop) give the same network, shallower.
No dropout. Discriminator: 4×4 stride-2 convs 64 (no norm), 128, 256, 512, each → norm → LReLU 0.2, then a 4×4
stride-1 conv to one score per patch (no activation: LSGAN). It sees ``concat(L, ab)``, 3 channels.

Norms (``ibn=True``, the paper's IBN): batch norm everywhere except *instance* norm in the generator's last up block
(the 64-wide one) and in the discriminator's second layer; ``ibn=False``: batch norm everywhere (the reference's
``bn_model``). Batch norm as Keras: ``momentum=0.99`` (= ``0.01`` in torch's convention), ``eps=1e-3``. Instance
norm: ``"per_sample"`` is keras-contrib ``InstanceNormalization(axis=None)``, which the reference uses: per sample,
over C, H and W together, one scalar scale and shift (:class:`PerSampleInstanceNorm`, ``GroupNorm(1, C)`` with a
shared affine); ``"per_channel"`` is the usual ``InstanceNorm2d(C, affine=True)``. Both with ``eps=1e-3``.

Padding: every conv pads as TensorFlow's ``padding='same'`` (:class:`SameConv2d`): output ``ceil(in/stride)``, total
padding ``max((out-1)*stride + k - in, 0)`` with the smaller half *before* (top/left), zeros. So a stride-2 4×4 conv
pads (1, 1) on an even side and (1, 2) on an odd one; a stride-1 4×4 conv pads (1, 2) always. Convs keep biases even
before batch norm (Keras' default), and weights start Glorot-uniform with zero biases (Keras' defaults).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from colorbench.nets.blocks import SameConv2d
from colorbench.nets.init import init_xavier_
from colorbench.nets.spectral import apply_spectral_norm

InstanceNormKind = Literal["per_sample", "per_channel"]


class PerSampleInstanceNorm(nn.Module):
    """keras-contrib ``InstanceNormalization(axis=None)``: ``[B,C,H,W]`` normalised per sample over C, H, W.

    ``y = (x - mean_b) / sqrt(var_b + eps) * gamma + beta`` with the biased variance over all C·H·W values of sample
    ``b`` and scalar ``gamma``, ``beta`` (shape ``[1]``): ``GroupNorm(1, C)`` whose per-channel affine is one value.
    No running statistics: training and inference behave the same.
    """

    def __init__(self, eps: float = 1e-3) -> None:
        super().__init__()
        self.eps = float(eps)
        self.weight = nn.Parameter(torch.ones(1))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.group_norm(x, 1, eps=self.eps) * self.weight + self.bias


def make_norm(kind: str, channels: int, *, instance_norm: InstanceNormKind = "per_sample",
              bn_momentum: float = 0.01, eps: float = 1e-3) -> nn.Module | None:
    """``"batch"`` (Keras-like BN), ``"instance"`` (``instance_norm`` kind) or ``"none"`` (``None``)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels, momentum=bn_momentum, eps=eps)
    if kind == "instance":
        if instance_norm == "per_sample":
            return PerSampleInstanceNorm(eps)
        if instance_norm == "per_channel":
            return nn.InstanceNorm2d(channels, eps=eps, affine=True, track_running_stats=False)
        raise ValueError(f"instance_norm must be 'per_sample' or 'per_channel', got {instance_norm!r}")
    if kind == "none":
        return None
    raise ValueError(f"unknown norm {kind!r}; use 'batch', 'instance' or 'none'")


def gorriz_levels(image_size: int, cap: int = 7) -> int:
    """Generator depth for a training crop: ``min(floor(log2(image_size)), cap)`` (7 at 128² and above)."""
    if int(image_size) < 2:
        raise ValueError(f"image_size must be at least 2 px, got {image_size}")
    return max(1, min(int(math.floor(math.log2(int(image_size)))), int(cap)))


def _block(conv: nn.Module, norm: nn.Module | None, act: nn.Module, upsample: bool = False) -> nn.Sequential:
    layers = [nn.Upsample(scale_factor=2, mode="nearest")] if upsample else []
    return nn.Sequential(*layers, conv, *([norm] if norm is not None else []), act)


class GorrizGenerator(nn.Module):
    """``[B,1,H,W]`` L/50-1 -> ``[B,2,H,W]`` ab/110 (tanh); H and W multiples of :attr:`multiple` (``2**levels``).

    Args: ``levels`` (7 in the paper), ``width``/``max_width`` (64/512), ``ibn`` and ``instance_norm`` (see the
    module docstring), ``bn_momentum``/``eps`` (torch convention; Keras' 0.99 is 0.01 here).
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 2, *, levels: int = 7, width: int = 64,
                 max_width: int = 512, ibn: bool = True, instance_norm: InstanceNormKind = "per_sample",
                 bn_momentum: float = 0.01, eps: float = 1e-3) -> None:
        super().__init__()
        if levels < 1:
            raise ValueError(f"GorrizGenerator needs levels >= 1, got {levels}")
        self.levels = int(levels)
        widths = [min(width * 2**i, max_width) for i in range(self.levels)]
        self.widths = widths

        def norm(kind: str, c: int) -> nn.Module | None:
            return make_norm(kind, c, instance_norm=instance_norm, bn_momentum=bn_momentum, eps=eps)

        self.downs = nn.ModuleList(
            _block(SameConv2d(in_channels if i == 0 else widths[i - 1], widths[i], 4, 2),
                   norm("none" if i == 0 else "batch", widths[i]), nn.LeakyReLU(0.2))
            for i in range(self.levels))
        ups = []
        for j in range(self.levels - 1):
            c_in = widths[-1] if j == 0 else 2 * widths[self.levels - 1 - j]
            c_out = widths[self.levels - 2 - j]
            kind = "instance" if ibn and j == self.levels - 2 else "batch"
            ups.append(_block(SameConv2d(c_in, c_out, 4, 1), norm(kind, c_out), nn.ReLU(), upsample=True))
        self.ups = nn.ModuleList(ups)
        last_in = 2 * widths[0] if self.levels > 1 else widths[0]
        self.out = _block(SameConv2d(last_in, out_channels, 4, 1), None, nn.Tanh(), upsample=True)

    @property
    def multiple(self) -> int:
        return 2**self.levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] % self.multiple or x.shape[-1] % self.multiple:
            raise ValueError(f"GorrizGenerator with {self.levels} levels needs H and W divisible by {self.multiple}, "
                             f"got {tuple(x.shape[-2:])}; pad with colorbench.nets.padding.pad_to_multiple")
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
        skips.pop()  # the bottleneck
        for up in self.ups:
            x = torch.cat([up(x), skips.pop()], dim=1)  # (up, skip), as the reference's Concatenate()([u, skip])
        return self.out(x)


class GorrizDiscriminator(nn.Module):
    """``[B,3,H,W]`` concat(L, ab) -> ``[B,1,ceil(H/16),ceil(W/16)]`` patch scores (no activation).

    ``n_layers`` stride-2 blocks of ``min(width * 2**i, 8 * width)`` channels (4: 64, 128, 256, 512), the first
    without a norm, the second instance-normalised when ``ibn``, the rest batch-normalised; then a 4×4 conv to 1.
    """

    def __init__(self, in_channels: int = 3, *, width: int = 64, n_layers: int = 4, ibn: bool = True,
                 instance_norm: InstanceNormKind = "per_sample", bn_momentum: float = 0.01, eps: float = 1e-3) -> None:
        super().__init__()
        layers, c_in = [], in_channels
        for i in range(n_layers):
            c_out = min(width * 2**i, 8 * width)
            kind = "none" if i == 0 else ("instance" if ibn and i == 1 else "batch")
            layers.append(_block(SameConv2d(c_in, c_out, 4, 2),
                                 make_norm(kind, c_out, instance_norm=instance_norm, bn_momentum=bn_momentum, eps=eps),
                                 nn.LeakyReLU(0.2)))
            c_in = c_out
        layers.append(SameConv2d(c_in, 1, 4, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def finish(module: nn.Module, spectral_norm: bool) -> nn.Module:
    """Keras' initialisation (Glorot-uniform, zero bias, norms 1/0), then spectral norm on every conv if asked."""
    init_xavier_(module)
    return apply_spectral_norm(module) if spectral_norm else module


# ------------------------------------------------------------------------------------------ the whole cGAN
@dataclass
class GorrizGANConfig:
    """The Górriz et al. cGAN's settings: paper / reference-code defaults (BBC ColorGAN ``exp7_ibn_md``). The
    ``gorriz`` method's config is this; featrec's extends it with its feature loss."""

    image_size: int = 256  # training crop side; generator depth = min(log2(image_size), max_levels)
    batch_size: int = 16  # the paper's (the trainer reads it when --batch-size is not given)
    max_levels: int | None = 7
    width: int = 64  # generator's first down block; doubles per level up to max_width
    max_width: int = 512
    disc_width: int = 64  # discriminator's first layer (64, 128, 256, 512)
    disc_layers: int = 4
    ibn: bool = True  # instance norm in G's last up block and D's second layer; False: batch norm everywhere
    instance_norm: InstanceNormKind = "per_sample"  # keras-contrib axis=None, or per channel
    spectral_norm: bool = True
    num_scales: int = 3
    bn_momentum: float = 0.01  # torch convention; Keras momentum 0.99
    norm_eps: float = 1e-3
    lambda_adv: float = 1.0  # per discriminator scale
    lambda_l1: float = 100.0
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    d_update: Literal["split", "joint"] = "split"  # reference: one D step on real, one on fake


def build_gorriz_gan(c: GorrizGANConfig, levels: int) -> tuple[nn.Module, nn.Module]:
    """The generator (1 → 2 channels, ``levels`` deep) and the multi-scale discriminator (3 channels in) of ``c``,
    each with spectral norm when ``c.spectral_norm``."""
    from colorbench.nets.multiscale import MultiScaleDiscriminator

    norm = dict(ibn=c.ibn, instance_norm=c.instance_norm, bn_momentum=c.bn_momentum, eps=c.norm_eps)
    generator = finish(GorrizGenerator(1, 2, levels=levels, width=c.width, max_width=c.max_width, **norm),
                       c.spectral_norm)
    discriminator = MultiScaleDiscriminator(
        lambda s: finish(GorrizDiscriminator(3, width=c.disc_width, n_layers=c.disc_layers, **norm), c.spectral_norm),
        c.num_scales)
    return generator, discriminator


def gorriz_d_step(discriminator: nn.Module, opt_d: torch.optim.Optimizer, real_pair: torch.Tensor,
                  fake_pair: torch.Tensor, *, update: str = "split", kind: str = "lsgan"
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """One discriminator update on ``concat(L, ab)`` pairs (``fake_pair`` detached): ``update="split"`` steps on
    the real pairs, then on the fake ones (the reference's two ``train_on_batch`` calls); ``"joint"`` one step on
    ``½(d_real + d_fake)``. ``kind``: the adversarial loss (:func:`colorbench.nets.gan.gan_loss`). Returns
    ``(d_real, d_fake)``."""
    from colorbench.nets.gan import gan_loss

    def step(loss: torch.Tensor) -> None:
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()

    if update == "split":
        d_real = gan_loss(kind, discriminator(real_pair), True)
        step(d_real)
        d_fake = gan_loss(kind, discriminator(fake_pair), False)
        step(d_fake)
    elif update == "joint":
        d_real = gan_loss(kind, discriminator(real_pair), True)
        d_fake = gan_loss(kind, discriminator(fake_pair), False)
        step(0.5 * (d_real + d_fake))
    else:
        raise ValueError(f"d_update must be 'split' or 'joint', got {update!r}")
    return d_real, d_fake

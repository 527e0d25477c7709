"""C2F: iterative coarse-to-fine colourisation with a GAN, and the paper's base model.

Streule, Rüegg and Styger 2022, "Iterative Coarse-to-Fine Image Colorization with GAN" (ETH Zürich Deep Learning
project; reference code github.com/tstreule/c2f_img_color). Details the paper leaves open follow the reference code
(CORRECTIONS.md, issue 5).

Generator: segmentation-models-pytorch ``Unet(encoder_name="resnet18", encoder_weights=None, classes=2)`` with no
output activation (as the reference's U-Net), on 3 input channels (L + the prior ab) for C2F, 1 (L) for ``base``.
Discriminator: the pix2pix 70×70 PatchGAN on ``concat(L, ab)``. Both are initialised N(0, 0.02) as the reference's
``init_weights`` does over the *whole* generator.

**Pretrained encoder.** The paper says "a pretrained ResNet18 as backbone", but the reference code re-initialises
the whole generator, its pretrained encoder included, to N(0, 0.02): the published runs were effectively not
pretrained. Here ``pretrained`` (``auto``/``true``/``false``, see :mod:`colorbench.pretrained`) loads local ResNet
weights into the encoder *after* that initialisation, so ``auto`` uses them when they are on disk (recorded in
:meth:`pretrained_flags`); ``pretrained = "false"`` reproduces what the reference code actually trained.

**Recursion** (the reference's ``C2FImageGAN.forward``): from the input size, shrink by ``1/shrink_size``
(``int(side / shrink_size)``) while both sides of the smaller image stay ``>= min_ax_size`` and fewer than
``max_c2f_depth`` shrinks were made; the generator then runs once per level, coarsest first. The coarsest level's
prior is ab = 0; each level's prediction, upsampled bicubically, is the next level's prior and is *not* detached,
so the loss back-propagates through every level. L is shrunk level by level with bicubic interpolation
(antialiased: the reference's tensor ``Resize`` of its time did not antialias). :meth:`C2F.level_sizes` gives the
sizes. ``shrink_size``, ``max_c2f_depth`` and ``min_ax_size`` are read when ``colorize`` is called, so one trained
model can be run at the paper's Table 1 settings (CORRECTIONS.md, issue 7).

**Training** (the phase derives from ``step``): for ``step < pretrain_steps`` the generator is pretrained with L1 on
ab alone (Adam 1e-4, β (0.9, 0.999)); C2F pretraining feeds L + zero ab at the crop's size, without recursion, as
the reference's ``PreTrainer``. Then GAN training (pix2pix, Isola et al. 2017): Adam 2e-4, β1 0.5 for both nets,
vanilla GAN (BCE on logits) + λ·L1 with λ = 100. The generator's adversarial target is "real" (``gan_target``);
**the reference code uses "fake"**, which rewards the generator for being caught (kept as ``gan_target="fake"``).
The L1 term is taken at full resolution (the paper), or with ``intermediate_supervision = true`` (the paper's
proposed fix, an unfinished branch of the reference) averaged over every level against the ab shrunk alongside L;
the adversarial term stays at full resolution. Inputs are padded (reflect) to a multiple of ``2**encoder_depth`` at
every level and the prediction cropped back: any H×W works.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from colorbench.method import Batch, Method
from colorbench.nets.init import init_normal_
from colorbench.nets.padding import crop_to, pad_to_multiple
from colorbench.nets.patchgan import PatchGAN
from colorbench.registry import register_method


@dataclass
class C2FConfig:
    """Paper / reference defaults (CORRECTIONS.md: shrink 2, depth 5, min axis 64)."""

    model: Literal["c2f", "base"] = "c2f"  # base: 1 input channel (L), no recursion
    encoder_name: str = "resnet18"  # smp encoder
    encoder_depth: int = 5
    decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16)
    pretrained: Literal["auto", "true", "false"] = "auto"  # encoder weights, see the module docstring
    pretrained_path: str | None = None
    shrink_size: float = 2.0  # each coarser level is 1/shrink_size of the next (read at call time)
    max_c2f_depth: int = 5  # most shrinks (levels = shrinks + 1; read at call time)
    min_ax_size: int = 64  # no level with a side below this (read at call time)
    intermediate_supervision: bool = False  # L1 at every level (the paper's proposed fix)
    pretrain_steps: int = 10_000  # L1-only steps before the GAN phase
    pretrain_lr: float = 1e-4
    pretrain_betas: tuple[float, float] = (0.9, 0.999)
    lr: float = 2e-4  # GAN phase, generator and discriminator
    betas: tuple[float, float] = (0.5, 0.999)
    lambda_l1: float = 100.0
    gan_target: Literal["real", "fake"] = "real"  # generator's adversarial target; the reference uses "fake"
    disc_width: int = 64
    disc_layers: int = 3
    image_size: int = 256  # training crop (the paper trained on COCO photos of up to 640 px)
    batch_size: int = 32  # the paper's (over 8 GPUs); the reference code's default is 16


def c2f_level_sizes(
    height: int, width: int, shrink_size: float, max_c2f_depth: int, min_ax_size: int
) -> list[tuple[int, int]]:
    """The (H, W) of every level, coarsest first, the input's last (the reference's stopping rule)."""
    if shrink_size <= 1.0:
        raise ValueError(f"c2f: shrink_size must be > 1 (each level smaller than the next), got {shrink_size}")
    sizes = [(int(height), int(width))]
    while len(sizes) - 1 < max_c2f_depth:
        h, w = sizes[-1]
        smaller = (int(h / shrink_size), int(w / shrink_size))
        if min(smaller) < max(1, min_ax_size):
            break
        sizes.append(smaller)
    return sizes[::-1]


def shrink(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic, antialiased resize of ``[B,C,H,W]`` to ``size`` (downscaling)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)


def enlarge(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic resize of ``[B,C,h,w]`` up to ``size`` (the prior of the next level)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False)


def pyramid(x: torch.Tensor, sizes: list[tuple[int, int]]) -> list[torch.Tensor]:
    """``x`` at every size of ``sizes`` (coarsest first, ``x``'s own last), each shrunk from the next finer."""
    levels = [x]
    for size in reversed(sizes[:-1]):
        levels.append(shrink(levels[-1], size))
    return levels[::-1]


class C2FGenerator(nn.Module):
    """The smp U-Net run over a pyramid in one ``forward`` (one call per step, so DDP sees one forward).

    ``forward(L_levels)``: ``[B,1,h_i,w_i]`` L/50-1 per level, coarsest first -> the ab/110 prediction at every
    level (same sizes). With one input channel (base) the prior is not used.
    """

    def __init__(self, unet: nn.Module, in_channels: int, multiple: int) -> None:
        super().__init__()
        self.unet, self.in_channels, self.multiple = unet, in_channels, multiple

    def run_level(self, x: torch.Tensor) -> torch.Tensor:
        """One U-Net pass at any size: ``[B,in,H,W]`` -> ``[B,2,H,W]``."""
        padded, size = pad_to_multiple(x, self.multiple)
        return crop_to(self.unet(padded), size)

    def forward(self, L_levels: list[torch.Tensor]) -> list[torch.Tensor]:
        preds: list[torch.Tensor] = []
        for L in L_levels:
            if self.in_channels == 1:
                x = L
            else:
                size = tuple(L.shape[-2:])
                prior = enlarge(preds[-1], size) if preds else L.new_zeros(L.shape[0], 2, *size)
                x = torch.cat((L, prior.to(L.dtype)), dim=1)
            preds.append(self.run_level(x))
        return preds


@register_method(
    "c2f",
    description="Coarse-to-fine GAN: a ResNet18 U-Net re-run from coarse to fine, each level's ab the next's prior",
    source="Streule, Rüegg, Styger 2022, 'Iterative Coarse-to-Fine Image Colorization with GAN' (ETH Zürich); "
    "github.com/tstreule/c2f_img_color",
)
class C2F(Method):
    """See the module docstring. Variants: ``base`` (the paper's base model), ``intermediate`` (loss at every
    level), and the Table 1 settings ``s<shrink>_d<depth>`` (which, as inference settings, can also be set on
    one trained model: ``model.config.shrink_size = 1.2`` or ``colorize(L, shrink_size=1.2)``)."""

    Config = C2FConfig
    variants = {
        "default": {},
        "base": {"model": "base"},
        "intermediate": {"intermediate_supervision": True},
        "s1.2_d1": {"shrink_size": 1.2, "max_c2f_depth": 1},
        "s1.2_d10": {"shrink_size": 1.2, "max_c2f_depth": 10},
        "s2.0_d1": {"shrink_size": 2.0, "max_c2f_depth": 1},
        "s2.0_d10": {"shrink_size": 2.0, "max_c2f_depth": 10},
    }
    test_overrides = {"encoder_depth": 3, "decoder_channels": (32, 16, 8), "disc_width": 8, "disc_layers": 2,
                      "min_ax_size": 16, "pretrain_steps": 10, "pretrained": "false", "image_size": 32,
                      "batch_size": 4}
    watch_loss = "l1"
    # The C2F paper's Table 1: base, and the shrink size / depth settings, which act at inference only.
    runtime_variants = ("s1.2_d1", "s1.2_d10", "s2.0_d1", "s2.0_d10")
    runtime_reference = "base"
    backbones = ("resnet18",)
    published = {
        ("c2f", "base", ""): ("base", "the C2F paper's baseline: same generator, 1 input channel, no recursion"),
        ("c2f", "c2f", "shrink 1.2 / depth 1"): ("s1.2_d1", "shrink_size=1.2, max_c2f_depth=1"),
        ("c2f", "c2f", "shrink 1.2 / depth 10"): ("s1.2_d10", "shrink_size=1.2, max_c2f_depth=10"),
        ("c2f", "c2f", "shrink 2.0 / depth 1"): ("s2.0_d1", "shrink_size=2.0, max_c2f_depth=1"),
        ("c2f", "c2f", "shrink 2.0 / depth 10"): ("s2.0_d10", "shrink_size=2.0, max_c2f_depth=10"),
    }

    @classmethod
    def inference_kwargs(cls, variant: str) -> dict:
        """A Table 1 setting on one trained C2F model: its ``shrink_size`` and ``max_c2f_depth``."""
        declared = cls.variants.get(variant, {})
        return {k: declared[k] for k in ("shrink_size", "max_c2f_depth") if k in declared}

    def __init__(self, config: C2FConfig | None = None, num_classes: int | None = None) -> None:
        super().__init__(config, num_classes)
        cfg = self.config
        if cfg.model not in ("c2f", "base"):
            raise ValueError(f"c2f: model must be 'c2f' or 'base', got {cfg.model!r}")
        import segmentation_models_pytorch as smp

        in_channels = 3 if cfg.model == "c2f" else 1
        unet = smp.Unet(encoder_name=cfg.encoder_name, encoder_weights=None, encoder_depth=cfg.encoder_depth,
                        decoder_channels=tuple(cfg.decoder_channels), in_channels=in_channels, classes=2,
                        activation=None)
        if cfg.encoder_name.startswith("resnet"):  # smp keeps the stages a shallow encoder never runs: drop them
            for k in range(max(cfg.encoder_depth, 1), 5):
                setattr(unet.encoder, f"layer{k}", nn.Identity())
        init_normal_(unet)  # the reference's init_weights over the whole generator
        self._loaded = False
        if cfg.pretrained != "false":
            from colorbench.pretrained import load_pretrained

            self._loaded = bool(load_pretrained(unet.encoder, cfg.encoder_name, cfg.pretrained, cfg.pretrained_path))
        self.generator = C2FGenerator(unet, in_channels, 2**cfg.encoder_depth)
        self.discriminator = init_normal_(PatchGAN(3, cfg.disc_width, cfg.disc_layers, norm="batch"))
        self.opt_pre = torch.optim.Adam(self.generator.parameters(), lr=cfg.pretrain_lr,
                                        betas=tuple(cfg.pretrain_betas))
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))

    def pretrained_flags(self) -> dict[str, bool]:
        return {self.config.encoder_name: self._loaded}

    # ------------------------------------------------------------------------------------------- levels
    def level_sizes(self, height: int, width: int, *, shrink_size: float | None = None,
                    max_c2f_depth: int | None = None, min_ax_size: int | None = None) -> list[tuple[int, int]]:
        """The (H, W) of every generator pass for an ``height × width`` input, coarsest first, under the
        current config (or the given settings); ``base`` has one level."""
        cfg = self.config
        if cfg.model == "base":
            return [(int(height), int(width))]
        return c2f_level_sizes(height, width, cfg.shrink_size if shrink_size is None else shrink_size,
                               cfg.max_c2f_depth if max_c2f_depth is None else max_c2f_depth,
                               cfg.min_ax_size if min_ax_size is None else min_ax_size)

    def phase(self, step: int) -> str:
        """``"pretrain"`` (L1 only) or ``"gan"`` at global step ``step``."""
        return "pretrain" if step < self.config.pretrain_steps else "gan"

    # ------------------------------------------------------------------------------------------ training
    def _gan_loss(self, logits: torch.Tensor, real: bool) -> torch.Tensor:
        target = torch.ones_like(logits) if real else torch.zeros_like(logits)
        return F.binary_cross_entropy_with_logits(logits.float(), target.float())

    def train_step(self, batch: Batch, step: int) -> dict[str, float]:
        L, ab = batch["L"], batch["ab"]
        if self.phase(step) == "pretrain":
            pred = self.generator([L])[-1]  # one level; C2F sees L + zero ab
            l1 = F.l1_loss(pred.float(), ab.float())
            self.opt_pre.zero_grad(set_to_none=True)
            l1.backward()
            self.opt_pre.step()
            return {"loss": l1.item(), "l1": l1.item()}

        cfg = self.config
        if self.opt_pre.state:  # pretraining is over: its Adam moments (2× the generator) are dead weight
            self.opt_pre.state.clear()
        sizes = self.level_sizes(*L.shape[-2:])
        lab_levels = pyramid(torch.cat((L, ab), dim=1), sizes)
        preds = self.generator([x[:, :1] for x in lab_levels])
        fake = preds[-1]

        # discriminator: real pairs -> 1, generated pairs -> 0
        self.discriminator.requires_grad_(True)
        d_real = self._gan_loss(self.discriminator(torch.cat((L, ab), dim=1)), True)
        d_fake = self._gan_loss(self.discriminator(torch.cat((L, fake.detach()), dim=1)), False)
        d = 0.5 * (d_real + d_fake)
        self.opt_d.zero_grad(set_to_none=True)
        d.backward()
        self.opt_d.step()

        # generator: adversarial (target "real"; the reference's "fake" as an option) + λ·L1
        self.discriminator.requires_grad_(False)
        g_gan = self._gan_loss(self.discriminator(torch.cat((L, fake), dim=1)), cfg.gan_target == "real")
        if cfg.intermediate_supervision:
            l1 = torch.stack([F.l1_loss(p.float(), x[:, 1:].float()) for p, x in zip(preds, lab_levels)]).mean()
        else:
            l1 = F.l1_loss(fake.float(), ab.float())
        g = g_gan + cfg.lambda_l1 * l1
        self.opt_g.zero_grad(set_to_none=True)
        g.backward()
        self.opt_g.step()
        self.discriminator.requires_grad_(True)
        return {"loss": g.item(), "l1": l1.item(), "g_gan": g_gan.item(), "d": d.item(),
                "d_real": d_real.item(), "d_fake": d_fake.item()}

    # --------------------------------------------------------------------------------------------- infer
    @torch.no_grad()
    def colorize(self, L: torch.Tensor, *, shrink_size: float | None = None, max_c2f_depth: int | None = None,
                 min_ax_size: int | None = None) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 -> ``[B,2,H,W]`` ab/110, running the levels the config (read now) or the given
        settings give for this H×W."""
        sizes = self.level_sizes(*L.shape[-2:], shrink_size=shrink_size, max_c2f_depth=max_c2f_depth,
                                 min_ax_size=min_ax_size)
        return self.generator(pyramid(L, sizes))[-1].to(L.dtype)

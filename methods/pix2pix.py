"""pix2pix for colourisation (Isola et al. 2017; the baseline of the C2F and feature-reconstruction theses).

Networks, as the reference code (junyanz/pytorch-CycleGAN-and-pix2pix, ``colorization`` mode: L in, ab out):

* generator :func:`colorbench.nets.unet.pix2pix_unet`: U-Net-256, 8 levels at 256² (54,409,858 parameters for
  1→2 channels), batch norm, dropout 0.5 in three 512-wide decoder layers, tanh. Depth follows the training
  crop, ``levels = min(log2(image_size), 8)``; inference pads to a multiple of ``2**levels`` and crops back.
* discriminator :class:`colorbench.nets.patchgan.PatchGAN`: the 70×70 PatchGAN on ``concat(L, ab)``
  (2,765,633 parameters), first and last layers without norm. An input smaller than its minimum side (24 px) is
  padded by replication.

Objective: ``L_G = BCEwithlogits(D(L, G(L)), real) + λ·|G(L) - ab|₁`` with λ = 100;
``L_D = ½·[BCE(D(L, ab), real) + BCE(D(L, G(L)), fake)]`` (halved "to slow down D relative to G").
One D step, then one G step per batch; Adam 2e-4, β = (0.5, 0.999); weights N(0, 0.02), norm weights N(1, 0.02).
Learning rate: constant for ``lr_constant_steps``, then linear to 0 over ``lr_decay_steps`` (the reference's
``linear`` policy, 100 + 100 epochs in the paper; set both from your steps per epoch; 0 = constant).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from colorbench.nets.gan import gan_loss
from colorbench.method import Batch, Method
from colorbench.nets.init import init_normal_
from colorbench.nets.padding import apply_padded
from colorbench.nets.patchgan import PatchGAN
from colorbench.nets.unet import levels_for, pix2pix_unet
from colorbench.registry import register_method

PAPER_LEVELS = 8  # U-Net-256


@dataclass
class Pix2PixConfig:
    """Paper defaults (Isola et al. 2017, §3.3 and the reference code's options)."""

    image_size: int = 256  # training crop side in px; sets the depth
    batch_size: int = 1  # the paper's; read by the trainer when no --batch-size is given
    levels: int = 0  # stride-2 levels of the generator; 0 = min(log2(image_size), 8)
    width_g: int = 64  # ngf
    width_d: int = 64  # ndf
    n_layers_d: int = 3  # 3 = the 70×70 PatchGAN
    norm: str = "batch"  # "batch" | "instance" | "none", both networks
    dropout: float = 0.5  # generator dropout rate; 0 disables it
    lambda_l1: float = 100.0
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    lr_constant_steps: int = 0  # steps at the initial rate before the linear decay (0 with 0 below = constant)
    lr_decay_steps: int = 0  # steps of the linear decay to 0
    init_std: float = 0.02


@register_method(
    "pix2pix",
    description="Conditional GAN: U-Net generator and 70×70 PatchGAN, adversarial + 100·L1",
    source="P. Isola, J.-Y. Zhu, T. Zhou, A. A. Efros, \"Image-to-Image Translation with Conditional Adversarial "
           "Networks\", CVPR 2017 (arXiv:1611.07004)",
)
class Pix2Pix(Method):
    Config = Pix2PixConfig
    variants = {"default": {}}
    test_overrides = {"width_g": 8, "width_d": 8, "n_layers_d": 2, "image_size": 16, "levels": 3}
    watch_loss = "l1"
    published = {("tarres", "pix2pix", ""): (
        "default", "Tarrés 'pix2pix': Isola et al.'s networks and losses; the thesis states no budget, so the paper "
                   "profile gives it her table's other rows' 23 epochs of batch 16 (71,875 steps), the rate constant "
                   "for half and decayed linearly to 0 over the other half, as Isola et al.'s 100 + 100")}
    capturable = True  # losses stay tensors, shapes are fixed, dropout draws on the device (see capture_refusal)

    def __init__(self, config: Pix2PixConfig | None = None, num_classes: int | None = None) -> None:
        super().__init__(config, num_classes)
        cfg = self.config
        levels = cfg.levels or levels_for(cfg.image_size, PAPER_LEVELS)
        self.generator = pix2pix_unet(1, 2, levels=levels, width=cfg.width_g, norm=cfg.norm,
                                      dropout=cfg.dropout, use_dropout=cfg.dropout > 0)
        self.discriminator = PatchGAN(3, cfg.width_d, cfg.n_layers_d, norm=cfg.norm)
        init_normal_(self.generator, cfg.init_std)
        init_normal_(self.discriminator, cfg.init_std)
        # plain ints: the trainer may wrap the networks in DDP, which hides their attributes
        self.multiple, self.d_min_size = self.generator.multiple, self.discriminator.min_size
        betas = tuple(cfg.betas)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=cfg.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.lr, betas=betas)

    # ------------------------------------------------------------------------------------------ pieces
    def learning_rate(self, step: int) -> float:
        """Constant for ``lr_constant_steps``, then linear to 0 over ``lr_decay_steps`` (reference: ``linear``)."""
        cfg = self.config
        if cfg.lr_decay_steps <= 0:
            return cfg.lr
        return cfg.lr * (1.0 - max(0, step - cfg.lr_constant_steps) / float(cfg.lr_decay_steps + 1))

    def generate(self, L: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 -> ``[B,2,H,W]`` ab/110 with gradients (padded to the U-Net's multiple)."""
        return apply_padded(self.generator, L, self.multiple)

    def discriminate(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """Patch logits ``[B,1,H',W']`` for ``concat(L, ab)``; inputs below the PatchGAN's minimum are padded."""
        x = torch.cat([L, ab], dim=1)
        short = self.d_min_size - min(x.shape[-2:])
        if short > 0:
            x = F.pad(x, (0, max(0, self.d_min_size - x.shape[-1]), 0, max(0, self.d_min_size - x.shape[-2])),
                      mode="replicate")
        return self.discriminator(x)

    def discriminator_loss(self, L: torch.Tensor, ab: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"d": ½(d_real + d_fake), "d_real", "d_fake"}``; ``fake`` is detached here."""
        d_real = gan_loss("bce", self.discriminate(L, ab), True)
        d_fake = gan_loss("bce", self.discriminate(L, fake.detach()), False)
        return {"d": 0.5 * (d_real + d_fake), "d_real": d_real, "d_fake": d_fake}

    def generator_loss(self, L: torch.Tensor, ab: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"g": g_gan + λ·l1, "g_gan", "l1"}`` (``l1`` unweighted, ab/110 units)."""
        g_gan = gan_loss("bce", self.discriminate(L, fake), True)
        l1 = F.l1_loss(fake, ab)
        return {"g": g_gan + self.config.lambda_l1 * l1, "g_gan": g_gan, "l1": l1}

    # ------------------------------------------------------------------------------------------- contract
    def train_step(self, batch: Batch, step: int) -> dict[str, float | torch.Tensor]:
        L = batch["L"].to(self.device, non_blocking=True)
        ab = batch["ab"].to(self.device, non_blocking=True)
        lr = self.learning_rate(step)
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["lr"] = lr
        fake = self.generate(L)

        self.discriminator.requires_grad_(True)
        d = self.discriminator_loss(L, ab, fake)
        self.opt_d.zero_grad(set_to_none=True)
        d["d"].backward()
        self.opt_d.step()

        self.discriminator.requires_grad_(False)  # G's step must not accumulate gradients in D
        g = self.generator_loss(L, ab, fake)
        self.opt_g.zero_grad(set_to_none=True)
        g["g"].backward()
        self.opt_g.step()
        self.discriminator.requires_grad_(True)
        return {**{k: v.detach() for k, v in {**d, **g}.items()}, "lr": lr}

    def capture_refusal(self) -> str | None:
        """A linear learning-rate decay changes the rate at every step: a captured step would freeze it."""
        if self.config.lr_decay_steps > 0:
            return ("its learning rate decays linearly at every step (lr_decay_steps > 0), which a captured step "
                    "would freeze; train with lr_decay_steps=0")
        return None

    def predict(self, L: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 -> ``[B,2,H,W]`` ab/110, in eval mode (running BN statistics, no dropout).

        The reference's test script keeps train mode by default (batch statistics and dropout as noise); a
        benchmark needs repeatable outputs, so we use eval mode, as its ``--eval`` option does.
        """
        return apply_padded(self.generator, L, self.multiple)

"""VAC+GAN: a conditional GAN with a versatile auxiliary classifier (Galvão et al., KTH 2019, §4.2–4.3), and the
report's plain conditional DCGAN (§4.2) as the ``dcgan`` variant.

Networks (at the paper's 32² CIFAR-10 crop; depth follows ``image_size`` as for ``unet_l1``):

* generator G: the KTH U-Net (:func:`colorbench.nets.unet.kth_unet`) with dropout 0.5 in the first two decoder
  layers *and* after the two innermost (512-wide) encoder layers (on the forward path, not on their skips), as
  the reference code. Its first conv has stride 1 (the code and Figure 1; §4.1's text says stride 2 throughout).
  Batch norm on every layer (``norm = "batch"``); the reference code's ``tf.layers.BatchNormalization(...)(x)``
  is called without ``training=True`` and so never normalises (γ and β on moving statistics that stay at 0 and 1:
  ``norm = "frozen_batch"``, the ``code`` variant).
* discriminator D on ``concat(L, ab)``: 4×4 convs 64, 128, 256 (stride 2), 512 (stride 1), then one logit per
  patch, TensorFlow 'same' padding, LeakyReLU 0.2. The paper puts batch norm on every layer (``disc_norm =
  "batch"``, default); the reference code has none (``disc_norm = "none"``, the ``code`` variant). The GAN and
  VAC+GAN folders of the reference build the same G and D.
* classifier C, in parallel with D: 4×4 convs 64, 128, 256 (stride 2), 256 (stride 1), LeakyReLU 0.2, no norm,
  flatten, a linear layer to the class count. It sees ``concat(L, ab)`` as the code does (the paper only says
  "samples"); the map is average-pooled to the training crop's ``(image_size/8)²`` grid before flattening so
  any input size works (an identity at the training size). With ``gamma = 0`` there is no classifier at all.

Losses (D sees logits: sigmoid cross-entropy): ``L_D = BCE(D(real), 1) + BCE(D(fake), 0)`` (not halved: the code
sums them); ``L_C = CE(C(real), y) + CE(C(fake), y)``;
``L_G = BCE(D(fake), 1) + λ·|fake - ab|₁ + γ·CE(C(fake), y)`` with λ = 100, γ = 0.01. Order per batch, as the code:
C step, D step, then ``g_steps_per_d`` G steps (the code runs 2; the paper does not say, default 1). Adam with its
default β (0.9, 0.999); G at 3e-4, D and C at G's rate / 10. Schedule: the paper's step decay ×0.1 every 20,000
steps (default) or the code's smooth ``0.1 ** (step / 20000)`` floored at 1e-6 (``lr_schedule = "smooth"``).
Initialisation: Glorot normal, as §5.1 says (TensorFlow's, truncated at 2σ); the code's Glorot uniform in ``code``.
Training: 200 epochs of batch 128 (§5.1; the reference's ``num_epochs`` is 300, the paper profile's length for the
``code`` variants, which produced the published rows).

Variants:

* ``dcgan``: the report's "GAN" row (§4.2, Table 1): γ = 0, so no classifier and **no labels needed** (it trains on
  unlabeled datasets); the same G, D, losses and schedule ("trained with the same hyperparameters").
* ``code``: the reference code's VAC+GAN as it runs (``src/VAC_GAN/model.py``): no norm in D, frozen-statistics
  norm in G, the smooth schedule, two G steps per D step, Glorot-uniform initialisation. The paper profile runs it
  for the report's VAC-GAN row (300 epochs, as the code), the text's settings (``default``) beside it.
* ``dcgan_code``: the report's "GAN" row as its code ran (``src/GAN/model.py``: the same settings as ``code``, γ =
  0); the paper profile's configuration for that row, ``dcgan`` (the text's) beside it.

Needs class labels unless γ = 0 (``sample``: source photo; ``synthetic``; ``cifar10``; ``folder`` with sub-folders).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from colorbench.nets.gan import gan_loss
from colorbench.errors import UserError
from colorbench.method import Batch, Method
from colorbench.nets.blocks import SameConv2d
from colorbench.nets.init import init_by_name_
from colorbench.nets.padding import apply_padded
from colorbench.nets.patchgan import PatchGAN
from colorbench.nets.unet import kth_unet, levels_for
from colorbench.registry import register_method

PAPER_LEVELS = 4


@dataclass
class VACGANConfig:
    """Paper defaults (KTH §5.1: the GAN's settings, γ = 0.01; CIFAR-10 at 32², batch 128)."""

    image_size: int = 32  # training crop side in px; sets the generator's depth and the classifier's grid
    batch_size: int = 128  # read by the trainer when no --batch-size is given
    levels: int = 0  # generator stride-2 levels; 0 = min(log2(image_size), 4)
    width: int = 64  # generator stem width
    norm: Literal["batch", "frozen_batch"] = "batch"  # generator; "frozen_batch": the code's (see the docstring)
    width_d: int = 64
    width_c: int = 64
    dropout: float = 0.5
    disc_norm: Literal["batch", "none"] = "batch"  # paper: batch norm on every D layer; code: none
    lambda_l1: float = 100.0
    gamma: float = 0.01  # weight of the classifier's cross-entropy in G's loss; 0: no classifier (DCGAN)
    lr: float = 3e-4  # generator
    lr_ratio_dc: float = 0.1  # D's and C's rate = G's × this
    betas: tuple[float, float] = (0.9, 0.999)
    lr_schedule: Literal["step", "smooth"] = "step"
    lr_decay: float = 0.1
    lr_decay_every: int = 20000
    lr_floor: float = 1e-6  # "smooth" only, as the code (applied to G's rate)
    g_steps_per_d: int = 1  # the code: 2
    init: Literal["glorot_normal", "glorot_uniform", "normal", "torch"] = "glorot_normal"  # "normal": N(0, 0.02)


class Classifier(nn.Module):
    """``[B,in_channels,H,W] -> [B,num_classes]`` logits: four 4×4 convs (s2, s2, s2, s1), LeakyReLU, linear."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 64, grid: int = 4) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),
            SameConv2d(4 * w, 4 * w, 4), nn.LeakyReLU(0.2, inplace=True),
        )
        self.pool = nn.AdaptiveAvgPool2d(grid)
        self.fc = nn.Linear(4 * w * grid * grid, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def classifier_grid(image_size: int) -> int:
    """Side of the classifier's feature grid at the training crop (three stride-2 convs: ``image_size / 8``)."""
    return max(1, int(image_size) // 8)


SOURCE = ("D. Galvão, P. Santos, R. Sánchez-Mateos Lizano, \"Image Colorization\", KTH project report 2019, §4.3; "
          "VAC+GAN after S. Bazrafkan and P. Corcoran 2018 (github.com/duartegalvao/Image-Colorization-with-Deep-"
          "Learning)")


@register_method("vacgan", description="Conditional GAN on the KTH U-Net with a versatile auxiliary classifier "
                 "(adv + 100·L1 + 0.01·CE); variant dcgan: the same GAN without the classifier", source=SOURCE)
class VACGAN(Method):
    capture_note = "its step reads its losses with .item()"
    Config = VACGANConfig
    variants = {
        "default": {},
        "dcgan": {"gamma": 0.0},
        "code": {"disc_norm": "none", "lr_schedule": "smooth", "g_steps_per_d": 2, "norm": "frozen_batch",
                 "init": "glorot_uniform"},
        "dcgan_code": {"gamma": 0.0, "disc_norm": "none", "lr_schedule": "smooth", "g_steps_per_d": 2,
                       "norm": "frozen_batch", "init": "glorot_uniform"},
    }
    test_overrides = {"width": 8, "width_d": 8, "width_c": 8, "image_size": 16, "levels": 3}
    watch_loss = "l1"
    needs_labels = True  # the paper's VAC+GAN; the dcgan variant (γ = 0) needs none, see labels_needed
    published = {
        ("kth", "vacgan", "gamma 0.01"): (
            "code", "KTH 'VAC-GAN γ=0.01' as its code trained it (no BN in D, 2 G steps per D step, smooth decay, "
                    "300 epochs); the report's text: variant default"),
        ("kth", "gan", "DCGAN with L1 lambda 100"): (
            "dcgan_code", "KTH 'GAN' (§4.2), not pix2pix: its own U-Net generator and 4×4 discriminator at 32², "
                          "γ = 0, as its code trained it; the report's text: variant dcgan"),
    }

    @classmethod
    def labels_needed(cls, config: VACGANConfig) -> bool:
        """Only the classifier uses labels, and it exists only when ``gamma > 0``."""
        return float(config.gamma) > 0

    def __init__(self, config: VACGANConfig | None = None, num_classes: int | None = None) -> None:
        super().__init__(config, num_classes)
        cfg = self.config
        levels = cfg.levels or levels_for(cfg.image_size, PAPER_LEVELS)
        self.generator = kth_unet(1, 2, levels=levels, width=cfg.width, norm=cfg.norm, dropout=cfg.dropout,
                                  dropout_up=(0, 1), dropout_down=(levels - 2, levels - 1))
        self.discriminator = PatchGAN(3, cfg.width_d, 3, norm=cfg.disc_norm, norm_first=True, padding="same",
                                      bias=True)
        self.use_classifier = self.labels_needed(cfg)
        self.classifier = (Classifier(3, int(num_classes), cfg.width_c, classifier_grid(cfg.image_size))
                           if self.use_classifier else None)
        for net in (self.generator, self.discriminator, self.classifier):
            if net is not None:
                init_by_name_(net, cfg.init)
        self.multiple = self.generator.multiple  # plain int: the trainer may wrap the networks in DDP
        betas = tuple(cfg.betas)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=cfg.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.lr * cfg.lr_ratio_dc, betas=betas)
        if self.use_classifier:
            self.opt_c = torch.optim.Adam(self.classifier.parameters(), lr=cfg.lr * cfg.lr_ratio_dc, betas=betas)

    # ------------------------------------------------------------------------------------------ pieces
    def learning_rate(self, step: int) -> float:
        """Generator rate at ``step``: paper step decay, or the code's smooth decay floored at ``lr_floor``."""
        cfg = self.config
        if not cfg.lr_decay_every:
            return cfg.lr
        if cfg.lr_schedule == "smooth":
            return max(cfg.lr_floor, cfg.lr * cfg.lr_decay ** (step / cfg.lr_decay_every))
        return cfg.lr * cfg.lr_decay ** (step // cfg.lr_decay_every)

    def generate(self, L: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 -> ``[B,2,H,W]`` ab/110 with gradients."""
        return apply_padded(self.generator, L, self.multiple)

    def generator_loss(self, L: torch.Tensor, ab: torch.Tensor, label: torch.Tensor | None,
                       fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"g": g_gan + λ·l1 + γ·ce_fake, "g_gan", "l1" (unweighted), "ce_fake"}``; without a classifier
        (γ = 0) ``{"g": g_gan + λ·l1, "g_gan", "l1"}`` and ``label`` is not used."""
        pair = torch.cat([L, fake], dim=1)
        logits = self.discriminator(pair)
        g_gan = gan_loss("bce", logits, True)
        l1 = F.l1_loss(fake, ab)
        cfg = self.config
        if not self.use_classifier:
            return {"g": g_gan + cfg.lambda_l1 * l1, "g_gan": g_gan, "l1": l1}
        ce_fake = F.cross_entropy(self.classifier(pair), label)
        return {"g": g_gan + cfg.lambda_l1 * l1 + cfg.gamma * ce_fake, "g_gan": g_gan, "l1": l1, "ce_fake": ce_fake}

    # ------------------------------------------------------------------------------------------- contract
    def train_step(self, batch: Batch, step: int) -> dict[str, float]:
        if self.use_classifier and "label" not in batch:
            raise UserError("vacgan needs class labels, but the batch has no 'label'; train it on 'sample', "
                            "'synthetic', 'cifar10' or a 'folder' dataset with one sub-folder per class (or use "
                            "the variant dcgan, which has no classifier)")
        L = batch["L"].to(self.device, non_blocking=True)
        ab = batch["ab"].to(self.device, non_blocking=True)
        label = (torch.as_tensor(batch["label"]).to(self.device, non_blocking=True).long()
                 if self.use_classifier else None)
        lr = self.learning_rate(step)
        rates = [(self.opt_g, lr), (self.opt_d, lr * self.config.lr_ratio_dc)]
        if self.use_classifier:
            rates.append((self.opt_c, lr * self.config.lr_ratio_dc))
        for opt, rate in rates:
            for group in opt.param_groups:
                group["lr"] = rate
        real = torch.cat([L, ab], dim=1)
        fake = self.generate(L)
        fake_pair = torch.cat([L, fake.detach()], dim=1)
        out: dict[str, float] = {"lr": lr}

        # classifier: cross-entropy of the true class on real and generated colours
        if self.use_classifier:
            self.classifier.requires_grad_(True)
            ce_real = F.cross_entropy(self.classifier(real), label)
            ce_fake_c = F.cross_entropy(self.classifier(fake_pair), label)
            self.opt_c.zero_grad(set_to_none=True)
            (ce_real + ce_fake_c).backward()
            self.opt_c.step()
            out.update(c=(ce_real + ce_fake_c).item(), ce_real=ce_real.item())

        # discriminator: real -> 1, generated -> 0 (summed, as the code)
        self.discriminator.requires_grad_(True)
        logit_real, logit_fake = self.discriminator(real), self.discriminator(fake_pair)
        d_real = gan_loss("bce", logit_real, True)
        d_fake = gan_loss("bce", logit_fake, False)
        self.opt_d.zero_grad(set_to_none=True)
        (d_real + d_fake).backward()
        self.opt_d.step()
        out.update(d=(d_real + d_fake).item(), d_real=d_real.item(), d_fake=d_fake.item())

        # generator: fool D, stay near the truth, be classifiable
        self.discriminator.requires_grad_(False)
        if self.use_classifier:
            self.classifier.requires_grad_(False)
        for i in range(max(1, self.config.g_steps_per_d)):
            if i:
                fake = self.generate(L)  # a fresh forward (new dropout) per extra step, as the code
            g = self.generator_loss(L, ab, label, fake)
            self.opt_g.zero_grad(set_to_none=True)
            g["g"].backward()
            self.opt_g.step()
        self.discriminator.requires_grad_(True)
        if self.use_classifier:
            self.classifier.requires_grad_(True)
        out.update({k: v.item() for k, v in g.items()})
        return out

    def predict(self, L: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 -> ``[B,2,H,W]`` ab/110, in eval mode (the code's sampler: no dropout)."""
        return apply_padded(self.generator, L, self.multiple)

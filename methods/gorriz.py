"""Górriz et al. 2019: a U-Net GAN with IBN, spectral normalisation and three discriminators at three scales.

Górriz, Mrak, Smeaton and O'Connor, "End-to-end conditional GAN-based architectures for image colourisation"
(IEEE MMSP 2019; BBC ColorGAN code), as described in Tarrés' master's thesis (2020) §4.1.3.

Networks (:mod:`colorbench.nets.gorriz`): the IBN U-Net generator, 7 levels at the paper's 256² crop (depth follows
``image_size``: ``min(log2(image_size), 7)``), nearest-neighbour upsampling, tanh, no dropout; ``num_scales``
discriminators (:mod:`colorbench.nets.multiscale`) on ``concat(L, ab)`` at full, 1/2 and 1/4 resolution (2×2 average
pooling), 64 (no norm), 128, 256, 512 stride 2 then a 4×4 conv to one score. Spectral norm on every conv of both.

Losses: LSGAN (MSE to 1 for real, 0 for fake) per scale with weight 1, plus ``100 · L1`` on ab/110 for the generator.
Adam 2e-4, β (0.5, 0.999) for both; batch 16 at 256² in the paper (the trainer's ``batch_size`` and ``size``).

One step, as the reference's ``train_gan``: the generator predicts; every discriminator takes an Adam step on the
real pairs, then one on the fake pairs (``d_update="split"``, two steps per iteration as Keras' two
``train_on_batch`` calls; ``"joint"`` takes one step on their mean); then the generator takes one step. Two
differences from the reference, both noted: its fake pairs come from ``predict`` (batch norm in inference mode),
here from the training-mode forward that the generator step then reuses; and the loss is reported as floats.

Inference pads L to a multiple of ``2**levels`` (reflect) and crops the prediction back, so any H×W works.
Batch norm uses Keras' momentum (running averages move 1% per step): after very short training, ``colorize``
(eval mode) still leans on the initial running statistics.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from colorbench.method import Batch, Method
from colorbench.nets.gan import gan_loss
from colorbench.nets.gorriz import GorrizGANConfig, build_gorriz_gan, gorriz_d_step, gorriz_levels
from colorbench.nets.padding import crop_to, pad_to_multiple
from colorbench.registry import register_method


@dataclass
class GorrizConfig(GorrizGANConfig):
    """Paper / reference-code defaults (BBC ColorGAN ``exp7_ibn_md``): the shared
    :class:`colorbench.nets.gorriz.GorrizGANConfig`, unchanged."""


@register_method(
    "gorriz",
    description="U-Net cGAN with IBN, spectral norm and 3 LSGAN discriminators at 3 scales",
    source="Górriz et al. 2019, 'End-to-end conditional GAN-based architectures for image colourisation' "
    "(MMSP; BBC ColorGAN); Tarrés 2020 thesis §4.1.3",
)
class Gorriz(Method):
    """See the module docstring. Variants are the paper's ablation (IBN, SN, multiple discriminators)."""
    capture_note = "its step reads its losses with .item()"

    Config = GorrizConfig
    variants = {
        "default": {},  # IBN + SN + 3 scales (exp7_ibn_md)
        "no_ibn": {"ibn": False},  # BN + SN + 3 scales (exp6_bn_sn_md)
        "no_sn": {"spectral_norm": False},
        "single_scale": {"num_scales": 1},  # IBN + SN (exp5_ibn)
        "per_channel_in": {"instance_norm": "per_channel"},
        "bn": {"ibn": False, "spectral_norm": False, "num_scales": 1},  # the plain baseline (exp1_bn)
    }
    test_overrides = {"image_size": 32, "width": 8, "max_width": 32, "disc_width": 8}
    watch_loss = "l1"
    published = {("tarres", "gorriz", ""): ("default", "Tarrés 'Górriz et al.' (multi-discriminator, IBN, SN)")}

    def __init__(self, config: GorrizConfig | None = None, num_classes: int | None = None) -> None:
        super().__init__(config, num_classes)
        c = self.config
        self.generator, self.discriminator = build_gorriz_gan(c, gorriz_levels(c.image_size, c.max_levels))
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=c.lr_g, betas=tuple(c.betas))
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=c.lr_d, betas=tuple(c.betas))

    def generate(self, L: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 -> ``[B,2,H,W]`` ab/110, padding to the generator's multiple and cropping back."""
        x, size = pad_to_multiple(L, 2 ** gorriz_levels(self.config.image_size, self.config.max_levels))
        return crop_to(self.generator(x), size)

    def train_step(self, batch: Batch, step: int) -> dict[str, float]:
        c = self.config
        L, ab = batch["L"], batch["ab"]
        fake = self.generate(L)
        real_pair, fake_pair = torch.cat([L, ab], 1), torch.cat([L, fake.detach()], 1)

        d_real, d_fake = gorriz_d_step(self.discriminator, self.opt_d, real_pair, fake_pair, update=c.d_update)

        adv = gan_loss("lsgan", self.discriminator(torch.cat([L, fake], 1)), True)
        l1 = F.l1_loss(fake.float(), ab.float())
        loss_g = c.lambda_adv * adv + c.lambda_l1 * l1
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return {"loss_g": loss_g.item(), "l1": l1.item(), "g_adv": adv.item(),
                "loss_d": 0.5 * (d_real.item() + d_fake.item()), "d_real": d_real.item(), "d_fake": d_fake.item()}

    def predict(self, L: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 -> ``[B,2,H,W]`` ab/110 at the same H×W."""
        return self.generate(L).to(L.dtype)


"""U-Net regression baselines ``unet_l1`` and ``unet_l2`` (Galvão, Santos and Sánchez-Mateos, KTH 2019, §4.1).

The network (:func:`colorbench.nets.unet.kth_unet`): at the paper's 32² CIFAR-10 crop a stride-1 4×4 conv to 64
maps, then 4×4 stride-2 convs to 128, 256, 512, 512, each with batch norm and LeakyReLU 0.2; a decoder of 4×4
stride-2 transposed convs (512, 256, 128, 64) with batch norm, ReLU and the mirrored encoder map concatenated,
dropout 0.5 in the first two decoder layers; a 1×1 conv to ab with tanh (16,654,722 parameters). Depth follows the
training crop: ``levels = min(log2(image_size), max_levels)`` (paper: 4), and inference pads to a multiple of
``2**levels`` and crops back.

Loss: mean absolute (``unet_l1``, the paper's selected model) or mean squared error (``unet_l2``) on
normalised ab; ``loss = "l1"`` / ``"l2"`` overrides the method's own. Adam 1e-3. Initialisation: Glorot *normal*,
as §5.1 says ("initialized using the Glorot normal initializer"; TensorFlow's, a normal truncated at 2σ: ``init =
"glorot_normal"``); the reference code uses ``glorot_uniform_initializer`` (the ``code`` variant).

Learning rate: the paper's **step** decay, ×0.3 every 17,500 updates (``lr_schedule = "step"``). The reference
code (``src/UNET/model.py``) calls TensorFlow's ``exponential_decay(1e-3, step, 50, 0.3)`` without ``staircase``: a
continuous decay by 0.3 every *50* steps (``lr_schedule = "smooth"``, ``lr_decay_every = 50``: ``lr · 0.3 **
(step / 50)``), which drives the rate to ~1e-8 within 500 steps (1e-3 · 0.3^10 ≈ 6e-9) and so freezes training
after a few hundred steps. The same file trains on a **mean squared error** (``tf.keras.losses.
MeanSquaredError``, "TODO: try with MAE"), whatever the report's "U-Net L1" says. The published figures came from
that code, so the ``code`` variant now carries both (an earlier version kept the paper's text for them): it is
what the paper profile runs for the KTH "U-Net L1" row, the text's settings (``default``) beside it.

Variants:

* ``code``: the reference code as it runs. Its ``tf.layers.BatchNormalization(...)(x)`` is called without
  ``training=True``, so it never normalises: it applies γ and β to the moving statistics, which stay at their
  initial mean 0 and variance 1 (``norm = "frozen_batch"``, :class:`colorbench.nets.blocks.
  FrozenStatsBatchNorm2d`); Glorot-uniform initialisation; the MSE loss; the continuous ×0.3-every-50-steps decay.
  Its network's forward equals the reference graph's sampler (``src/UNET/models/UNet.py`` under TensorFlow 2.15's
  ``tf.compat.v1``) on shared weights (``tests/test_method_unet.py``, a fixture made outside the project).
* ``tarres``: the "U-Net L1" baseline of Tarrés' thesis (§4.1.1; Table 3, PyTorch): 256² ImageNet crops and
  "n = 7 downsampling layers" (a 2×2 bottleneck), batch 16 as the thesis' other 256² models. The thesis gives no
  block details beyond stride-2 convs, transposed-conv upsampling, concatenated skips and an L1 loss, so the blocks
  are the KTH ones (stem, post-activation, dropout in two decoder layers) and the optimiser the KTH one: our
  reading, not hers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from colorbench.method import Batch, Method
from colorbench.nets.init import init_by_name_
from colorbench.nets.padding import apply_padded
from colorbench.nets.unet import kth_unet, levels_for
from colorbench.registry import register_method

PAPER_LEVELS = 4  # stride-2 levels of the KTH U-Net at its 32² crop (bottleneck 2×2)


@dataclass
class UNetConfig:
    """Paper defaults (KTH, §4.1 and §5.1; CIFAR-10 at 32², batch 128, 200 epochs)."""

    image_size: int = 32  # training crop side in px; sets the depth
    batch_size: int = 128  # read by the trainer when no --batch-size is given
    levels: int = 0  # stride-2 levels; 0 = min(log2(image_size), max_levels)
    max_levels: int = PAPER_LEVELS  # the paper's depth at its crop (Tarrés' 256² U-Net: 7)
    width: int = 64  # channels of the full-resolution stem
    norm: str = "batch"  # "batch" | "instance" | "none" | "frozen_batch" (the reference code's, see the docstring)
    dropout: float = 0.5  # after the first two decoder layers
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)  # Adam's defaults (the paper and code set none)
    lr_schedule: Literal["step", "smooth"] = "step"  # step: the paper's staircase; smooth: the code's continuous decay
    lr_decay: float = 0.3  # multiply the rate by this ...
    lr_decay_every: int = 17500  # ... every this many steps (0 = constant rate; the code: 50, smooth)
    loss: Literal["", "l1", "l2"] = ""  # "": the method's own (unet_l1: l1, unet_l2: l2); the code trains "l2"
    init: Literal["glorot_normal", "glorot_uniform", "normal", "torch"] = "glorot_normal"  # "normal": N(0, 0.02)


class _KTHUNet(Method):
    """Shared body of ``unet_l1`` / ``unet_l2``: one generator, one Adam, a pixel loss on ab."""

    Config = UNetConfig
    variants = {
        "default": {},
        "code": {"norm": "frozen_batch", "init": "glorot_uniform", "loss": "l2", "lr_schedule": "smooth",
                 "lr_decay_every": 50},
        "tarres": {"image_size": 256, "max_levels": 7, "batch_size": 16},
    }
    test_overrides = {"width": 8, "image_size": 16, "levels": 3}
    watch_loss = "loss"
    loss_kind: str = "l1"
    capturable = True  # the loss stays a tensor, shapes are fixed; the step decay re-captures (capture_key)

    def __init__(self, config: UNetConfig | None = None, num_classes: int | None = None) -> None:
        super().__init__(config, num_classes)
        cfg = self.config
        levels = cfg.levels or levels_for(cfg.image_size, cfg.max_levels)
        self.net = kth_unet(1, 2, levels=levels, width=cfg.width, norm=cfg.norm, dropout=cfg.dropout)
        init_by_name_(self.net, cfg.init)
        self.multiple = self.net.multiple  # kept here: the trainer may wrap self.net in DDP
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))

    def learning_rate(self, step: int) -> float:
        """The rate at ``step``: the paper's ``lr · lr_decay ** (step // lr_decay_every)``, or with ``lr_schedule =
        "smooth"`` the code's ``lr · lr_decay ** (step / lr_decay_every)`` (TensorFlow's ``exponential_decay``)."""
        cfg = self.config
        if not cfg.lr_decay_every:
            return cfg.lr
        if cfg.lr_schedule == "smooth":
            return cfg.lr * cfg.lr_decay ** (step / cfg.lr_decay_every)
        return cfg.lr * cfg.lr_decay ** (step // cfg.lr_decay_every)

    def train_step(self, batch: Batch, step: int) -> dict[str, float | torch.Tensor]:
        L = batch["L"].to(self.device, non_blocking=True)
        ab = batch["ab"].to(self.device, non_blocking=True)
        lr = self.learning_rate(step)
        for group in self.opt.param_groups:
            group["lr"] = lr
        pred = apply_padded(self.net, L, self.multiple)
        kind = self.config.loss or self.loss_kind
        loss = F.l1_loss(pred, ab) if kind == "l1" else F.mse_loss(pred, ab)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.detach(), "lr": lr}

    def capture_key(self, step: int) -> float:
        """The learning rate: constant between decays, so a captured step holds until the next decay."""
        return self.learning_rate(step)

    def predict(self, L: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 -> ``[B,2,H,W]`` ab/110, in eval mode (running BN statistics, no dropout; the
        ``code`` variant's frozen-statistics norm is the same in both modes)."""
        return apply_padded(self.net, L, self.multiple)


SOURCE = ("D. Galvão, P. Santos, R. Sánchez-Mateos Lizano, \"Image Colorization\", KTH project report 2019, §4.1 "
          "(github.com/duartegalvao/Image-Colorization-with-Deep-Learning)")


@register_method("unet_l1", description="KTH U-Net regressing ab with a mean-absolute-error loss", source=SOURCE)
class UNetL1(_KTHUNet):
    loss_kind = "l1"
    published = {
        ("kth", "unet_l1", ""): ("code", "KTH 'U-Net L1' as its code trained it (frozen BN, Glorot uniform, MSE, "
                                         "×0.3 every 50 steps, smooth); the report's text: variant default"),
        ("tarres", "unet_l1", ""): ("tarres", "Tarrés 'U-Net L1' (Table 3): her 256² U-Net with 7 levels"),
    }


@register_method("unet_l2", description="KTH U-Net regressing ab with a mean-squared-error loss", source=SOURCE)
class UNetL2(_KTHUNet):
    loss_kind = "l2"

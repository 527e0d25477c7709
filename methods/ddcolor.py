"""DDColor (Kang et al. 2023): ConvNeXt encoder, pixel decoder and query-based colour decoder, GAN-trained.

Network :class:`colorbench.nets.ddcolor.DDColorNet` (equal to the reference code, piddnad/DDColor: see that module
and ``tests/test_nets_ddcolor.py``): the grey photo ``Lab(L, 0, 0)`` as sRGB (ImageNet-normalised) -> ab in Lab
units, divided by 110 here. Released models (``ddcolor/pipeline.py``): ``large`` (ConvNeXt-L, 227,866,256
parameters) and ``tiny`` (ConvNeXt-T, 55,005,104), both with 100 queries and 9 decoder layers; the encoder starts
from ImageNet-22k ConvNeXt weights (``encoder_from_pretrain: True``; :mod:`colorbench.pretrained`:
``convnext_large_22k`` / ``convnext_tiny_22k``).

Training, as the reference's ``options/train/train_ddcolor.yml`` and ``basicsr/models/color_model.py``
(``ColorModel.optimize_parameters``), 256² crops, 4 GPUs × batch 4 (``batch_size = 16``), 400k iterations:

* generator loss ``0.1·L1(ab) + 5·Σ_k w_k·L1(φ_k(ŷ), φ_k(y⁺)) + 1·BCE(D(ŷ), real) + 0.5·colourfulness(ŷ)``, with
  ab in Lab units, ``ŷ`` the predicted sRGB photo (true L, predicted ab), ``y⁺`` the true photo "colour-enhanced"
  (``grey·(1 - 1.2) + rgb·1.2``, clipped to [0,1]; ``color_enhance``, 1 = off), φ_k VGG16-BN's ``conv1_1``,
  ``conv2_1``, ``conv3_1``, ``conv4_1``, ``conv5_1`` outputs (before BN and ReLU) with weights 1/16, 1/8, 1/4, 1/2, 1,
  on the ImageNet-normalised image (frozen, :class:`colorbench.nets.frozen.FrozenFeatures`, ``vgg16_bn`` weights);
* colourfulness loss: per image ``1 - (sqrt(σ_rg² + σ_yb²) + 0.3·sqrt(μ_rg² + μ_yb²))`` over ``rg = |R - G|``,
  ``yb = |(R + G)/2 - B|`` in [0,1] (unbiased σ), **summed** over the batch (the reference's loop). The model zoo
  notes red-blotch artefacts from it: ``colorfulness_weight = 0`` switches it off (``--set colorfulness_weight=0``);
* discriminator :class:`colorbench.nets.sn_critic.SpectralCritic` (DeOldify's, width 64, 3 blocks) on sRGB:
  ``BCE(D(y⁺), real) + BCE(D(ŷ), fake)``, one step after each generator step (the generator first);
* AdamW (lr 1e-4, weight decay 0.01, β 0.9, 0.99) for the generator, Adam (1e-4, β 0.9, 0.99) for the critic; both
  rates halve at 80k, 120k, ..., 360k steps (``MultiStepLR``).

Inference pads to a multiple of 32 (reflect) and crops back. The reference's pipeline resizes every photo to 512²
(its ``input_size``) and the ab back to the photo's size; ``working_size = 512`` does the same in ``predict`` (the
released models, ``zoo``: ``cv2.resize``'s bilinear without antialiasing on the way in, applied here to L rather than
to the RGB photo before its conversion, and ``F.interpolate``'s nearest on the way out, joined to the full-resolution
L as the pipeline does). With the default ``working_size = 0`` ``predict`` works at the size it is given and
``colorbench colorize`` uses the shared default, full resolution on 512 px tiles, which are the reference's 512²
inputs (``--working-size 512`` gives its resize-the-whole-photo behaviour). Measured on one CPU thread of a loaded
2-core machine, untrained weights, one call: 256² 1.6 s (tiny) / 7.8 s (large), 512² 11 s / 37 s; a 750×500 photo
at full resolution (tiled) 30 s / 58 s. Colour queries attend to the whole input, so each tile's colours are chosen
from that tile's content; a working size trades that for resolution. No per-method default is needed for it: the
contract is unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from colorbench.color import denormalize_ab, denormalize_l, lab_to_rgb, neutral_rgb, normalize_ab
from colorbench.method import Batch, Method
from colorbench.nets.convnext_stages import CONVNEXT_SIZES
from colorbench.nets.ddcolor import MULTIPLE, DDColorNet, map_reference_state_dict
from colorbench.nets.frozen import FrozenFeatures
from colorbench.nets.gan import gan_loss
from colorbench.nets.padding import apply_padded
from colorbench.nets.sn_critic import SpectralCritic
from colorbench.nets.vgg_taps import VGG16BNTaps
from colorbench.nets.resample import predict_at
from colorbench.pretrained import ZooEntry, load_pretrained
from colorbench.registry import register_method

ENCODER_WEIGHTS = {"large": "convnext_large_22k", "tiny": "convnext_tiny_22k"}
GREY = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale, which the reference's colour enhancement uses


@dataclass
class DDColorConfig:
    """The reference's training config (``options/train/train_ddcolor.yml``) and released network."""

    image_size: int = 256
    batch_size: int = 16  # 4 GPUs × 4
    encoder: str = "large"  # ConvNeXt size: large | tiny (the released models)
    encoder_depths: tuple[int, ...] = ()  # () = the size's; set with encoder_dims for a reduced encoder (no weights)
    encoder_dims: tuple[int, ...] = ()
    nf: int = 512  # pixel decoder width (its last step and the image features: nf/2)
    hidden_dim: int = 256
    num_queries: int = 100
    nheads: int = 8
    dim_feedforward: int = 2048
    dec_layers: int = 9
    width_d: int = 64
    blocks_d: int = 3
    lr_g: float = 1e-4
    weight_decay_g: float = 0.01
    lr_d: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.99)
    lr_milestones: tuple[int, ...] = (80000, 120000, 160000, 200000, 240000, 280000, 320000, 360000)
    lr_gamma: float = 0.5
    pixel_weight: float = 0.1
    perceptual_weight: float = 5.0
    perceptual_layers: tuple[str, ...] = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
    perceptual_layer_weights: tuple[float, ...] = (0.0625, 0.125, 0.25, 0.5, 1.0)
    gan_weight: float = 1.0
    colorfulness_weight: float = 0.5  # 0 switches the colourfulness loss off
    color_enhance: float = 1.2  # saturation factor of the perceptual and real-critic targets; 1 = off
    pretrained: str = "auto"  # ImageNet-22k ConvNeXt for the encoder: auto | true | false
    pretrained_vgg: str = "auto"  # VGG16-BN of the perceptual loss
    working_size: int = 0  # > 0: predict on L resized to this square, ab back as the pipeline does (released: 512)


def colorfulness_loss(rgb: torch.Tensor) -> torch.Tensor:
    """DDColor's ``ColorfulnessLoss`` (unweighted): ``[B,3,H,W]`` sRGB in [0,1] -> a scalar, the sum over the batch
    of ``1 - colourfulness`` (see the module docstring; ``|·|`` opponent channels, unbiased deviations)."""
    r, g, b = rgb.float().unbind(1)
    rg = (r - g).abs().flatten(1)
    yb = (0.5 * (r + g) - b).abs().flatten(1)
    std_root = (rg.std(dim=1) ** 2 + yb.std(dim=1) ** 2).sqrt()
    mean_root = (rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2).sqrt()
    return (1 - (std_root + 0.3 * mean_root)).sum()


def color_enhance(rgb: torch.Tensor, factor: float) -> torch.Tensor:
    """``[B,3,H,W]`` sRGB in [0,1] -> saturation scaled by ``factor`` about its grey (BT.601), clipped to [0,1]."""
    if factor == 1.0:
        return rgb
    w = torch.tensor(GREY, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    grey = (rgb * w).sum(dim=1, keepdim=True)
    return (grey * (1.0 - factor) + rgb * factor).clamp(0.0, 1.0)


@register_method(
    "ddcolor",
    description="DDColor: ConvNeXt + pixel decoder + colour-query decoder; L1, VGG, GAN and colourfulness losses",
    source="X. Kang, T. Yang, W. Ouyang, P. Ren, L. Li, X. Xie, \"DDColor: Towards Photo-Realistic Image "
           "Colorization via Dual Decoders\", ICCV 2023 (arXiv:2212.11613); code piddnad/DDColor",
)
class DDColor(Method):
    Config = DDColorConfig
    variants = {
        "default": {},  # = large
        "large": {"encoder": "large"},
        "tiny": {"encoder": "tiny"},
        # Half the widths of DDColor-T everywhere (encoder, pixel and colour decoders, critic), as the quick
        # profile narrows every method; ImageNet weights exist only at the released widths: random encoder.
        "narrow": {"encoder": "tiny", "encoder_depths": (3, 3, 9, 3), "encoder_dims": (48, 96, 192, 384),
                   "nf": 256, "hidden_dim": 128, "dim_feedforward": 1024, "width_d": 32},
    }
    table_notes = {"narrow": "half-width DDColor-T (ConvNeXt-T at half width, random encoder: no ImageNet weights "
                             "exist at this width); not a released DDColor"}
    test_overrides = {
        "encoder": "tiny", "encoder_depths": (1, 1, 1, 1), "encoder_dims": (8, 8, 16, 16), "nf": 16, "hidden_dim": 16,
        "num_queries": 4, "nheads": 2, "dim_feedforward": 32, "dec_layers": 3, "width_d": 8, "blocks_d": 1,
        "perceptual_layers": ("conv1_1",), "perceptual_layer_weights": (1.0,), "image_size": 32,
        "pretrained": "false", "pretrained_vgg": "false",
    }
    watch_loss = "l1"
    capture_note = "its step reads its losses with .item() and sets the learning rate from Python every step"
    backbones = ("convnext_large_22k", "convnext_tiny_22k", "vgg16_bn")

    # The released checkpoints (piddnad/DDColor's MODEL_ZOO.md; Hugging Face piddnad/<name>, file pytorch_model.bin,
    # the reference DDColor's state dict, Apache-2.0 like the code). Every one is the network of ddcolor/pipeline.py
    # at its size (ConvNeXt-L or -T, 100 queries, 3 scales, 9 decoder layers, input 512²): the same architecture per
    # size, so one mapping (colorbench.nets.ddcolor.map_reference_state_dict). The publisher gives no sha256 beside
    # the files: it is recorded on first use. The ImageNet backbones are not loaded (the release replaces them).
    zoo = {
        entry: ZooEntry(
            method="ddcolor", entry=entry, description=description,
            url=f"https://huggingface.co/piddnad/ddcolor_{entry}/resolve/main/pytorch_model.bin",
            file=f"ddcolor_{entry}.pth",  # every repository names it pytorch_model.bin: the repository's name here
            licence="Apache-2.0 (piddnad/DDColor)",
            source=f"piddnad/DDColor, MODEL_ZOO.md and ddcolor/pipeline.py; Hugging Face piddnad/ddcolor_{entry}",
            variant=size,
            config=(("encoder", size), ("working_size", 512), ("pretrained", "false"), ("pretrained_vgg", "false")),
            target="generator",
            mapper=map_reference_state_dict,
            published=published,
        )
        for entry, size, description, published in (
            ("paper", "large", "DDColor-L trained on ImageNet, the paper's model: use it to reproduce the paper's "
             "figures and images", (("ddcolor", "ddcolor", ""),)),
            ("paper_tiny", "tiny", "DDColor-T trained on ImageNet as the paper's model: the lightest", ()),
            ("modelscope", "large", "DDColor-L trained on ImageNet cleaned as BigColor's (the publisher's default): "
             "best on photos outside ImageNet, FID a little worse", ()),
            ("artistic", "large", "DDColor-L trained on ImageNet and private artistic images, without the "
             "colourfulness loss: fewer colour artefacts, other colours", ()),
        )
    }
    published = {("ddcolor", "ddcolor", ""): ("zoo:paper", "the released paper model (ddcolor:paper), evaluated "
                                               "without training")}

    def __init__(self, config: DDColorConfig | None = None, num_classes: int | None = None) -> None:
        super().__init__(config, num_classes)
        cfg = self.config
        reduced = bool(cfg.encoder_depths or cfg.encoder_dims)
        if reduced:
            depths, dims = tuple(cfg.encoder_depths), tuple(cfg.encoder_dims)
        elif cfg.encoder in ENCODER_WEIGHTS:
            depths, dims = CONVNEXT_SIZES[cfg.encoder]
        else:
            raise ValueError(f"ddcolor: encoder must be one of {', '.join(ENCODER_WEIGHTS)} (the released ones), got "
                             f"{cfg.encoder!r}; give encoder_depths and encoder_dims for another ConvNeXt")
        if len(cfg.perceptual_layers) != len(cfg.perceptual_layer_weights):
            raise ValueError("ddcolor: perceptual_layers and perceptual_layer_weights must have the same length")
        self.generator = DDColorNet(depths, dims, nf=cfg.nf, hidden_dim=cfg.hidden_dim, num_queries=cfg.num_queries,
                                    nheads=cfg.nheads, dim_feedforward=cfg.dim_feedforward, dec_layers=cfg.dec_layers)
        weights = None if reduced else ENCODER_WEIGHTS[cfg.encoder]
        self._encoder_weights = weights or ENCODER_WEIGHTS.get(cfg.encoder, "convnext_tiny_22k")
        self._encoder_loaded = bool(weights) and load_pretrained(self.generator.encoder.body, weights, cfg.pretrained)
        self.discriminator = SpectralCritic(3, cfg.width_d, cfg.blocks_d)
        taps = VGG16BNTaps(cfg.perceptual_layers)
        self._vgg_loaded = load_pretrained(taps, "vgg16_bn", cfg.pretrained_vgg)
        self.vgg = FrozenFeatures(taps)
        betas = tuple(cfg.betas)
        self.opt_g = torch.optim.AdamW(self.generator.parameters(), lr=cfg.lr_g, betas=betas,
                                       weight_decay=cfg.weight_decay_g)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.lr_d, betas=betas)

    # ------------------------------------------------------------------------------------------ pieces
    def lr_scale(self, step: int) -> float:
        """``lr_gamma ** (milestones passed by step)``: the reference's ``MultiStepLR``."""
        return self.config.lr_gamma ** sum(int(step) >= m for m in self.config.lr_milestones)

    def generate_lab(self, L: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 -> ``[B,2,H,W]`` ab in Lab units, with gradients (padded to a multiple of 32)."""
        return apply_padded(self.generator, neutral_rgb(L), MULTIPLE)

    def perceptual(self, pred_rgb: torch.Tensor, target_rgb: torch.Tensor) -> torch.Tensor:
        """Unweighted ``Σ_k w_k·L1(φ_k(pred), φ_k(target))``, both ``[B,3,H,W]`` sRGB in [0,1]."""
        with torch.no_grad():
            target = self.vgg(target_rgb)
        pred = self.vgg(pred_rgb)
        return sum(w * F.l1_loss(p, t) for w, p, t in zip(self.config.perceptual_layer_weights, pred, target))

    # ------------------------------------------------------------------------------------------- contract
    def train_step(self, batch: Batch, step: int) -> dict[str, float]:
        cfg = self.config
        L = batch["L"].to(self.device, non_blocking=True)
        ab_lab = denormalize_ab(batch["ab"].to(self.device, non_blocking=True))
        target_rgb = color_enhance(batch["rgb"].to(self.device, non_blocking=True), cfg.color_enhance)
        scale = self.lr_scale(step)
        for opt, lr in ((self.opt_g, cfg.lr_g), (self.opt_d, cfg.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * scale

        fake_ab = self.generate_lab(L)
        fake_rgb = lab_to_rgb(torch.cat([denormalize_l(L).to(fake_ab.dtype), fake_ab], dim=1), warn=False)
        self.discriminator.requires_grad_(False)
        l1 = (fake_ab.float() - ab_lab.float()).abs().mean()
        losses = {"l1": l1}
        total = cfg.pixel_weight * l1
        if cfg.perceptual_weight:
            losses["perceptual"] = self.perceptual(fake_rgb, target_rgb)
            total = total + cfg.perceptual_weight * losses["perceptual"]
        if cfg.gan_weight:
            losses["g_gan"] = gan_loss("bce", self.discriminator(fake_rgb), True)
            total = total + cfg.gan_weight * losses["g_gan"]
        if cfg.colorfulness_weight:
            losses["colorfulness"] = colorfulness_loss(fake_rgb)
            total = total + cfg.colorfulness_weight * losses["colorfulness"]
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()
        self.discriminator.requires_grad_(True)

        out: dict[str, Any] = {**losses, "g": total}
        if cfg.gan_weight:
            d_real = gan_loss("bce", self.discriminator(target_rgb), True)
            d_fake = gan_loss("bce", self.discriminator(fake_rgb.detach()), False)
            d = d_real + d_fake
            self.opt_d.zero_grad(set_to_none=True)
            d.backward()
            self.opt_d.step()
            out.update(d=d, d_real=d_real, d_fake=d_fake)
        return {**{k: float(v.item()) for k, v in out.items()}, "lr": cfg.lr_g * scale}

    def predict(self, L: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 -> ``[B,2,H,W]`` ab/110 (eval mode: running batch-norm statistics); with
        ``working_size`` > 0 predicted at that square and resized back as the reference pipeline does."""
        return predict_at(lambda x: normalize_ab(self.generate_lab(x)), L, self.config.working_size,
                          down="bilinear", antialias=False, up="nearest")

    def pretrained_flags(self) -> dict[str, bool]:
        return {self._encoder_weights: bool(self._encoder_loaded), "vgg16_bn": bool(self._vgg_loaded)}

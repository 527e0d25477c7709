"""Feature-reconstruction GAN: the Górriz model plus a perceptual loss from a frozen network (Tarrés 2020).

Tarrés, "GAN-based Image Colourisation with Feature Reconstruction Loss" (master's thesis, 2020, §4.2 and §5.1): the
generator's loss gains ``1e-5 · MSE(φ(rgb_pred), φ(rgb_true))``, where φ is a frozen network's activation at one
layer and both RGB images are rebuilt from the true L and the predicted / true ab through the differentiable Lab
layer (:func:`colorbench.color.network_to_rgb`, clipped to [0, 1]). No public code exists: the thesis names VGG16
``block3_conv3`` (its best), weight 0.00001 and MSE ("squared and normalised Euclidean distance", Johnson et al.),
and is ambiguous about the base model, so ``base = "gorriz"`` (its §4) is the default and ``base = "pix2pix"`` (its
§5.1.1) an option.

Bases. ``gorriz``: the IBN U-Net, spectral norm, 3 LSGAN discriminators at 3 scales, 100·L1, Adam 2e-4 β1 0.5, built
from :mod:`colorbench.nets.gorriz` exactly as the ``gorriz`` method builds it (same defaults, same step order).
``pix2pix``: the pix2pix U-Net-256 and 70×70 PatchGAN from :mod:`colorbench.nets.unet` / ``patchgan``, N(0, 0.02)
init, BCE GAN loss, 100·L1, Adam 2e-4 β1 0.5, one discriminator step on ``0.5 · (real + fake)``.

Backbones (the thesis' Table 2 rows), all frozen (no gradient updates, always eval mode, not given to the trainer),
fed ImageNet-normalised RGB (torchvision's mean/std on [0, 1]):

* ``vgg16``: torchvision VGG16 up to ``feature_layer`` (default ``block3_conv3`` = ``relu3_3``, after the ReLU as
  in Keras, where the activation belongs to the conv layer), 256 channels at 1/4 resolution;
* ``resnet50``: torchvision ResNet-50 up to ``layer1`` (default; also ``layer2``..``layer4``) — the thesis does not say
  which layer, ``layer1`` matches VGG's 1/4 resolution;
* ``unet`` / ``fpn``: segmentation-models-pytorch ``Unet`` / ``FPN`` on a ResNet-34 encoder, φ = the decoder's
  output. The thesis' networks were pretrained for segmentation on COCO; no such weights ship with smp, so only the
  encoder's ImageNet weights are looked up (``resnet34``) and the decoder is random unless ``pretrained_path`` names
  a whole segmentation model's state dict. Inputs are padded to a multiple of 32 (reflect) for these two.

Weights come from :func:`colorbench.pretrained.load_pretrained` (local files only, ``pretrained`` auto/true/false);
:meth:`pretrained_flags` records what was loaded.

Feature scale (:attr:`Featrec.table_notes` puts it beside every featrec row): the thesis' weight 1e-5 was set on
Keras' VGG16, which sees 'caffe' inputs (``preprocess_input(mode="caffe")``: RGB -> BGR, 0-255, the ImageNet mean
[103.939, 116.779, 123.68] subtracted); torchvision's sees ``(x - mean) / std`` on [0, 1]. Per channel the Keras
input is ``255·std_c`` (58.4, 57.1, 57.4) times ours, plus an offset of at most 0.5 (``255·mean`` against Keras'
means), so ``feature_input_scale`` (default 255·0.226, 0.226 the mean ImageNet std) multiplies the feature MSE by
``(255·0.226)² ≈ 3,321``. **Settled for the preprocessing**, by parity on shared weights: torchvision's VGG16 at
its own initialisation (zero biases), its first conv's input channels flipped for the BGR net, gives a Keras-style
feature MSE at ``block3_conv3`` 3,317.7× ours on the same image pairs, (255·0.226)² to 0.1%
(``tests/test_method_featrec.py``). **Not settled offline: the weight files.** Keras' VGG16 (converted from the
original Caffe model, trained on 0-255 inputs) and torchvision's (trained in PyTorch on normalised inputs) are
different networks whose feature magnitudes at ``block3_conv3`` need not differ by the input scale (a net trained
on 57× smaller inputs may have learned 57× larger first-layer weights); comparing them needs both pretrained files,
which are not on this machine and not in any package registry, so the factor stays an assumption for the
pretrained runs. The ResNet-50 and segmentation backbones get the same factor by analogy. ``feature_input_scale =
1`` gives the plain torchvision-scale loss.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from colorbench.color import network_to_rgb
from colorbench.method import Batch, Method
from colorbench.nets.gorriz import GorrizGANConfig, build_gorriz_gan, gorriz_d_step, gorriz_levels
from colorbench.nets.init import init_normal_
from colorbench.nets.frozen import FrozenFeatures
from colorbench.nets.gan import gan_loss
from colorbench.nets.padding import crop_to, pad_to_multiple
from colorbench.nets.patchgan import PatchGAN
from colorbench.nets.unet import levels_for, pix2pix_unet
from colorbench.pretrained import load_pretrained
from colorbench.registry import register_method

VGG16_LAYERS = {"block1_conv1": 2, "block1_conv2": 4, "block2_conv2": 9, "block3_conv3": 16, "block4_conv3": 23,
                "block5_conv3": 30}
"""Keras layer name -> number of torchvision ``vgg16().features`` modules up to and including its ReLU."""
RESNET_LAYERS = ("layer1", "layer2", "layer3", "layer4")
DEFAULT_LAYER = {"vgg16": "block3_conv3", "resnet50": "layer1", "unet": "decoder", "fpn": "decoder"}
WEIGHTS = {"vgg16": "vgg16", "resnet50": "resnet50", "unet": "resnet34", "fpn": "resnet34"}
SCALE_NOTE = ("feature loss ×(255·0.226)² for Keras caffe-mode VGG16 inputs (0-255 BGR): the preprocessing's "
              "factor (parity on shared weights); the two pretrained weight files are not compared, see the featrec "
              "docstring")
RANDOM_DECODER_NOTE = "ImageNet encoder, random decoder (no COCO segmentation weights on disk)"


@dataclass
class FeatrecConfig(GorrizGANConfig):
    """Defaults: the thesis' final model on the Górriz base (VGG16 block3_conv3, weight 1e-5). The Górriz
    settings are the ``gorriz`` method's own (:class:`colorbench.nets.gorriz.GorrizGANConfig`); with
    ``base="pix2pix"`` only image_size, batch_size, max_levels, width, disc_width, the λs, rates and betas apply."""

    max_levels: int | None = None  # None: the base's paper depth (gorriz 7, pix2pix 8)
    base: Literal["gorriz", "pix2pix"] = "gorriz"
    backbone: Literal["vgg16", "resnet50", "unet", "fpn"] = "vgg16"
    feature_layer: str | None = None  # None: DEFAULT_LAYER[backbone]
    feature_weight: float = 1e-5
    feature_input_scale: float = 255 * 0.226  # emulates Keras' 0-255 'caffe' input range (see the module docstring)
    pretrained: Literal["auto", "true", "false"] = "auto"  # backbone weights, see colorbench.pretrained
    pretrained_path: str | None = None


class _SegDecoder(nn.Module):
    """An smp segmentation model without its head: ``[B,3,H,W] -> decoder output``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.encoder, self.decoder = model.encoder, model.decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def build_feature_net(backbone: str, layer: str | None, pretrained: str,
                      path: str | None) -> tuple[FrozenFeatures, bool]:
    """The frozen φ for ``backbone`` cut at ``layer``, and whether pretrained weights were loaded."""
    layer = layer or DEFAULT_LAYER.get(backbone, "")
    if backbone == "vgg16":
        from torchvision.models.vgg import cfgs, make_layers

        if layer not in VGG16_LAYERS:
            raise ValueError(f"featrec: vgg16 feature_layer must be one of {', '.join(VGG16_LAYERS)}, got {layer!r}")
        features = make_layers(cfgs["D"], batch_norm=False)[: VGG16_LAYERS[layer]]  # no 100M-weight classifier
        return FrozenFeatures(features), load_pretrained(features, "vgg16", pretrained, path)
    if backbone == "resnet50":
        import torchvision

        if layer not in RESNET_LAYERS:
            raise ValueError(f"featrec: resnet50 feature_layer must be one of {', '.join(RESNET_LAYERS)}, "
                             f"got {layer!r}")
        full = torchvision.models.resnet50(weights=None)
        loaded = load_pretrained(full, "resnet50", pretrained, path)
        keep = ["conv1", "bn1", "relu", "maxpool", *RESNET_LAYERS[: RESNET_LAYERS.index(layer) + 1]]
        return FrozenFeatures(nn.Sequential(*(getattr(full, k) for k in keep))), loaded
    if backbone in ("unet", "fpn"):
        import segmentation_models_pytorch as smp

        if layer != "decoder":
            raise ValueError(f"featrec: {backbone} feature_layer must be 'decoder', got {layer!r}")
        arch = smp.Unet if backbone == "unet" else smp.FPN
        model = arch("resnet34", encoder_weights=None, classes=1)  # never smp's network download
        if path is not None:  # a whole trained segmentation model (e.g. COCO), or just an encoder file
            try:
                loaded = load_pretrained(model, "resnet34", pretrained, path)
            except Exception:
                loaded = load_pretrained(model.encoder, "resnet34", pretrained, path)
        else:
            loaded = load_pretrained(model.encoder, "resnet34", pretrained)
        return FrozenFeatures(_SegDecoder(model), multiple=32), loaded
    raise ValueError(f"featrec: backbone must be one of {', '.join(DEFAULT_LAYER)}, got {backbone!r}")


@register_method(
    "featrec",
    description="Górriz GAN (or pix2pix) + 1e-5 x feature-reconstruction MSE from a frozen VGG16/ResNet50/U-Net/FPN",
    source="Tarrés 2020, 'GAN-based Image Colourisation with Feature Reconstruction Loss' (thesis, §4.2, Table 2)",
)
class Featrec(Method):
    """See the module docstring. Variants are the thesis' Table 2 rows plus the pix2pix base."""
    capture_note = "its step reads its losses with .item()"

    Config = FeatrecConfig
    variants = {
        "default": {},  # Górriz + VGG16 block3_conv3
        "resnet50": {"backbone": "resnet50"},
        "unet": {"backbone": "unet"},
        "fpn": {"backbone": "fpn"},
        "pix2pix": {"base": "pix2pix"},  # pix2pix + VGG16 (§5.1.1)
    }
    table_notes = {
        "default": SCALE_NOTE,
        "resnet50": SCALE_NOTE,
        "unet": f"{RANDOM_DECODER_NOTE}; {SCALE_NOTE}",
        "fpn": f"{RANDOM_DECODER_NOTE}; {SCALE_NOTE}",
        "pix2pix": SCALE_NOTE,
    }
    # TEST-ONLY: tiny generator, VGG16 cut after its first conv, random weights (no files needed)
    test_overrides = {"image_size": 32, "width": 8, "max_width": 32, "disc_width": 8,
                      "feature_layer": "block1_conv1", "pretrained": "false"}
    watch_loss = "l1"
    frozen_pretrained = True  # the VGG16 / ResNet50 / segmentation network that measures the feature loss
    backbones = ("vgg16", "resnet50", "resnet34")
    published = {
        ("tarres", "featrec", "vgg16"): ("default", "Tarrés 'VGG16 feature loss' (our default backbone)"),
        ("tarres", "featrec", "resnet50"): ("resnet50", "Tarrés 'ResNet50 feature loss'"),
        ("tarres", "featrec", "unet"): ("unet", "Tarrés 'U-Net (smp) feature loss'"),
        ("tarres", "featrec", "fpn"): ("fpn", "Tarrés 'FPN (smp) feature loss'"),
    }

    def __init__(self, config: FeatrecConfig | None = None, num_classes: int | None = None) -> None:
        super().__init__(config, num_classes)
        c = self.config
        if c.base == "gorriz":
            self.levels = gorriz_levels(c.image_size, c.max_levels or 7)
            self.generator, self.discriminator = build_gorriz_gan(c, self.levels)
        elif c.base == "pix2pix":
            self.levels = levels_for(c.image_size, c.max_levels or 8)
            self.generator = init_normal_(pix2pix_unet(1, 2, levels=self.levels, width=c.width))
            self.discriminator = init_normal_(PatchGAN(3, c.disc_width, 3, norm="batch"))
        else:
            raise ValueError(f"featrec: base must be 'gorriz' or 'pix2pix', got {c.base!r}")
        self.features, self._loaded = build_feature_net(c.backbone, c.feature_layer, c.pretrained, c.pretrained_path)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=c.lr_g, betas=tuple(c.betas))
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=c.lr_d, betas=tuple(c.betas))

    # ------------------------------------------------------------------------------------------- pieces
    def generate(self, L: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 -> ``[B,2,H,W]`` ab/110, padded to ``2**levels`` and cropped back."""
        x, size = pad_to_multiple(L, 2**self.levels)
        return crop_to(self.generator(x), size)

    def feature_loss(self, L: torch.Tensor, ab_pred: torch.Tensor, ab_true: torch.Tensor) -> torch.Tensor:
        """``MSE(φ(rgb(L, ab_pred)), φ(rgb(L, ab_true)))``, gradients to ``ab_pred`` only (float32 result)."""
        with torch.autocast(L.device.type, enabled=False):  # the Lab -> sRGB rebuild stays in float32
            rgb_pred = network_to_rgb(L.float(), ab_pred.float())
            rgb_true = network_to_rgb(L.float(), ab_true.float())
        with torch.no_grad():
            target = self.features(rgb_true)
        return F.mse_loss(self.features(rgb_pred).float(), target.float()) * self.config.feature_input_scale**2

    def _adv(self, pair: torch.Tensor, target: float) -> torch.Tensor:
        return gan_loss(self._kind, self.discriminator(pair), target == 1.0)

    @property
    def _kind(self) -> str:
        return "lsgan" if self.config.base == "gorriz" else "bce"

    # ----------------------------------------------------------------------------------------- contract
    def train_step(self, batch: Batch, step: int) -> dict[str, float]:
        c = self.config
        L, ab = batch["L"], batch["ab"]
        fake = self.generate(L)
        real_pair, fake_pair = torch.cat([L, ab], 1), torch.cat([L, fake.detach()], 1)
        update = c.d_update if c.base == "gorriz" else "joint"  # pix2pix: one step on ½(real + fake)
        d_real, d_fake = gorriz_d_step(self.discriminator, self.opt_d, real_pair, fake_pair, update=update,
                                       kind=self._kind)

        adv = self._adv(torch.cat([L, fake], 1), 1.0)
        l1 = F.l1_loss(fake.float(), ab.float())
        feat = self.feature_loss(L, fake, ab) if c.feature_weight else torch.zeros((), device=L.device)
        loss_g = c.lambda_adv * adv + c.lambda_l1 * l1 + c.feature_weight * feat
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return {"loss_g": loss_g.item(), "l1": l1.item(), "g_adv": adv.item(), "feat": feat.item(),
                "loss_d": 0.5 * (d_real.item() + d_fake.item()), "d_real": d_real.item(), "d_fake": d_fake.item()}

    def predict(self, L: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 -> ``[B,2,H,W]`` ab/110 at the same H×W."""
        return self.generate(L).to(L.dtype)

    def pretrained_flags(self) -> dict[str, bool]:
        return {WEIGHTS[self.config.backbone]: bool(self._loaded)}


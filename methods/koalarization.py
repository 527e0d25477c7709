"""Deep Koalarization: a colour CNN fused with a frozen image classifier's class scores.

Baldassarre, González Morín and Rodés-Guirao 2017, "Deep Koalarization: Image Colorization using CNNs and
Inception-ResNet-v2" (arXiv:1712.03400; reference code baldassarreFe/deep-koalarization); variants from Adlukhi,
Franic and Shirkhanyan, "Coloring is all you need" (Georgia Tech CS 7643 report): Inception-v3 and ConvNeXt-T
extractors, a 256-wide fusion, a cross-entropy model.

Network (``width = 1``; every conv 3×3, ReLU, ``same`` padding)::

    L [B,1,H,W] ─ encoder 64/2, 128, 128/2, 256, 256/2, 512, 512, 256 ─► [B,256,H/8,W/8] ─┐
    rgb [B,3,H,W] ─► resize to the extractor's side, BT.601 luma, 3 channels, normalised     │ fusion: tile
      ─► frozen extractor ─► logits [B,1000] (pre-softmax) ─► optional fixed subset [B,F] ───┘ the vector, concat
    ─► 1×1 conv 256 + ReLU ─► decoder 128, up×2, 64, 64, up×2, 32, out, up×2 ─► [B,2,H,W]

``out`` is 2 channels with tanh (``loss="mse"``, ab/110 regression), or one logit per ab bin (``loss="binned_ce"``:
Zhang et al.'s classification from :mod:`colorbench.ab_bins`, the one shared with ``cic``: their 313 bins, soft
encoding over 5 bins with σ = 5, the rebalanced cross-entropy with λ = 0.5 on the training set's prior, the annealed
mean with T = 0.38). Upsampling is nearest-neighbour (Keras ``UpSampling2D``). Inputs are padded to a
multiple of 8 and the prediction cropped back, so any H×W works.

What the extractor sees, one function in training and inference (:func:`grey_for_extractor`): an sRGB image resized
to the extractor's side (299² for the Inceptions, 224² for ConvNeXt), then its BT.601 luma (TensorFlow's
``rgb_to_grayscale`` weights 0.2989, 0.5870, 0.1140, as the reference's ``lab_batch.py`` applies to its 299² image),
repeated to 3 channels and normalised as the extractor was trained (Inception: [-1, 1], the reference's
``2x/255 - 1``; ConvNeXt: ImageNet mean/std). In training the image is the batch's RGB (``extractor_grey = "rgb"``,
the reference); ``colorize`` is given only L, so there it is the neutral sRGB image of the same lightness
(``Lab(L, 0, 0)``), whose BT.601 luma is that grey itself; ``extractor_grey = "L"`` trains on that neutral image
too, so training and inference see exactly the same input. Two differences from the reference remain: its 299²
image is the photo resized (padded) to 299² with the colour net's 224² input resized from it, ours is the
training crop resized up to the extractor's side; and it rounds the luma to 8 bits, we do not.
The fusion vector is the extractor's logits: 1000 wide in timm (the original's TF-slim net had 1001, a background
class). The extractor never trains: no gradients, always in eval mode, excluded from :meth:`networks`.

Learning rate: Adam 1e-3; the CS 7643 report halves it every 2 epochs (``lr_decay = 0.5``, ``lr_decay_epochs =
2``). A method sees steps, not epochs, so the schedule needs ``steps_per_epoch`` (training images // batch size, the
trainer's count); its default 0 keeps the rate constant, as Baldassarre et al.'s code does.

The ``zhang_bins`` variant is **our stand-in** for the report's Model 4: the report trained "with the loss
introduced" by Hwang and Zhou (2016), a cross-entropy on the continuous a*b* values *without* bins (its §3: "we
could follow the procedure used in [7] to discretize the continuous distributions into bins" — they did not). That
loss is not specified well enough to rebuild, so the variant is Zhang et al. (2016)'s classification (bins, soft
encoding, rebalancing, annealed mean; :mod:`colorbench.ab_bins`) on Koalarization's network: not the report's model.
It differs from ``cic`` only in what the two papers do differently: the network (fused, full resolution), the
optimiser and the schedule.

Pretrained extractor weights come through :func:`colorbench.pretrained.load_pretrained` (local files only);
:meth:`pretrained_flags` says whether they were found. ``extractor = "tiny_random"`` is a **test-only** stand-in
(two small convs and a linear layer, random weights, 32² input) so the conformance suite runs in seconds; it
produces no meaningful class scores and must not appear in a benchmark.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from colorbench import ab_bins
from colorbench.color import AB_SCALE, neutral_rgb
from colorbench.method import Batch, Method
from colorbench.nets.frozen import FrozenFeatures, resize_square
from colorbench.nets.padding import crop_to, pad_to_multiple
from colorbench.registry import register_method

GREY_WEIGHTS = (0.2989, 0.5870, 0.1140)
"""TensorFlow ``rgb_to_grayscale``: ITU-R BT.601 luma weights on the (gamma-encoded) sRGB values (the reference's)."""
TIMM_EXTRACTORS = ("inception_resnet_v2", "inception_v3", "convnext_tiny")
STRIDE = 8  # three stride-2 convs in the encoder, three ×2 upsamplings in the decoder


@dataclass
class KoalarizationConfig:
    """Paper defaults (Baldassarre et al. 2017; colour net trained at 224², Adam 1e-3, MSE)."""

    extractor: Literal["inception_resnet_v2", "inception_v3", "convnext_tiny", "tiny_random"] = "inception_resnet_v2"
    extractor_size: int | None = None  # input side of the extractor; None: its own (299 / 224; tiny_random 32)
    extractor_grey: Literal["rgb", "L"] = "rgb"  # training: luma of the batch's RGB (the reference) or of Lab(L,0,0)
    pretrained: Literal["auto", "true", "false"] = "auto"  # extractor weights, see colorbench.pretrained
    pretrained_path: str | None = None  # explicit weights file for the extractor
    fusion_width: int = 1000  # logits fused: all 1000, or a fixed seeded random subset (e.g. 256)
    fusion_seed: int = 0  # seed of that subset
    width: float = 1.0  # multiplies every channel count of the colour net (tests use 1/8)
    loss: Literal["mse", "binned_ce"] = "mse"
    annealed_t: float = ab_bins.T_ANNEALED  # "binned_ce": temperature of the annealed-mean decode
    rebalance_lambda: float = ab_bins.LAMBDA  # "binned_ce": class rebalancing (1 = plain cross-entropy)
    prior: str | None = None  # "binned_ce": the training set's prior (.npy), set by data_config
    prior_sha: str | None = None  # its content hash
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    lr_decay: float = 0.5  # the CS 7643 report: multiply the rate by this ...
    lr_decay_epochs: float = 2.0  # ... every this many epochs
    steps_per_epoch: int = 0  # training steps per epoch (train images // batch size); 0 = constant rate (Baldassarre)
    image_size: int = 224  # training crop of the colour net in the paper configuration
    batch_size: int = 100  # the original code's default (the CS 7643 report used 64)


class TinyExtractor(nn.Module):
    """TEST-ONLY stand-in for a classifier: ``[B,3,32,32]`` -> ``[B,num_logits]`` logits from random weights."""

    def __init__(self, num_logits: int = 1000) -> None:
        super().__init__()
        self.num_classes = num_logits
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Linear(16, num_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build_extractor(name: str, size: int | None, pretrained: str, path: str | None) -> tuple[FrozenFeatures, bool]:
    """The frozen extractor ``name`` and whether pretrained weights were loaded (never touches the network)."""
    if name == "tiny_random":
        return FrozenFeatures(TinyExtractor(), (0.5,) * 3, (0.5,) * 3, size=size or 32), False
    if name not in TIMM_EXTRACTORS:
        raise ValueError(f"koalarization: unknown extractor {name!r}; use one of {TIMM_EXTRACTORS + ('tiny_random',)}")
    import timm

    from colorbench.pretrained import load_pretrained

    net = timm.create_model(name, pretrained=False)
    loaded = load_pretrained(net, name, pretrained, path)
    cfg = net.pretrained_cfg
    return FrozenFeatures(net, cfg["mean"], cfg["std"], size=size or cfg["input_size"][-1]), bool(loaded)


def _conv(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.ReLU(inplace=True)]


class ColorNet(nn.Module):
    """Encoder, fusion and decoder: (``[B,1,H,W]`` L/50-1 with H, W multiples of 8, ``[B,F]`` vector) ->
    ``[B,out,H,W]`` (ab/110 after tanh when ``out == 2`` and ``tanh``; bin logits otherwise)."""

    def __init__(self, fusion_width: int, out_channels: int, tanh: bool, width: float = 1.0) -> None:
        super().__init__()

        def c(n: int) -> int:
            return max(1, round(n * width))

        enc = [(c(64), 2), (c(128), 1), (c(128), 2), (c(256), 1), (c(256), 2), (c(512), 1), (c(512), 1), (c(256), 1)]
        layers, cin = [], 1
        for cout, stride in enc:
            layers += _conv(cin, cout, stride)
            cin = cout
        self.encoder = nn.Sequential(*layers)
        self.fusion = nn.Sequential(nn.Conv2d(cin + fusion_width, c(256), 1), nn.ReLU(inplace=True))
        up = lambda: nn.Upsample(scale_factor=2, mode="nearest")  # noqa: E731
        self.decoder = nn.Sequential(
            *_conv(c(256), c(128)), up(),
            *_conv(c(128), c(64)), *_conv(c(64), c(64)), up(),
            *_conv(c(64), c(32)),
            nn.Conv2d(c(32), out_channels, 3, padding=1), nn.Tanh() if tanh else nn.Identity(), up(),
        )

    def forward(self, L: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
        enc = self.encoder(L)
        tiled = vector[:, :, None, None].expand(-1, -1, enc.shape[-2], enc.shape[-1]).to(enc.dtype)
        return self.decoder(self.fusion(torch.cat((enc, tiled), dim=1)))




def luma_bt601(rgb: torch.Tensor) -> torch.Tensor:
    """``[B,3,H,W]`` sRGB in [0,1] -> ``[B,1,H,W]`` BT.601 luma in [0,1] (TensorFlow ``rgb_to_grayscale``)."""
    w = torch.tensor(GREY_WEIGHTS, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb * w).sum(dim=1, keepdim=True)


def grey_for_extractor(rgb: torch.Tensor, size: int) -> torch.Tensor:
    """What the extractor sees, in training and inference alike: ``[B,3,H,W]`` sRGB in [0,1] -> ``[B,1,size,size]``
    grey in [0,1], the BT.601 luma of the image resized to ``size``² (the reference's 299² image)."""
    return luma_bt601(resize_square(rgb, int(size)))


# ----------------------------------------------------------------------------------------------- method
@register_method(
    "koalarization",
    description="Deep Koalarization: colour CNN fused with a frozen classifier's logits (MSE or binned CE)",
    source="Baldassarre et al. 2017, arXiv:1712.03400; variants: Adlukhi et al., 'Coloring is all you need' "
    "(CS 7643 report)",
)
class Koalarization(Method):
    """See the module docstring. Variants follow the CS 7643 report: its fusion-256 and cross-entropy models
    used Inception-v3 as the extractor, so those variants do too (compare them with ``inception_v3``)."""
    capture_note = ("its step reads its losses with .item() and copies the grey weights from the host (torch.tensor) "
                    "inside the step")

    Config = KoalarizationConfig
    variants = {
        "default": {},
        "inception_v3": {"extractor": "inception_v3"},
        "convnext_tiny": {"extractor": "convnext_tiny"},
        "fusion256": {"extractor": "inception_v3", "fusion_width": 256},
        "zhang_bins": {"extractor": "inception_v3", "loss": "binned_ce"},  # our stand-in for the report's Model 4
    }
    frozen_pretrained = True  # the classifier whose class scores are fused
    backbones = ("inception_resnet_v2", "inception_v3", "convnext_tiny")
    test_overrides = {"extractor": "tiny_random", "pretrained": "false", "width": 0.125, "image_size": 32,
                      "batch_size": 4}
    watch_loss = "mse"

    def __init__(self, config: KoalarizationConfig | None = None, num_classes: int | None = None) -> None:
        super().__init__(config, num_classes)
        cfg = self.config
        self.extractor, self._loaded = build_extractor(cfg.extractor, cfg.extractor_size, cfg.pretrained,
                                                       cfg.pretrained_path)
        num_logits = self._num_logits()
        if not 1 <= cfg.fusion_width <= num_logits:
            raise ValueError(f"koalarization: fusion_width={cfg.fusion_width} must be between 1 and the "
                             f"extractor's {num_logits} logits (1000 = all of them, 256 = the report's subset)")
        gen = torch.Generator().manual_seed(cfg.fusion_seed)
        self.register_buffer("fusion_index", torch.randperm(num_logits, generator=gen)[: cfg.fusion_width].sort()[0])
        if cfg.loss == "binned_ce":
            centres = ab_bins.bin_centres()
            self.register_buffer("bin_centres", centres)  # [Q,2] Lab units
            weights = ab_bins.class_weights(cfg.prior, cfg.prior_sha, cfg.rebalance_lambda)
            self._prior_missing = weights is None  # a checkpoint's buffer replaces it; training from step 0 refuses
            self.register_buffer("class_weights", weights if weights is not None else torch.ones(len(centres)))
            out, tanh = centres.shape[0], False
        elif cfg.loss == "mse":
            out, tanh = 2, True
        else:
            raise ValueError(f"koalarization: loss must be 'mse' or 'binned_ce', got {cfg.loss!r}")
        self.colornet = ColorNet(cfg.fusion_width, out, tanh, cfg.width)
        self.opt = torch.optim.Adam(self.colornet.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))

    def _num_logits(self) -> int:
        return int(self.extractor.net.num_classes)  # timm's, or the test stand-in's

    # ------------------------------------------------------------------------------------ contract
    def pretrained_flags(self) -> dict[str, bool]:
        return {self.config.extractor: self._loaded}

    def fusion_vector(self, grey: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` grey in [0,1] -> ``[B,fusion_width]`` extractor logits (no gradient)."""
        with torch.no_grad():
            return self.extractor(grey)[:, self.fusion_index]

    @classmethod
    def data_config(cls, config: Any, dataset: str, *, size: int,
                    data_options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``loss="binned_ce"``: the training set's cached ab prior (file and hash) for the class rebalancing."""
        if config.loss != "binned_ce" or config.prior or config.rebalance_lambda >= 1.0:
            return {}
        return ab_bins.prior_config(dataset, size, data_options)

    def _predict(self, L: torch.Tensor, grey: torch.Tensor) -> torch.Tensor:
        x, size = pad_to_multiple(L, STRIDE)
        return crop_to(self.colornet(x, self.fusion_vector(grey)), size)

    def _decode(self, out: torch.Tensor) -> torch.Tensor:
        if self.config.loss == "binned_ce":
            return ab_bins.decode(out, self.bin_centres, "annealed", self.config.annealed_t) / AB_SCALE
        return out

    def learning_rate(self, step: int) -> float:
        """``lr · lr_decay ** floor(step / (lr_decay_epochs · steps_per_epoch))``; constant when
        ``steps_per_epoch`` is 0."""
        cfg = self.config
        every = cfg.lr_decay_epochs * cfg.steps_per_epoch
        if every <= 0:
            return cfg.lr
        return cfg.lr * cfg.lr_decay ** math.floor(step / every)

    def extractor_grey(self, L: torch.Tensor, rgb: torch.Tensor | None = None) -> torch.Tensor:
        """The extractor's input for a batch: ``[B,1,S,S]`` grey (S the extractor's side) from ``rgb``
        ``[B,3,H,W]`` when given, else from the neutral image of ``L`` ``[B,1,H,W]``."""
        return grey_for_extractor(rgb if rgb is not None else neutral_rgb(L), self.extractor.size)

    def train_step(self, batch: Batch, step: int) -> dict[str, float]:
        L, ab = batch["L"], batch["ab"]
        rgb = batch.get("rgb") if self.config.extractor_grey == "rgb" else None
        out = self._predict(L, self.extractor_grey(L, rgb))
        lr = self.learning_rate(step)
        for group in self.opt.param_groups:
            group["lr"] = lr
        logs = {}
        if self.config.loss == "binned_ce":
            if step == 0 and self._prior_missing:
                ab_bins.load_prior(self.config.prior)  # raises: the prior the config names is gone
            index, weight = ab_bins.soft_encode(ab.float() * AB_SCALE, self.bin_centres)
            loss = ab_bins.rebalanced_cross_entropy(out, index, weight, self.class_weights)
            with torch.no_grad():
                logs["mse"] = F.mse_loss(self._decode(out), ab.float()).item()
            logs["ce"] = loss.item()
        else:
            loss = F.mse_loss(out.float(), ab.float())
            logs["mse"] = loss.item()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.item(), **logs, "lr": lr}

    def predict(self, L: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 -> ``[B,2,H,W]`` ab/110; the extractor sees the luma of the neutral image of L."""
        return self._decode(self._predict(L, self.extractor_grey(L))).to(L.dtype)

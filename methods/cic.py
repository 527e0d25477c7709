"""cic: colourisation as classification over quantised ab (Zhang, Isola and Efros 2016, "Colorful Image
Colorization", ECCV; reference code richzhang/colorization: the Caffe ``colorization_train_val_v2.prototxt`` and its
PyTorch port ``colorizers/eccv16.py``).

Network (§2 and Fig. 2; ``width = 64``; every conv 3×3 with bias and ReLU, each block ends with batch norm)::

    L [B,1,H,W] ─ conv1 64,64/2 ─ conv2 128,128/2 ─ conv3 256,256,256/2 ─ conv4 512×3
      ─ conv5 512×3 dilation 2 ─ conv6 512×3 dilation 2 ─ conv7 512×3
      ─ conv8: 4×4 transposed conv 256/×2, 256, 256 ─ 1×1 conv 313 ─► logits [B,313,H/4,W/4]

(widths ``width·(1, 2, 4, 8, 8, 8, 8, 4)``; the eight blocks as the reference's ``model1`` ... ``model8``, whose
last block has no batch norm). Inputs are padded to a multiple of 8 and the prediction cropped back, so any H×W
works. The logits are decoded (:func:`colorbench.ab_bins.decode`: the annealed mean with T = 0.38 by default, or
the plain ``mean`` / ``mode``) to ab at a quarter of the input, then upsampled ×4 bilinearly (the reference's
``upsample4``).

Loss (§2.1-2.2, :mod:`colorbench.ab_bins`): the true ab subsampled to the output grid (every 4th pixel, the Caffe
net's ``data_ab_ss``: a stride-4 1×1 subsampling), soft-encoded over its 5 nearest of the 313 bins (σ = 5), and the
multinomial cross-entropy against it weighted per pixel by the class-rebalancing weight of the nearest bin,
``∝ ((1-λ)·p̃ + λ/Q)⁻¹`` with λ = 0.5, from the training set's smoothed prior p̃ (computed once per dataset and
cached by :func:`colorbench.ab_bins.prior_config`, which :meth:`Cic.data_config` hands to the grid and the trainer:
its hash is in the config and so in every cell key). ``rebalance_lambda = 1`` is plain cross-entropy (the
paper's "classification" ablation without rebalancing); without a ``prior`` (a method built by hand) the weights
are 1.

Optimiser (§3 "Training"): Adam, β = (0.9, 0.99), weight decay 1e-3 (Caffe's L2 term, added to the gradient), an
initial rate of 3e-5 dropped to 1e-5 and 3e-6 at 200k and 375k iterations of batch 40 (450k in all), on 256²
crops. Not reproduced: the k-means initialisation of the reference (ours is PyTorch's default), and its training
on the full ImageNet training set (the paper profile uses the ImageNet subset).

Variant ``code``: the released training code where it differs from the paper (the Caffe
``colorization_train_val_v2.prototxt`` and ``caffe_traininglayers.py`` of richzhang/colorization): the soft encoding
over the **10** nearest bins (its ``NNEncLayer``: ``NN = 10``; the paper says 5), the loss **masked on grey images**
(its ``NonGrayMaskLayer``: an image counts only when some |a| or |b| of its subsampled ab exceeds 5 Lab units; the
mask scales the rebalancing weights of all its pixels), **176 px** training crops (its data layer's ``crop_size``),
and L fed as **L − 50** (its ``data_l`` minus 50, not scaled: ``l_norm = 1``). The paper
profile runs the paper's settings (the paper's figures are not in our published table), the code as the variant. The
soft encoding (k = 5 and 10) and the rebalancing weights equal the Caffe-era ``NNEncode`` and ``PriorFactor`` on a
positive prior (``tests/test_ab_bins.py``; a prior with empty bins would differ: ``PriorFactor`` mixes in a uniform
over the non-empty bins only, ours over all 313).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from colorbench import ab_bins
from colorbench.color import AB_SCALE
from colorbench.method import Batch, Method
from colorbench.nets.padding import crop_to, pad_to_multiple
from colorbench.nets.resample import predict_at
from colorbench.pretrained import ZooEntry
from colorbench.registry import register_method

STRIDE = 8  # three stride-2 convs; the output is at a quarter after conv8's ×2
OUT_STRIDE = 4


@dataclass
class CicConfig:
    """Paper defaults (Zhang et al. 2016, §2 and §3)."""

    width: int = 64  # conv1's channels; the blocks are width·(1, 2, 4, 8, 8, 8, 8, 4)
    rebalance_lambda: float = ab_bins.LAMBDA  # λ of the class rebalancing; 1 = plain cross-entropy
    decode: Literal["annealed", "mean", "mode"] = "annealed"
    annealed_t: float = ab_bins.T_ANNEALED
    prior: str | None = None  # the training set's prior (.npy); set by data_config (runs/priors/...)
    prior_sha: str | None = None  # its content hash, checked on load (part of every cell key)
    lr: float = 3e-5
    lr_drops: tuple[int, ...] = (200_000, 375_000)  # steps at which the rate drops ...
    lr_values: tuple[float, ...] = (1e-5, 3e-6)  # ... to these
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 1e-3
    image_size: int = 256  # training crop (the released code: 176)
    batch_size: int = 40
    l_norm: float = 50.0  # the network sees (L - 50) / l_norm (the released code's training: 1, i.e. L - 50; the
    # released PyTorch models: 100)
    working_size: int = 0  # > 0: predict on L resized to this square and upsample ab back (the released models: 256)
    neighbours: int = ab_bins.NEIGHBOURS  # bins of the soft encoding (the paper: 5; the released code: 10)
    grey_mask: bool = False  # the code's NonGrayMaskLayer: no loss on images with every |a|, |b| <= 5


def _block(cin: int, cout: int, n: int, *, stride_last: bool = False, dilation: int = 1,
           norm: bool = True) -> nn.Sequential:
    """``n`` 3×3 convs + ReLU (the last one stride 2 when ``stride_last``), then batch norm."""
    layers: list[nn.Module] = []
    for i in range(n):
        stride = 2 if stride_last and i == n - 1 else 1
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, stride=stride, padding=dilation, dilation=dilation),
                   nn.ReLU(inplace=True)]
    if norm:
        layers.append(nn.BatchNorm2d(cout))
    return nn.Sequential(*layers)


class CicNet(nn.Module):
    """``[B,1,H,W]`` L/50-1 (H, W multiples of 8) -> ``[B,Q,H/4,W/4]`` bin logits."""

    def __init__(self, width: int = 64, bins: int = 313) -> None:
        super().__init__()
        w = [width * k for k in (1, 2, 4, 8, 8, 8, 8, 4)]
        self.blocks = nn.Sequential(
            _block(1, w[0], 2, stride_last=True),
            _block(w[0], w[1], 2, stride_last=True),
            _block(w[1], w[2], 3, stride_last=True),
            _block(w[2], w[3], 3),
            _block(w[3], w[4], 3, dilation=2),
            _block(w[4], w[5], 3, dilation=2),
            _block(w[5], w[6], 3),
            nn.Sequential(nn.ConvTranspose2d(w[6], w[7], 4, stride=2, padding=1), nn.ReLU(inplace=True),
                          *_block(w[7], w[7], 2, norm=False)),
        )
        self.head = nn.Conv2d(w[7], bins, 1)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(L))


def _same_bins(weight: torch.Tensor | None) -> str | None:
    """Why a released eccv16 ``model_out.weight`` (``[2,313,1,1]``, the bin centres / 110 that the reference's
    softmax-then-1×1-conv decode uses) is not our bins in our order (which our mean decode assumes), or None."""
    if weight is None or tuple(weight.shape) != (2, 313, 1, 1):
        return f"model_out.weight is {None if weight is None else tuple(weight.shape)}, not the [2,313,1,1] decode"
    theirs = weight.reshape(2, 313).T.float() * AB_SCALE
    gap = (theirs - ab_bins.bin_centres()).abs().max().item()
    return None if gap < 1e-2 else f"its decode layer's bin centres differ from ours by up to {gap:.3g} ab"


@register_method(
    "cic",
    description="Colorful Image Colorization: 313-bin ab classification, rebalanced CE, annealed-mean decode",
    source="R. Zhang, P. Isola, A. A. Efros, \"Colorful Image Colorization\", ECCV 2016 (arXiv:1603.08511); "
           "reference code richzhang/colorization",
)
class Cic(Method):
    """See the module docstring."""
    capture_note = ("its step reads its losses with .item() and checks on the host, at step 0, that its colour prior "
                    "exists")

    Config = CicConfig
    variants = {
        "default": {},
        "no_rebalance": {"rebalance_lambda": 1.0},  # the paper's "Ours (L)": classification without rebalancing
        "decode_mean": {"decode": "mean"},
        "decode_mode": {"decode": "mode"},
        "code": {"neighbours": 10, "grey_mask": True, "image_size": 176, "l_norm": 1.0},
    }
    test_overrides = {"width": 4, "image_size": 16, "lr": 1e-3}
    watch_loss = "ce"
    zoo = {
        # The released PyTorch port of the paper's Caffe model (richzhang/colorization, colorizers/eccv16.py): the
        # eight blocks model1..model8 are ours blocks.0..7 layer for layer, model8's last 1×1 conv is our head;
        # its model_out (a fixed 313->2 conv holding the bin centres / 110 after a softmax) is our mean decode.
        "eccv16": ZooEntry(
            method="cic", entry="eccv16",
            description="Zhang et al. ECCV 2016, released PyTorch weights (no class rebalancing at decode: mean)",
            url="https://colorizers.s3.us-east-2.amazonaws.com/colorization_release_v2-9b330a0b.pth",
            file="colorization_release_v2-9b330a0b.pth",  # torch hub name: sha256 starts 9b330a0b
            licence="BSD-2-Clause (richzhang/colorization)",
            source="richzhang/colorization, colorizers/eccv16.py (model_urls in eccv16())",
            config=(("decode", "mean"), ("l_norm", 100.0), ("working_size", 256)),
            keymap=(("model8.6.", "head."),
                    *((f"model{i}.", f"blocks.{i - 1}.") for i in range(1, 9))),
            ignore=("model_out.",),
            check=lambda sd: _same_bins(sd.get("model_out.weight")),
        ),
    }

    def __init__(self, config: CicConfig | None = None, num_classes: int | None = None) -> None:
        super().__init__(config, num_classes)
        cfg = self.config
        if not 0.0 <= cfg.rebalance_lambda <= 1.0:
            raise ValueError(f"cic: rebalance_lambda must be in [0, 1] (0.5 the paper's, 1 = plain cross-entropy), "
                             f"got {cfg.rebalance_lambda}")
        if len(cfg.lr_drops) != len(cfg.lr_values):
            raise ValueError(f"cic: lr_drops {cfg.lr_drops} and lr_values {cfg.lr_values} must have one rate per drop")
        centres = ab_bins.bin_centres()
        self.register_buffer("bin_centres", centres)  # [Q,2] Lab units
        weights = ab_bins.class_weights(cfg.prior, cfg.prior_sha, cfg.rebalance_lambda)
        self._prior_missing = weights is None  # a checkpoint's buffer replaces it; training from step 0 refuses
        self.register_buffer("class_weights", weights if weights is not None else torch.ones(len(centres)))
        self.net = CicNet(cfg.width, centres.shape[0])
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, betas=tuple(cfg.betas),
                                    weight_decay=cfg.weight_decay)

    @classmethod
    def data_config(cls, config: Any, dataset: str, *, size: int,
                    data_options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The training set's cached prior (file and hash), unless rebalancing is off or a prior is given."""
        if config.prior or config.rebalance_lambda >= 1.0:
            return {}
        return ab_bins.prior_config(dataset, size, data_options)

    def learning_rate(self, step: int) -> float:
        """The paper's step-downs: ``lr`` until ``lr_drops[0]``, then ``lr_values[i]`` from ``lr_drops[i]``."""
        rate = self.config.lr
        for drop, value in zip(self.config.lr_drops, self.config.lr_values):
            if step >= drop:
                rate = value
        return rate

    def logits(self, L: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 -> ``[B,Q,⌈H/8⌉·2,⌈W/8⌉·2]`` bin logits (L padded to a multiple of 8)."""
        if self.config.l_norm != 50.0:
            L = L * (50.0 / self.config.l_norm)
        return self.net(pad_to_multiple(L, STRIDE)[0])

    def train_step(self, batch: Batch, step: int) -> dict[str, float]:
        if step == 0 and self._prior_missing:
            ab_bins.load_prior(self.config.prior)  # raises: the prior the config names is gone
        L, ab = batch["L"], batch["ab"]
        out = self.logits(L)
        ab_pad = pad_to_multiple(ab, STRIDE)[0]
        target = ab_pad[..., ::OUT_STRIDE, ::OUT_STRIDE].float() * AB_SCALE  # [B,2,H/4,W/4] Lab units
        index, weight = ab_bins.soft_encode(target, self.bin_centres, self.config.neighbours)
        mask = ab_bins.non_grey_mask(target) if self.config.grey_mask else None
        loss = ab_bins.rebalanced_cross_entropy(out, index, weight, self.class_weights, mask)
        lr = self.learning_rate(step)
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            plain = ab_bins.rebalanced_cross_entropy(out, index, weight).item()
        return {"ce": loss.item(), "ce_plain": plain, "lr": lr}

    def predict(self, L: torch.Tensor, decode: str | None = None) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 -> ``[B,2,H,W]`` ab/110: decoded at a quarter, upsampled ×4 bilinearly, cropped
        (``colorize``, which wraps this, owns no_grad and eval mode)."""
        cfg = self.config

        def at_input_size(x: torch.Tensor) -> torch.Tensor:
            ab_q = ab_bins.decode(self.logits(x), self.bin_centres, decode or cfg.decode, cfg.annealed_t)
            ab = F.interpolate(ab_q, scale_factor=OUT_STRIDE, mode="bilinear", align_corners=False)
            return (crop_to(ab, tuple(x.shape[-2:])) / AB_SCALE).to(x.dtype)

        return predict_at(at_input_size, L, cfg.working_size)

"""ideepcolor: Zhang et al.'s user-guided colourisation network, used here without user hints (R. Zhang, J.-Y. Zhu,
P. Isola, X. Geng, A. S. Lin, T. Yu and A. A. Efros 2017, "Real-Time User-Guided Image Colorization with Learned
Deep Priors", SIGGRAPH; reference code richzhang/colorization ``colorizers/siggraph17.py``, the released PyTorch
port of the paper's Caffe model).

Network (Fig. 3; ``width = 64``; every conv 3×3 with bias, ReLU, each block ends with batch norm)::

    [L, ab hints = 0, mask = 0] [B,4,H,W] ─ model1 64,64 ─ ↓2 ─ model2 128,128 ─ ↓2 ─ model3 256×3 ─ ↓2
      ─ model4 512×3 ─ model5 512×3 dilation 2 ─ model6 512×3 dilation 2 ─ model7 512×3
      ─ model8up (4×4 transposed conv ×2) + model3short8(conv3) ─ model8 256×2
      ─ model9up + model2short9(conv2) ─ model9 128 ─ model10up + model1short10(conv1) ─ model10 128, LeakyReLU 0.2
      ─ model_out 1×1 conv 2, tanh ─► ab/110 [B,2,H,W]

(widths ``width·(1, 2, 4, 8, 8, 8, 8, 4, 2, 2)``; the ↓2 are a stride-2 subsampling, ``x[..., ::2, ::2]``). Without
hints the ab and mask planes are zero, as the reference's ``forward(input_A)`` makes them. The classification head
(``model_class``, 529 bins) only feeds the paper's training loss and is not built. Inputs are padded to a multiple
of 8 and the prediction cropped back; the network sees ``(L - 50) / 100``.

Training here (not the paper's recipe, which also samples user hints and adds the classification loss): the
regression loss alone, a smooth-ℓ1 (Huber, δ = 1 in Lab units) between the predicted and the true ab, as the
paper's §3.3 regression term, with Adam. The method is in colorbench for its released weights (``zoo``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from colorbench.color import AB_SCALE
from colorbench.method import Batch, Method
from colorbench.nets.padding import crop_to, pad_to_multiple
from colorbench.nets.resample import predict_at
from colorbench.pretrained import ZooEntry
from colorbench.registry import register_method

STRIDE = 8


@dataclass
class IdeepcolorConfig:
    """The released network's shape; the training settings are ours (see the module docstring)."""

    width: int = 64  # model1's channels
    l_norm: float = 100.0  # the network sees (L - 50) / l_norm (the released model: 100)
    working_size: int = 0  # > 0: predict on L resized to this square and upsample ab back (the released use: 256)
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.99)
    image_size: int = 176
    batch_size: int = 25


def _convs(channels: list[int], *, dilation: int = 1, relu_first: bool = False, norm: bool = True) -> nn.Sequential:
    """3×3 convs through ``channels`` each followed by ReLU (or preceded, ``relu_first``), then batch norm: the
    reference's layer order, so a released state dict's indices match."""
    layers: list[nn.Module] = [nn.ReLU(inplace=True)] if relu_first else []
    for cin, cout in zip(channels, channels[1:]):
        layers += [nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation), nn.ReLU(inplace=True)]
    if norm:
        layers.append(nn.BatchNorm2d(channels[-1]))
    return nn.Sequential(*layers)


class SiggraphNet(nn.Module):
    """``[B,4,H,W]`` (L normalised, ab/110 hints, mask; H, W multiples of 8) -> ``[B,2,H,W]`` ab/110 in (-1, 1)."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        w1, w2, w4, w8 = width, 2 * width, 4 * width, 8 * width
        self.model1 = _convs([4, w1, w1])
        self.model2 = _convs([w1, w2, w2])
        self.model3 = _convs([w2, w4, w4, w4])
        self.model4 = _convs([w4, w8, w8, w8])
        self.model5 = _convs([w8, w8, w8, w8], dilation=2)
        self.model6 = _convs([w8, w8, w8, w8], dilation=2)
        self.model7 = _convs([w8, w8, w8, w8])
        self.model8up = nn.Sequential(nn.ConvTranspose2d(w8, w4, 4, stride=2, padding=1))
        self.model3short8 = nn.Sequential(nn.Conv2d(w4, w4, 3, padding=1))
        self.model8 = _convs([w4, w4, w4], relu_first=True)
        self.model9up = nn.Sequential(nn.ConvTranspose2d(w4, w2, 4, stride=2, padding=1))
        self.model2short9 = nn.Sequential(nn.Conv2d(w2, w2, 3, padding=1))
        self.model9 = _convs([w2, w2], relu_first=True)
        self.model10up = nn.Sequential(nn.ConvTranspose2d(w2, w2, 4, stride=2, padding=1))
        self.model1short10 = nn.Sequential(nn.Conv2d(w1, w2, 3, padding=1))
        self.model10 = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(w2, w2, 3, padding=1), nn.LeakyReLU(0.2))
        self.model_out = nn.Sequential(nn.Conv2d(w2, 2, 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1 = self.model1(x)
        c2 = self.model2(c1[..., ::2, ::2])
        c3 = self.model3(c2[..., ::2, ::2])
        c7 = self.model7(self.model6(self.model5(self.model4(c3[..., ::2, ::2]))))
        c8 = self.model8(self.model8up(c7) + self.model3short8(c3))
        c9 = self.model9(self.model9up(c8) + self.model2short9(c2))
        c10 = self.model10(self.model10up(c9) + self.model1short10(c1))
        return self.model_out(c10)


@register_method(
    "ideepcolor",
    description="User-guided colourisation network (SIGGRAPH 2017) without hints: U-Net-like, ab regression",
    source="R. Zhang, J.-Y. Zhu, P. Isola, X. Geng, A. S. Lin, T. Yu, A. A. Efros, \"Real-Time User-Guided Image "
           "Colorization with Learned Deep Priors\", SIGGRAPH 2017 (arXiv:1705.02999); reference code "
           "richzhang/colorization colorizers/siggraph17.py",
)
class Ideepcolor(Method):
    """See the module docstring."""

    Config = IdeepcolorConfig
    variants = {"default": {}}
    test_overrides = {"width": 4, "image_size": 16, "lr": 1e-3}
    watch_loss = "huber"
    capture_note = "its step reads its loss with .item()"
    zoo = {
        "siggraph17": ZooEntry(
            method="ideepcolor", entry="siggraph17",
            description="Zhang et al. SIGGRAPH 2017, released PyTorch weights, used without user hints",
            url="https://colorizers.s3.us-east-2.amazonaws.com/siggraph17-df00044c.pth",
            file="siggraph17-df00044c.pth",  # torch hub name: sha256 starts df00044c
            licence="BSD-2-Clause (richzhang/colorization)",
            source="richzhang/colorization, colorizers/siggraph17.py (model_urls in siggraph17())",
            config=(("working_size", 256),),
            keymap=(("", ""),),  # the same module names as the reference
            ignore=("model_class.",),  # the 529-bin classification head: training only
        ),
    }

    def __init__(self, config: IdeepcolorConfig | None = None, num_classes: int | None = None) -> None:
        super().__init__(config, num_classes)
        self.net = SiggraphNet(self.config.width)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=self.config.lr, betas=tuple(self.config.betas))

    def _forward(self, L: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 -> ``[B,2,H,W]`` ab/110, with zero hints."""
        x = pad_to_multiple(L, STRIDE)[0] * (50.0 / self.config.l_norm)
        out = self.net(torch.cat([x, torch.zeros_like(x), torch.zeros_like(x), torch.zeros_like(x)], dim=1))
        return crop_to(out, tuple(L.shape[-2:]))

    def train_step(self, batch: Batch, step: int) -> dict[str, float]:
        pred = self._forward(batch["L"])
        loss = F.smooth_l1_loss(pred * AB_SCALE, batch["ab"].float() * AB_SCALE, beta=1.0)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"huber": loss.item()}

    def predict(self, L: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 -> ``[B,2,H,W]`` ab/110 (at ``working_size`` and upsampled back when it is set)."""
        return predict_at(lambda x: self._forward(x).to(x.dtype), L, self.config.working_size)

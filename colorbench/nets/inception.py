"""Inception-v3 feature extractors for the two FIDs: 2048-d pool features of ``[B,3,H,W]`` sRGB in [0,1].

* :func:`fid_inception` — the standard FID network: torchvision's ``Inception3`` with the blocks changed as the
  TensorFlow graph of Heusel et al. (2017) computes them, as mseitzer/pytorch-fid documents (``FIDInceptionA/C/E``):
  average pools that leave the padding out of the count (``count_include_pad=False``) and a max pool in the last
  block's pool branch; 1008 classes (the head is never used). Input resized bilinearly to 299×299
  (``align_corners=False``) and scaled to [-1, 1]. Weights: ``pt_inception-2015-12-05-6726825d.pth``.
* :func:`tv_inception` — torchvision's ImageNet Inception-v3 (``inception_v3_google-*.pth``) as the colourisation
  papers feed it (DDColor ``basicsr/metrics/custom_fid.py``, CT2): resized bilinearly to 299×299, then each channel
  mapped by ``x' = (x/2 + 1/2)·(std/0.5) + (mean - 0.5)/0.5`` with the ImageNet mean and std, exactly as that script
  does to the [0,1] images it is given.

Both are built with random weights; :mod:`colorbench.metrics.fid` loads the files (local only).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import inception as tvi

FEATURES = 2048
SIZE = 299
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _avg(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class _TFInceptionA(tvi.InceptionA):
    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return [self.branch1x1(x), b5, b3, self.branch_pool(_avg(x))]


class _TFInceptionC(tvi.InceptionC):
    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            d = layer(d)
        return [self.branch1x1(x), b7, d, self.branch_pool(_avg(x))]


class _TFInceptionE(tvi.InceptionE):
    def __init__(self, in_channels: int, max_pool: bool) -> None:
        super().__init__(in_channels)
        self.max_pool = max_pool

    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        pool = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else _avg(x)
        return [self.branch1x1(x), b3, d, self.branch_pool(pool)]


class InceptionFeatures(nn.Module):
    """``[B,3,H,W]`` sRGB in [0,1] (any size; resized to 299²) -> ``[B,2048]`` pool features (float32).

    ``net``: an ``Inception3`` whose stem and Mixed blocks are used (its head is not); ``preprocess``: ``"fid"``
    (scale to [-1,1]) or ``"tv"`` (the papers' ImageNet mapping, see the module docstring)."""

    def __init__(self, net: tvi.Inception3, preprocess: str) -> None:
        super().__init__()
        if preprocess not in ("fid", "tv"):
            raise ValueError(f"InceptionFeatures: preprocess must be 'fid' or 'tv'; got {preprocess!r}")
        self.net = net
        self.preprocess = preprocess
        std = torch.tensor(_IMAGENET_STD) / 0.5
        self.register_buffer("scale", std.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", ((torch.tensor(_IMAGENET_MEAN) - 0.5) / 0.5).view(1, 3, 1, 1),
                             persistent=False)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(rgb.float(), size=(SIZE, SIZE), mode="bilinear", align_corners=False)
        if self.preprocess == "fid":
            x = 2 * x - 1
        else:
            x = (x * 0.5 + 0.5) * self.scale + self.shift
        n = self.net
        if n.Conv2d_1a_3x3.conv.weight.is_contiguous(memory_format=torch.channels_last):
            x = x.contiguous(memory_format=torch.channels_last)  # see colorbench.metrics.fid.build
        x = F.max_pool2d(n.Conv2d_2b_3x3(n.Conv2d_2a_3x3(n.Conv2d_1a_3x3(x))), kernel_size=3, stride=2)
        x = F.max_pool2d(n.Conv2d_4a_3x3(n.Conv2d_3b_1x1(x)), kernel_size=3, stride=2)
        for block in (n.Mixed_5b, n.Mixed_5c, n.Mixed_5d, n.Mixed_6a, n.Mixed_6b, n.Mixed_6c, n.Mixed_6d,
                      n.Mixed_6e, n.Mixed_7a, n.Mixed_7b, n.Mixed_7c):
            x = block(x)
        return x.mean(dim=(2, 3))


def fid_inception() -> InceptionFeatures:
    """The TF-ported FID Inception with random weights (keys as ``pt_inception-2015-12-05-6726825d.pth``)."""
    net = tvi.Inception3(num_classes=1008, aux_logits=False, transform_input=False, init_weights=False)
    net.Mixed_5b = _TFInceptionA(192, pool_features=32)
    net.Mixed_5c = _TFInceptionA(256, pool_features=64)
    net.Mixed_5d = _TFInceptionA(288, pool_features=64)
    net.Mixed_6b = _TFInceptionC(768, channels_7x7=128)
    net.Mixed_6c = _TFInceptionC(768, channels_7x7=160)
    net.Mixed_6d = _TFInceptionC(768, channels_7x7=160)
    net.Mixed_6e = _TFInceptionC(768, channels_7x7=192)
    net.Mixed_7b = _TFInceptionE(1280, max_pool=False)
    net.Mixed_7c = _TFInceptionE(2048, max_pool=True)
    net.fc = nn.Identity()  # never used; its weights in the file are ignored
    return InceptionFeatures(net, "fid").eval()


def tv_inception() -> InceptionFeatures:
    """torchvision's Inception-v3 with random weights (keys as ``inception_v3_google-*.pth``)."""
    net = tvi.Inception3(num_classes=1000, aux_logits=False, transform_input=False, init_weights=False)
    net.fc = nn.Identity()
    return InceptionFeatures(net, "tv").eval()

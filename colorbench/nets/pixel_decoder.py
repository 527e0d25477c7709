"""DDColor's pixel decoder blocks: spectral-norm convs, sub-pixel upsampling with blur, and the wide U-Net step.

As in the reference code (piddnad/DDColor, ``basicsr/archs/ddcolor_arch_utils/unet.py``, DeOldify's fastai
layers): every conv is spectrally normalised (``torch.nn.utils.parametrizations.spectral_norm``, one power iteration
per training forward), kaiming-normal initialised with a zero bias, and has a bias only where no batch norm follows.

* :class:`ShuffleUp` (the reference's ``CustomPixelShuffle_ICNR``): conv1×1 to ``cout·scale²`` maps (+ batch norm
  when ``bn``), ReLU, ``PixelShuffle(scale)``, then a 2×2 stride-1 average over a replication pad of one pixel on
  the top and left ("blur", Sugawara et al. 2018), so ``[B,cin,h,w] -> [B,cout,scale·h,scale·w]``. ICNR init with
  groups of 4 equal filters (the reference calls ``icnr`` with its default scale 2, also for scale 4).
* :class:`UpBlock` (``UnetBlockWide``): ``conv3×3(relu(cat(ShuffleUp(x), BN(skip))))`` + ReLU + BN.

Module and index names follow the reference's (``shuf.conv.0``, ``bn``, ``conv.0``, ``conv.2``) so a released
state dict maps onto these modules by renaming the spectral-norm tensors only (:mod:`colorbench.nets.ddcolor`).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from colorbench.nets.dynamic_unet import icnr_


def sn_conv(cin: int, cout: int, kernel: int = 3, *, bias: bool = True, stride: int = 1,
            padding: int | None = None) -> nn.Conv2d:
    """A kaiming-normal conv (zero bias, 'same' padding ``(k-1)//2`` unless given), spectrally normalised."""
    conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=(kernel - 1) // 2 if padding is None else padding,
                     bias=bias)
    nn.init.kaiming_normal_(conv.weight)
    if bias:
        nn.init.zeros_(conv.bias)
    return spectral_norm(conv)


class ShuffleUp(nn.Module):
    """``[B,cin,h,w] -> [B,cout,scale·h,scale·w]``: spectral conv1×1 (+BN), ReLU, pixel shuffle, optional blur."""

    def __init__(self, cin: int, cout: int, scale: int = 2, *, blur: bool = True, bn: bool = False) -> None:
        super().__init__()
        conv = nn.Conv2d(cin, cout * scale**2, 1, bias=not bn)
        nn.init.kaiming_normal_(conv.weight)
        icnr_(conv.weight, 2)
        if conv.bias is not None:
            nn.init.zeros_(conv.bias)
        layers: list[nn.Module] = [spectral_norm(conv)]
        if bn:
            layers.append(nn.BatchNorm2d(cout * scale**2))
        self.conv = nn.Sequential(*layers)
        self.shuf = nn.PixelShuffle(scale)
        self.do_blur = bool(blur)
        self.pad = nn.ReplicationPad2d((1, 0, 1, 0))
        self.blur = nn.AvgPool2d(2, stride=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.shuf(torch.relu(self.conv(x)))
        return self.blur(self.pad(x)) if self.do_blur else x


class UpBlock(nn.Module):
    """``([B,up_c,h,w], skip [B,skip_c,2h,2w]) -> [B,out_c,2h,2w]``: upsample, join the batch-normed skip, conv3×3."""

    def __init__(self, up_c: int, skip_c: int, out_c: int, *, blur: bool = True) -> None:
        super().__init__()
        self.shuf = ShuffleUp(up_c, out_c, blur=blur, bn=True)
        self.bn = nn.BatchNorm2d(skip_c)
        with torch.no_grad():  # fastai's batchnorm_2d: weight 1, bias 1e-3
            self.bn.bias.fill_(1e-3)
        self.conv = nn.Sequential(sn_conv(out_c + skip_c, out_c, 3, bias=False), nn.ReLU(), nn.BatchNorm2d(out_c))

    def forward(self, up: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.relu(torch.cat([self.shuf(up), self.bn(skip)], dim=1)))

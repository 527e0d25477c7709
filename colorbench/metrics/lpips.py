"""LPIPS v0.1 (``lpips_alex``, ``lpips_vgg``) from local weights: the backbone from torchvision's ImageNet file,
the linear heads from the ``lpips`` package's v0.1 files (network in :mod:`colorbench.nets.lpips`).

    from colorbench.metrics.lpips import lpips
    lpips(pred_rgb, true_rgb, net="alex")      # [B] float32, sRGB [B,3,H,W] in [0,1]
"""
from __future__ import annotations

from typing import Callable

import torch

from colorbench.metrics import weighted
from colorbench.nets.lpips import LPIPS

BACKBONE = {"alex": ("alexnet", "lpips_alex_heads"), "vgg": ("vgg16", "lpips_vgg_heads")}
_BUILT: dict[tuple[str, str], LPIPS] = {}


def build(device: torch.device | str = "cpu", net: str = "alex") -> Callable[[torch.Tensor, torch.Tensor],
                                                                             torch.Tensor]:
    """The LPIPS-``net`` network with its weights, on ``device`` (built once per process and device)."""
    key = (str(torch.device(device)), net)
    if key not in _BUILT:
        backbone, heads = BACKBONE[net]
        model = LPIPS(net)
        weighted.load(model.features, backbone)
        model.load_heads(weighted.read(heads))
        _BUILT[key] = model.to(device)
    return _BUILT[key]


@torch.no_grad()
def lpips(pred_rgb: torch.Tensor, true_rgb: torch.Tensor, net: str = "alex") -> torch.Tensor:
    """LPIPS v0.1 of ``[B,3,H,W]`` sRGB pairs in [0,1] -> ``[B]`` (0 for identical images; lower is closer)."""
    from colorbench.metrics._check import check_pair

    check_pair(pred_rgb, true_rgb, f"lpips_{net}", 3)
    return build(pred_rgb.device, net)(pred_rgb, true_rgb)

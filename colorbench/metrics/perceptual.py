"""LPIPS and FID through torchmetrics, only from weights already on disk: this module never touches the network.

Where a metric's code or weights are missing, :func:`perceptual_status` says why, and the evaluator reports the
value as NaN with that reason (tables print ``n/a``). Expected files (torch hub cache, ``torch.hub.get_dir()``):

* LPIPS (AlexNet): ``checkpoints/alexnet-owt-7be5be79.pth`` (torchvision's ImageNet AlexNet); torchmetrics ships the
  LPIPS linear layers itself.
* FID: the ``torch-fidelity`` package and ``checkpoints/weights-inception-2015-12-05-6726825d.pth``.

``colorbench weights fetch`` (on a machine with a network) puts backbones in these caches.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch

LPIPS_FILE = "alexnet-owt-7be5be79.pth"
FID_FILE = "weights-inception-2015-12-05-6726825d.pth"


def _hub_file(name: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def perceptual_status() -> dict[str, str | None]:
    """``{"lpips": reason or None, "fid": reason or None}``: None means available."""
    status: dict[str, str | None] = {}
    if importlib.util.find_spec("torchmetrics") is None:
        status["lpips"] = status["fid"] = "n/a: torchmetrics is not installed (pip install torchmetrics)"
        return status
    path = _hub_file(LPIPS_FILE)
    status["lpips"] = (None if path.is_file()
                       else f"n/a: LPIPS needs AlexNet weights at {path} (colorbench weights fetch)")
    path = _hub_file(FID_FILE)
    if importlib.util.find_spec("torch_fidelity") is None:
        status["fid"] = "n/a: FID needs the torch-fidelity package (pip install torch-fidelity)"
    elif not path.is_file():
        status["fid"] = f"n/a: FID needs Inception weights at {path} (colorbench weights fetch)"
    else:
        status["fid"] = None
    return status


def make_lpips(device: torch.device | str = "cpu") -> torch.nn.Module:
    """A torchmetrics LPIPS (AlexNet) metric over sRGB in [0,1].

    Call only when ``perceptual_status()['lpips']`` is None."""
    os.environ.setdefault("TORCH_HOME", str(Path(torch.hub.get_dir()).parent))
    from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

    return LearnedPerceptualImagePatchSimilarity(net_type="alex", normalize=True).to(device)


def make_fid(device: torch.device | str = "cpu") -> torch.nn.Module:
    """A torchmetrics FID over sRGB in [0,1]; call only when ``perceptual_status()['fid']`` is None."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    return FrechetInceptionDistance(feature=2048, normalize=True).to(device)

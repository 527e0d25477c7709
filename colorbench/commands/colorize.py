"""``colorbench colorize CHECKPOINT IMAGE... --out DIR``: colourise photos of any size at full resolution.

Each photo is read by the data layer's reader (:func:`colorbench.data.images.read_rgb`: EXIF rotation, alpha over
white, at most ``--max-pixels``) and turned into its lightness (a colour photo becomes grey first: only its L is
used). Every input is checked before any work, an output never replaces an input, and a prediction that is not
finite is refused instead of written.
The full-resolution L is kept; ab is predicted on L resized to the working size (longer side, aspect kept; never
enlarged), upsampled bilinearly to the photo's size, and joined with the full-resolution L.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from colorbench.errors import UserError
from colorbench.limits import DEFAULT_MAX_PIXELS

if TYPE_CHECKING:  # torch, numpy and PIL load where they are used, so `colorbench colorize --help` answers at once
    import torch

    from colorbench.method import Method

HELP = "colourise photos (grey or colour, any size) with a trained checkpoint; writes PNGs at full resolution"
EXAMPLES = """examples:
  colorbench colorize runs/pix2pix-default-sample-s0 photo.jpg --out coloured/
  colorbench colorize runs/pix2pix-default-sample-s0 a.png b.jpg --out coloured/ --working-size 0"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="run folder or checkpoint folder (from `colorbench train`)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="photos to colourise (PNG, JPEG, ...)")
    p.add_argument("--out", type=Path, required=True, help="folder for the colourised PNGs")
    p.add_argument("--working-size", type=int, default=256,
                   help="longer side (px) at which ab is predicted; 0 = the photo's own size")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help="refuse photos of more than N pixels (read from the header, before decoding)")


def read_rgb(path: str | Path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> torch.Tensor:
    """A photo as ``[1,3,H,W]`` float32 sRGB in [0,1], read by the data layer's reader (EXIF rotation, alpha
    composited over white, grey and palette images expanded, at most ``max_pixels`` pixels)."""
    import torch

    from colorbench.data import images

    try:
        arr = images.read_rgb(path, allow_grey=True, max_pixels=max_pixels)
    except FileNotFoundError:
        raise UserError(f"image {path} does not exist") from None
    except images.BadImage as exc:
        raise UserError(f"cannot use {path}: {exc}; give a PNG, JPEG, TIFF, BMP or WebP photo") from None
    return torch.from_numpy(arr).permute(2, 0, 1)[None].float().div_(255.0)


def working_shape(height: int, width: int, working_size: int) -> tuple[int, int]:
    """The size at which ab is predicted: longer side ``working_size`` (aspect kept), never larger than the photo."""
    if working_size <= 0 or max(height, width) <= working_size:
        return height, width
    scale = working_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def colorize_rgb(method: Method, rgb: torch.Tensor, working_size: int = 256) -> torch.Tensor:
    """``[1,3,H,W]`` sRGB in [0,1] (colour or grey) -> ``[1,3,H,W]`` colourised sRGB in [0,1] at the same size.

    The output's L equals the input's L at full resolution; ab comes from ``method.colorize`` at the working size,
    upsampled bilinearly."""
    import torch

    with torch.no_grad():
        return _colorize_rgb(method, rgb, working_size)


def _colorize_rgb(method: Method, rgb: torch.Tensor, working_size: int) -> torch.Tensor:
    import torch
    import torch.nn.functional as F

    from colorbench.color import AB_SCALE, lab_to_rgb, normalize_l, rgb_to_lab

    device = method.device
    lab = rgb_to_lab(rgb.to(device=device, dtype=torch.float32))
    L_lab = lab[:, :1]
    H, W = L_lab.shape[-2:]
    h, w = working_shape(H, W, working_size)
    L_small = L_lab if (h, w) == (H, W) else F.interpolate(L_lab, size=(h, w), mode="bilinear", antialias=True,
                                                            align_corners=False)
    ab = method.colorize(normalize_l(L_small)).float()
    if ab.shape[-2:] != (h, w):
        raise RuntimeError(f"{method.name}.colorize returned {tuple(ab.shape)} for L of {h}x{w}: breaks the contract")
    if not torch.isfinite(ab).all():
        bad = (~torch.isfinite(ab)).float().mean().item()
        raise UserError(f"{method.name} predicted non-finite colours ({bad:.1%} of ab values are NaN or infinite); "
                        "nothing was written: use a checkpoint whose training losses stayed finite")
    if (h, w) != (H, W):
        ab = F.interpolate(ab, size=(H, W), mode="bilinear", align_corners=False)
    return lab_to_rgb(torch.cat([L_lab, ab * AB_SCALE], dim=1), warn=False)


def save_png(rgb: torch.Tensor, path: Path) -> None:
    """``[1,3,H,W]`` in [0,1] -> 8-bit PNG."""
    import numpy as np
    from PIL import Image

    arr = (rgb[0].permute(1, 2, 0).clamp(0, 1).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)
    Image.fromarray(arr).save(path)


def plan_outputs(inputs: list[str], out: Path) -> list[Path]:
    """The PNG each input becomes in ``out`` (``stem.png``, then ``stem-2.png``, ... for repeated stems); a target
    that is one of the inputs raises a UserError, so an input is never written over."""
    sources = {Path(p).resolve() for p in inputs}
    used: set[str] = set()
    targets = []
    for image in inputs:
        stem, n = Path(image).stem, 1
        name = f"{stem}.png"
        while name in used:  # two inputs with one name from different folders
            n += 1
            name = f"{stem}-{n}.png"
        used.add(name)
        target = out / name
        if target.resolve() in sources:
            raise UserError(f"--out {out}: colourising {image} would write over the input {target}; "
                            "choose another --out folder")
        targets.append(target)
    return targets


def run(args: argparse.Namespace) -> int:
    from colorbench import checks
    from colorbench.checkpoint import load_method
    from colorbench.data import images
    from colorbench.train.distributed import resolve_device
    from colorbench.train.finite import weights_finite

    checks.integer(args.working_size, "--working-size", minimum=0,
                   fix="give the longer side in px at which ab is predicted, or 0 for the photo's own size")
    max_pixels = checks.setting("max_pixels", args.max_pixels, "--max-pixels")
    targets = plan_outputs(args.images, args.out)
    for image in args.images:  # every input is checked (exists, readable header, size) before any work
        try:
            images.probe(image, max_pixels)
        except FileNotFoundError:
            raise UserError(f"image {image} does not exist") from None
        except images.BadImage as exc:
            raise UserError(f"cannot use {image}: {exc}") from None
    method = load_method(args.checkpoint, map_location=resolve_device(args.device))
    if not weights_finite(method):
        raise UserError(f"checkpoint {args.checkpoint} holds non-finite weights (NaN or infinite); nothing was "
                        "written: use a checkpoint whose training losses stayed finite")
    args.out.mkdir(parents=True, exist_ok=True)
    for image, target in zip(args.images, targets):
        rgb = read_rgb(image, max_pixels)
        save_png(colorize_rgb(method, rgb, args.working_size), target)
        print(f"{image} -> {target} ({rgb.shape[-1]}x{rgb.shape[-2]})")
    return 0

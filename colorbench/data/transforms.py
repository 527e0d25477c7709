"""Item transforms shared by every dataset: seeded random/centre crop, horizontal flip, resize, padding to a canvas,
and the Lab item.

Randomness is a pure function of ``(seed, epoch, index)`` (:func:`item_rng`), so a worker process, a resumed run and a
second run all see the same crops and flips.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from colorbench.color import network_to_rgb, rgb_to_network


def item_rng(seed: int, epoch: int, index: int, stream: int = 0) -> np.random.Generator:
    """The random generator for one item: a pure function of its arguments (numpy's SeedSequence)."""
    return np.random.default_rng([int(seed), int(epoch), int(index), int(stream)])


def random_crop_box(height: int, width: int, size: int, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left ``(y, x)`` of a uniformly random ``size``×``size`` crop inside ``height``×``width``."""
    return int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))


def centre_crop_box(height: int, width: int, size: int) -> tuple[int, int]:
    """Top-left ``(y, x)`` of the centred ``size``×``size`` crop."""
    return (height - size) // 2, (width - size) // 2


def grid_crop_box(height: int, width: int, size: int, crops: int, box: int) -> tuple[int, int]:
    """Top-left ``(y, x)`` of crop ``box`` (row-major) of the centred √crops×√crops grid of adjacent ``size`` crops
    in a ``height``×``width`` image; where the image is smaller than the grid, the crops overlap evenly (the grid
    spans the image). ``crops=1`` is :func:`centre_crop_box`."""
    side = int(round(crops ** 0.5))
    if side <= 1:
        return centre_crop_box(height, width, size)
    i, j = divmod(box, side)

    def start(extent: int, k: int) -> int:
        span = side * size
        if extent >= span:
            return (extent - span) // 2 + k * size
        return round(k * (extent - size) / (side - 1))

    return start(height, i), start(width, j)


def resize_uint8(image: np.ndarray, height: int, width: int, antialias: bool = True) -> np.ndarray:
    """``[H,W,3]`` uint8 -> ``[height,width,3]`` uint8, bilinear on pixel centres (torch, ``align_corners=False``),
    rounded. ``antialias=True`` widens the filter when shrinking (as PIL's ``Image.BILINEAR`` and torchvision's
    ``Resize`` on PIL images); ``False`` samples the four nearest pixels (as OpenCV's ``cv2.resize`` default,
    ``INTER_LINEAR``)."""
    if image.shape[:2] == (height, width):
        return image
    x = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)[None].float()
    y = F.interpolate(x, size=(height, width), mode="bilinear", antialias=antialias, align_corners=False)
    return y[0].round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def resize_short_side(image: np.ndarray, short: int, antialias: bool = True) -> np.ndarray:
    """Resize ``[H,W,3]`` uint8 so its shorter side is ``short`` pixels, keeping the aspect ratio."""
    h, w = image.shape[:2]
    scale = short / min(h, w)
    return resize_uint8(image, max(short, round(h * scale)), max(short, round(w * scale)), antialias)


def centre_square(image: np.ndarray) -> np.ndarray:
    """The centred square of ``[H,W,3]`` whose side is the shorter side (torchvision's ``CenterCrop(min(H, W))``:
    the top-left corner at ``round((H - side) / 2), round((W - side) / 2)``)."""
    h, w = image.shape[:2]
    side = min(h, w)
    y, x = int(round((h - side) / 2.0)), int(round((w - side) / 2.0))
    return image[y:y + side, x:x + side]


def resize_long_side_at_most(image: np.ndarray, long: int) -> np.ndarray:
    """Shrink ``[H,W,3]`` uint8 so its longer side is at most ``long`` px, keeping the aspect ratio (never enlarges;
    each side ``round(side * long / max(H, W))``, as the C2F reference's ``max_img_size``)."""
    h, w = image.shape[:2]
    if max(h, w) <= long:
        return image
    scale = long / max(h, w)
    return resize_uint8(image, max(1, round(h * scale)), max(1, round(w * scale)))


def pad_item(item: dict, size: int) -> dict:
    """A :func:`to_item` item of any ``H×W <= size×size`` placed top-left on a ``size×size`` canvas.

    Padding is L = a = b = 0 in network units (Lab 50, 0, 0: mid grey; ``rgb`` is that grey), as the C2F
    reference's ``LabImageBatch`` pads. Adds ``"valid"``: ``[1,size,size]`` bool, True on the image's pixels."""
    h, w = item["L"].shape[-2:]
    if h > size or w > size:
        raise ValueError(f"pad_item: a {h}x{w} image does not fit a {size}x{size} canvas")
    grey = network_to_rgb(torch.zeros(1, 1, 1, 1), torch.zeros(1, 2, 1, 1))[0]  # [3,1,1]
    out = dict(item)
    for key, fill in (("L", None), ("ab", None), ("rgb", grey)):
        x = item[key]
        canvas = x.new_zeros(x.shape[0], size, size) if fill is None else fill.expand(x.shape[0], size, size).clone()
        canvas[:, :h, :w] = x
        out[key] = canvas
    valid = torch.zeros(1, size, size, dtype=torch.bool)
    valid[:, :h, :w] = True
    out["valid"] = valid
    return out


def to_item(rgb_u8: np.ndarray, index: int, label: int | None = None, flip: bool = False,
            uint8: bool = False) -> dict:
    """``[H,W,3]`` uint8 sRGB -> a dataset item.

    Returns ``{"L": [1,H,W] float32 L/50-1, "ab": [2,H,W] float32 ab/110, "rgb": [3,H,W] float32 in [0,1],
    "index": int, "label": int (only when ``label`` is not None)}``; with ``uint8`` instead ``"rgb_u8"``:
    ``[3,H,W]`` uint8 sRGB (flip applied) and no L, ab or rgb: :func:`lab_batch` makes them, on the training device.
    """
    rgb = torch.from_numpy(np.array(rgb_u8, dtype=np.uint8)).permute(2, 0, 1)
    if flip:
        rgb = rgb.flip(-1)
    rgb = rgb.contiguous()
    if uint8:
        item = {"rgb_u8": rgb, "index": int(index)}
    else:
        rgb = rgb.float().div_(255.0)
        L, ab = rgb_to_network(rgb[None])
        item = {"L": L[0], "ab": ab[0], "rgb": rgb, "index": int(index)}
    if label is not None:
        item["label"] = int(label)
    return item


def lab_batch(batch: dict) -> dict:
    """A batch with ``"rgb_u8"`` ``[B,3,H,W]`` uint8 -> the same batch with ``L`` ``[B,1,H,W]`` L/50-1, ``ab``
    ``[B,2,H,W]`` ab/110 and ``rgb`` ``[B,3,H,W]`` in [0,1] float32, computed where the uint8 tensor lies (the
    training device: a quarter of the bytes cross the bus, the conversion runs on the GPU). Other batches pass."""
    if "rgb_u8" not in batch:
        return batch
    out = {k: v for k, v in batch.items() if k != "rgb_u8"}
    rgb = batch["rgb_u8"].float().div_(255.0)
    out["L"], out["ab"] = rgb_to_network(rgb)
    out["rgb"] = rgb
    return out


def to_batch(images: list[np.ndarray], indices: list[int], labels: list[int | None], flips: list[bool],
             uint8: bool = False) -> dict:
    """Several ``[H,W,3]`` uint8 crops of one size -> the collated batch that torch's default collate would make of
    :func:`to_item`'s items (``L``, ``ab``, ``rgb`` stacked to ``[B,C,H,W]``, ``index`` and ``label`` as int64
    ``[B]``), with one Lab conversion for the whole batch; with ``uint8``, ``rgb_u8`` ``[B,3,H,W]`` uint8 instead
    of L, ab and rgb (see :func:`lab_batch`)."""
    rgb = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)
    flip = torch.tensor(flips, dtype=torch.bool)
    if flip.any():
        rgb[flip] = rgb[flip].flip(-1)
    rgb = rgb.contiguous()
    batch = {"rgb_u8": rgb, "index": torch.tensor(indices, dtype=torch.int64)}
    if labels and labels[0] is not None:
        batch["label"] = torch.tensor(labels, dtype=torch.int64)
    return batch if uint8 else lab_batch(batch)


def to_device(batch: dict[str, Any], device: torch.device, channels_last: bool = False) -> dict[str, Any]:
    """Move a batch's tensors to ``device`` (non-blocking); a uint8 ``rgb_u8`` batch becomes L, ab and rgb there
    (:func:`lab_batch`); images ``[B,C,H,W]`` optionally to channels_last."""
    moved = {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    out = {}
    for key, value in lab_batch(moved).items():
        if channels_last and isinstance(value, torch.Tensor) and value.ndim == 4 and value.is_floating_point():
            value = value.contiguous(memory_format=torch.channels_last)
        out[key] = value
    return out

"""The validation image grid: a few fixed val images as grey input | prediction | truth, one image per row."""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch.utils.data import Dataset

from colorbench.color import network_to_rgb
from colorbench.method import Method

GRID_IMAGES = 4
"""How many val images the grid shows: the first ones of the val set, the same at every step."""
PAD = 2  # px of white between tiles


@torch.no_grad()
def val_grid(method: Method, dataset: Dataset, device: torch.device, autocast: Callable[[], Any],
             channels_last: bool = False, n: int = GRID_IMAGES) -> torch.Tensor:
    """``[3,H,W]`` sRGB in [0,1]: row ``i`` is val image ``i`` as grey input (its L), the prediction (true L,
    predicted ab) and the truth, with ``PAD`` px of white between tiles.

    Touches nothing that training reads: runs under ``no_grad`` in eval mode (the mode it found is restored) and
    inside :func:`torch.random.fork_rng`, so the torch RNG (CPU and CUDA) is as it was before the call."""
    from colorbench.data.transforms import to_device

    items = [dataset[i] for i in range(min(n, len(dataset)))]
    batch = to_device({k: torch.stack([item[k] for item in items]) for k in ("L", "ab")}, device, channels_last)
    devices = [device] if device.type == "cuda" else []
    was_training = method.training
    with torch.random.fork_rng(devices=devices):
        method.eval()
        try:
            with autocast():
                pred = method.colorize(batch["L"])
        finally:
            method.train(was_training)
    L = batch["L"].float().cpu().contiguous()
    grey = network_to_rgb(L, torch.zeros_like(L).expand(-1, 2, -1, -1))
    tiles = [grey, network_to_rgb(L, pred.float().cpu().contiguous()), network_to_rgb(L, batch["ab"].float().cpu())]
    B, _, H, W = L.shape
    out = torch.ones(3, B * (H + PAD) - PAD, 3 * (W + PAD) - PAD)
    for col, tile in enumerate(tiles):
        for row in range(B):
            y, x = row * (H + PAD), col * (W + PAD)
            out[:, y:y + H, x:x + W] = tile[row].clamp(0, 1)
    return out


def png_bytes(image: torch.Tensor) -> bytes:
    """``[3,H,W]`` in [0,1] as PNG file bytes (8 bits per channel)."""
    import io

    import numpy as np
    from PIL import Image

    array = (image.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()

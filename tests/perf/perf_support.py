"""The perf suites' workload: square crops of scikit-image's photos at seeded random places."""
from __future__ import annotations

import numpy as np
import skimage.data
import torch

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def photo_crops(n: int, size: int, g: np.random.Generator, photos: tuple[str, ...] = PHOTOS) -> torch.Tensor:
    """``n`` crops of ``size``² px, photo ``i % len(photos)`` for crop ``i``, each at a place drawn from ``g``:
    ``[n,3,size,size]`` sRGB float32 in [0, 1], contiguous."""
    images = [getattr(skimage.data, name)() for name in photos]
    crops = []
    for i in range(n):
        img = images[i % len(images)]
        y, x = g.integers(0, img.shape[0] - size + 1), g.integers(0, img.shape[1] - size + 1)
        crops.append(img[y:y + size, x:x + size])
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div(255).contiguous()

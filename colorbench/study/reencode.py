"""What a participant downloads: each stored image re-encoded for them alone, so that no byte pattern, size or
timing ties an image to its condition or to another participant's trials.

* **Per-participant pixels**: the least significant bit of every channel is flipped by a keyed random stream (seed
  ``HMAC(study secret, "pixels:token:item")``), so the same photo served to two tokens, or in two pairs, never has the
  same bytes or the same decoded pixels. A flip changes a channel by one level in 255, below what a viewer can see, and
  every condition gets it alike.
* **One encoding for every condition**: an RGB PNG with no compression and no ancillary chunk, so its size is a
  function of width and height only (every condition of a photo has the same), never of how smooth the content is.
* **Time**: the response is held until :func:`floor_s` after the request arrived, which is several times the decode
  and encode work, so a faster decode of a smoother stored file does not show.

The stored files under ``images/`` are left as ``create`` wrote them.
"""
from __future__ import annotations

import io
from pathlib import Path

FLOOR_S = 0.02
"""Seconds every image response takes at least, plus :data:`FLOOR_S_PER_PIXEL` per pixel."""
FLOOR_S_PER_PIXEL = 3e-7
"""About three times the decode + flip + encode time per pixel measured on one core (~100 ns)."""


def served_png(path: str | Path, seed: bytes) -> tuple[bytes, int]:
    """The stored PNG at ``path`` as served to one participant: ``(PNG bytes, pixels)``; ``seed`` (at least 8 bytes,
    secret) keys the flipped bits. The same ``seed`` gives the same bytes (a reload shows the same image)."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as img:
        rgb = np.array(img.convert("RGB"), dtype=np.uint8)
    rng = np.random.default_rng(int.from_bytes(seed, "big"))
    rgb ^= np.frombuffer(rng.bytes(rgb.size), dtype=np.uint8).reshape(rgb.shape) & 1
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=0)  # size = f(width, height) only
    return buf.getvalue(), rgb.shape[0] * rgb.shape[1]


def floor_s(pixels: int) -> float:
    """Seconds an image response of ``pixels`` pixels is held to at least (see the module doc)."""
    return FLOOR_S + FLOOR_S_PER_PIXEL * pixels

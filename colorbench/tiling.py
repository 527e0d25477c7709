"""Tiled prediction: run an image-to-image network on overlapping tiles and blend them, so a photo of any size is
predicted at full resolution with the memory of one tile.

Tiles are ``tile`` px squares (shorter where the image is), spaced evenly so neighbours overlap by at least
``overlap`` px. Each tile's prediction is weighted by a separable window that is

* 1 in its middle and along the image's own borders (no fade where there is no neighbour),
* 0 within ``margin`` px of a cut through the image (where a tile's receptive field is clipped by its edge),
* a raised cosine (sin²) between the two,

and the windows of every tile are normalised per axis so that they sum to exactly 1 at every pixel. A pixel's value
is then a convex blend of the tiles that see it well, seams fade smoothly, and for a network whose receptive field
radius is at most ``margin`` the blend equals the untiled prediction (up to float rounding): every tile that gives a
pixel weight sees that pixel's whole receptive field. A tile as large as the image gives the untiled prediction
bit for bit.

Any method can use it: ``predict_tiled(method.colorize, L, tile=512, overlap=128)``. torch is imported inside the
functions, so the command line reads the defaults below without importing it.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import torch

DEFAULT_TILE = 512
"""Tile side in px (a multiple of 256, the largest padding multiple of the built-in networks)."""
DEFAULT_OVERLAP = 128
"""Least overlap of neighbouring tiles in px; its outer quarter on each side (the margin) gets no weight."""


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """First pixel of each tile along an axis of ``length`` px: ``[0]`` when one tile covers it, else evenly spaced
    from 0 to ``length - tile`` with neighbours overlapping by at least ``overlap`` px."""
    if tile <= 0 or not 0 <= overlap < tile:
        raise ValueError(f"tiling needs tile > 0 and 0 <= overlap < tile; got tile={tile}, overlap={overlap}")
    if length <= tile:
        return [0]
    n = math.ceil((length - tile) / (tile - overlap)) + 1
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def default_margin(overlap: int) -> int:
    """Pixels next to a cut that get no weight: a quarter of the overlap."""
    return overlap // 4


def _ramp(n: int) -> torch.Tensor:
    """``n`` samples of sin² rising from near 0 to near 1 (all strictly inside (0, 1))."""
    import torch

    k = torch.arange(n, dtype=torch.float64)
    return torch.sin(0.5 * math.pi * (k + 0.5) / n) ** 2


def axis_weights(length: int, tile: int, overlap: int, margin: int | None = None) -> list[tuple[int, torch.Tensor]]:
    """``[(start, weights)]`` for each tile along an axis: ``weights`` is float64 ``[min(tile, length)]``, and the
    weights of all tiles sum to 1 at every pixel of the axis (a partition of unity)."""
    import torch

    margin = default_margin(overlap) if margin is None else margin
    if not 0 <= 2 * margin < max(overlap, 1):
        raise ValueError(f"margin must lie in [0, overlap/2); got margin={margin}, overlap={overlap}")
    starts = tile_starts(length, tile, overlap)
    size = min(tile, length)
    ramp = _ramp(overlap - 2 * margin) if overlap else torch.ones(0, dtype=torch.float64)
    raw = []
    for start in starts:
        w = torch.ones(size, dtype=torch.float64)
        if start > 0:  # a cut on this tile's low side
            w[:margin] = 0.0
            w[margin:overlap - margin] = ramp
        if start + size < length:  # a cut on its high side
            w[size - margin:] = 0.0
            w[size - overlap + margin:size - margin] = torch.minimum(w[size - overlap + margin:size - margin],
                                                                     ramp.flip(0))
        raw.append(w)
    total = torch.zeros(length, dtype=torch.float64)
    for start, w in zip(starts, raw):
        total[start:start + size] += w
    if not bool((total > 0).all()):  # cannot happen for overlap < tile; guards the arithmetic above
        raise RuntimeError(f"tiling left pixels without weight (length {length}, tile {tile}, overlap {overlap})")
    return [(start, w / total[start:start + size]) for start, w in zip(starts, raw)]


def count_tiles(height: int, width: int, tile: int, overlap: int) -> int:
    """Tiles :func:`predict_tiled` runs for a ``height``×``width`` input (1 when ``tile`` is 0: untiled)."""
    if tile <= 0:
        return 1
    return len(tile_starts(height, tile, overlap)) * len(tile_starts(width, tile, overlap))


def predict_tiled(predict: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, tile: int = DEFAULT_TILE,
                  overlap: int = DEFAULT_OVERLAP, *, margin: int | None = None,
                  on_tile: Callable[[], None] | None = None) -> torch.Tensor:
    """``predict`` (``[1,C,h,w] -> [1,C',h,w]``, same h and w) applied to ``x`` ``[1,C,H,W]`` tile by tile and
    blended: returns ``[1,C',H,W]`` float32 on ``x``'s device.

    ``tile <= 0``, or a tile covering ``x``, runs ``predict`` once on the whole input (its output, as float32).
    Only the output and one tile's prediction are held at a time. ``on_tile`` is called after each tile."""
    import torch

    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"predict_tiled takes one image [1,C,H,W]; got {tuple(x.shape)}")
    H, W = x.shape[-2:]
    if tile <= 0 or (H <= tile and W <= tile):
        out = predict(x).float()
        if on_tile is not None:
            on_tile()
        return out.to(x.device)
    rows = axis_weights(H, tile, overlap, margin)
    cols = axis_weights(W, tile, overlap, margin)
    out: torch.Tensor | None = None
    for y0, wy in rows:
        for x0, wx in cols:
            piece = x[..., y0:y0 + wy.numel(), x0:x0 + wx.numel()]
            pred = predict(piece)
            if pred.shape[0] != 1 or pred.shape[-2:] != piece.shape[-2:]:
                raise RuntimeError(f"tiled prediction: a {tuple(piece.shape)} tile gave {tuple(pred.shape)}; the "
                                   "prediction must keep the tile's height and width")
            if out is None:
                out = torch.zeros(1, pred.shape[1], H, W, dtype=torch.float32, device=x.device)
            weight = (wy[:, None] * wx[None, :]).to(device=x.device, dtype=torch.float32)
            out[..., y0:y0 + wy.numel(), x0:x0 + wx.numel()] += pred.to(device=x.device, dtype=torch.float32) * weight
            del pred
            if on_tile is not None:
                on_tile()
    assert out is not None
    return out

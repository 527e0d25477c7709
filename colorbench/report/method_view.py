"""One method's views for ``notebooks/method.ipynb``: samples at several sizes from its checkpoint, its failure
cases (the test images where its mean ΔE76 is worst, from ``per_image.csv``), and the row it was scored in.

Images are sRGB ``[3,H,W]`` in [0,1]; a method sees ``L`` (L/50-1) and returns ``ab`` (ab/110) at the same size.
"""
from __future__ import annotations

import json
from typing import Sequence

import pandas as pd
import torch
import torch.nn.functional as F

from colorbench.color import network_to_rgb, rgb_to_network
from colorbench.errors import UserError
from colorbench.report import style
from colorbench.report.figures import Note, photo
from colorbench.report.load import DatasetResults, cell_folder, checkpoint_of


def rows_of(data: DatasetResults, method: str, variant: str = "default") -> pd.DataFrame:
    """The ok metrics rows of ``method`` / ``variant``; a :class:`UserError` naming the methods present if none."""
    m = data.metrics
    rows = m[(m["method"] == method) & (m["variant"] == variant)]
    if "status" in rows:
        rows = rows[rows["status"] == "ok"]
    if rows.empty:
        have = sorted(set(zip(m["method"], m["variant"])))
        raise UserError(f"no finished `{method}` [{variant}] row in {data.folder}/metrics.csv; present: "
                        + ", ".join(f"{a} [{b}]" for a, b in have))
    return rows.sort_values("seed") if "seed" in rows else rows


@torch.no_grad()
def colorize_rgb(method, rgb: torch.Tensor) -> torch.Tensor:
    """``[3,H,W]`` sRGB -> the method's colourisation of its L channel, ``[3,H,W]`` sRGB (L kept, ab predicted)."""
    L, _ = rgb_to_network(rgb[None])
    ab = method.colorize(L)
    return network_to_rgb(L, ab)[0].clamp(0, 1)


def resize(rgb: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``[3,H,W]`` -> ``[3,height,width]``, bilinear with antialiasing (area-like when shrinking), clipped to [0,1]."""
    out = F.interpolate(rgb[None], size=(height, width), mode="bilinear", align_corners=False, antialias=True)
    return out[0].clamp(0, 1)


def _load(row: pd.Series):
    from colorbench.checkpoint import load_method

    ckpt = checkpoint_of(row)
    return None if ckpt is None else load_method(ckpt)


def samples_at_sizes(row: pd.Series, heights: Sequence[int] = (64, 128, 256), photos: int = 3):
    """For the first ``photos`` held-out test photos: the truth, then the method's colourisation with the photo
    resized to each height (aspect kept). A :class:`Note` when the checkpoint is not on this machine."""
    from colorbench.data import sample_test_photos

    method = _load(row)
    if method is None:
        return Note(f"checkpoint {row.get('checkpoint')} is not on this machine (runs/ is not committed)")
    plt = style.pyplot()
    chosen = sample_test_photos()[:photos]
    with style.rc():
        col = 2.8  # inches per column; a row as tall as its photo at that width, plus its titles
        rows_in = sum(col * rgb.shape[-2] / rgb.shape[-1] + 0.35 for _, rgb in chosen)
        fig, axes = style.figure(len(chosen), len(heights) + 1, figsize=(col * (len(heights) + 1), rows_in + 0.2))
        for i, (name, rgb) in enumerate(chosen):
            h0, w0 = rgb.shape[-2:]
            axes[i][0].imshow(rgb.permute(1, 2, 0).numpy())
            axes[i][0].set_title(f"{name} (truth, {w0}x{h0})")
            for j, h in enumerate(heights, 1):
                w = max(1, round(w0 * h / h0))
                out = colorize_rgb(method, resize(rgb, h, w))
                axes[i][j].imshow(out.permute(1, 2, 0).numpy())
                axes[i][j].set_title(f"{w}x{h}")
        for ax in axes.flat:
            ax.axis("off")
    plt.close(fig)
    return photo(fig)


def worst_table(data: DatasetResults, method: str, variant: str = "default", n: int = 5) -> pd.DataFrame | Note:
    """The ``n`` test images with the highest mean ΔE76 for the method (first seed), worst first."""
    p = data.per_image
    if p.empty or "delta_e76" not in p:
        return Note("no per_image.csv with delta_e76 in these results")
    variants = p["variant"].fillna("default").astype(str) if "variant" in p else "default"
    sel = p[(p["method"] == method) & (variants == variant)]
    if "seed" in sel and not sel.empty:
        sel = sel[sel["seed"] == sel["seed"].min()]
    if sel.empty:
        return Note(f"no per-image rows of `{method}` [{variant}]")
    cols = [c for c in ("image", "index", "delta_e76", "psnr", "ssim", "mae_ab", "colorfulness") if c in sel]
    return sel.sort_values("delta_e76", ascending=False).head(n)[cols].reset_index(drop=True)


def _test_dataset(row: pd.Series):
    from colorbench.data import build_dataset

    options = {}
    folder = cell_folder(row)
    if folder is not None and (folder / "cell.json").is_file():
        settings = json.loads((folder / "cell.json").read_text()).get("settings", {})
        options = dict(settings.get("data", {}).get("options") or {})
    from colorbench.data import Protocol

    raw = row.get("protocol")
    protocol = json.loads(raw) if isinstance(raw, str) else {}
    p = Protocol(**{k: protocol[k] for k in ("split", "size", "max_images", "crops") if k in protocol})
    return build_dataset(str(row["dataset"]), p.split, size=p.size, seed=int(row.get("seed", 0)), **options)


def worst_cases(data: DatasetResults, method: str, variant: str = "default", n: int = 4):
    """Grey | truth | prediction for the ``n`` worst test images by ΔE76 (rebuilt from the checkpoint and the test
    split); a :class:`Note` when the per-image rows or the checkpoint are missing."""
    table = worst_table(data, method, variant, n)
    if isinstance(table, Note):
        return table
    row = rows_of(data, method, variant).iloc[0]
    model = _load(row)
    if model is None:
        return Note(f"checkpoint {row.get('checkpoint')} is not on this machine; the table above lists the images")
    ds = _test_dataset(row)
    plt = style.pyplot()
    with style.rc():
        fig, axes = style.figure(len(table), 3, figsize=(5.4, 1.9 * len(table)))
        for i, r in table.iterrows():
            item = ds[int(r["index"])]
            rgb = item["rgb"]
            grey = network_to_rgb(item["L"][None], torch.zeros_like(item["ab"])[None])[0]
            pred = colorize_rgb(model, rgb)
            for j, (img, title) in enumerate(((grey, f"#{int(r['index'])} grey"), (rgb, "truth"),
                                              (pred, f"ΔE {r['delta_e76']:.1f}"))):
                axes[i][j].imshow(img.clamp(0, 1).permute(1, 2, 0).numpy())
                axes[i][j].set_title(title)
                axes[i][j].axis("off")
    plt.close(fig)
    return photo(fig)

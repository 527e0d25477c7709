"""Small PNG figures from cell records: a/b histograms vs truth (log scale), a sample grid (grey | truth | each
method), loss curves, and runtime vs megapixels (log-log). Each takes records already loaded; none trains."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from colorbench.bench import atomic

DPI = 80


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def histograms(path: Path, hists: Mapping[str, Mapping[str, np.ndarray]], legacy: bool = False) -> Path | None:
    """``hists = {label: {"true_a","true_b","pred_a","pred_b": [220] counts}}``: one panel per channel."""
    if not hists:
        return None
    plt = _plt()
    centres = np.arange(-110, 110) + 0.5
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    truth = next(iter(hists.values()))
    floor = 1e-6  # empty bins drawn at the floor, so a single-bin prediction (gray) shows as a spike

    def share(h: np.ndarray) -> np.ndarray:
        h = np.asarray(h, dtype=np.float64)
        return np.maximum(h / max(h.sum(), 1.0), floor)

    for ax, ch in zip(axes, "ab"):
        ax.step(centres, share(truth[f"true_{ch}"]), where="mid", color="black", lw=2.2, label="ground truth")
        for lab, h in hists.items():
            ax.step(centres, share(h[f"pred_{ch}"]), where="mid", lw=1, label=lab)
        ax.set_yscale("log")
        ax.set_ylim(floor, 1.5)
        ax.set_xlabel(f"{ch} (Lab units, 1-unit bins)")
        ax.set_xlim(-110, 110)
    axes[0].set_ylabel("share of pixels (log)")
    axes[1].legend(fontsize=6, ncol=2)
    fig.suptitle(f"Pooled test-set histograms ({'legacy' if legacy else 'canonical'} form: normalised to sum 1)",
                 fontsize=9)
    out = atomic.write_figure(path, fig, DPI)
    plt.close(fig)
    return out


def sample_grid(path: Path, samples: Mapping[str, Mapping[str, np.ndarray]], n: int = 4) -> Path | None:
    """``samples = {label: {"L": [N,1,H,W], "ab_true": [N,2,H,W], "ab_pred": [N,2,H,W]}}`` (normalised)."""
    import torch

    from colorbench.color import network_to_rgb

    samples = {k: v for k, v in samples.items() if np.asarray(v["L"]).ndim == 4 and len(v["L"])}
    if not samples:
        return None
    plt = _plt()
    first = next(iter(samples.values()))
    n = min(n, len(first["L"]))
    labels = list(samples)
    cols = ["grey", "truth", *labels]
    fig, axes = plt.subplots(n, len(cols), figsize=(1.3 * len(cols), 1.3 * n), squeeze=False)

    def rgb(L: np.ndarray, ab: np.ndarray) -> np.ndarray:
        t = network_to_rgb(torch.from_numpy(L[None].astype(np.float32)), torch.from_numpy(ab[None].astype(np.float32)))
        return t[0].permute(1, 2, 0).clamp(0, 1).numpy()

    for i in range(n):
        L = first["L"][i]
        images = [rgb(L, np.zeros_like(first["ab_true"][i])), rgb(L, first["ab_true"][i])]  # grey = L with ab 0
        images += [rgb(samples[lab]["L"][i], samples[lab]["ab_pred"][i]) if i < len(samples[lab]["L"]) else None
                   for lab in labels]
        for j, img in enumerate(images):
            ax = axes[i][j]
            ax.axis("off")
            if img is not None:
                ax.imshow(np.clip(img, 0, 1))
            if i == 0:
                ax.set_title(cols[j], fontsize=6)
    out = atomic.write_figure(path, fig, 60)
    plt.close(fig)
    return out


def read_loss_log(path: Path) -> dict[str, list[float]]:
    """A trainer loss CSV as ``{column: values}`` (numeric columns only)."""
    cols: dict[str, list[float]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for k, v in row.items():
                try:
                    cols.setdefault(k, []).append(float(v))
                except (TypeError, ValueError):
                    pass
    return cols


NOT_LOSSES = {"step", "epoch", "time", "seconds", "lr", "images_per_s", "img_per_s", "wall", "elapsed"}


def loss_curves(path: Path, logs: Mapping[str, tuple[Path, str]]) -> Path | None:
    """``logs = {label: (loss.csv, watched loss key)}``: one small panel per method, every loss column, log y."""
    logs = {k: v for k, v in logs.items() if v[0] and Path(v[0]).is_file()}
    if not logs:
        return None
    plt = _plt()
    n = len(logs)
    ncol = min(4, n)
    nrow = math.ceil(n / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.6 * ncol, 2.0 * nrow), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (lab, (log, watch)) in zip(axes.flat, logs.items()):
        ax.axis("on")
        cols = read_loss_log(Path(log))
        x = cols.get("step") or list(range(len(next(iter(cols.values()), []))))
        keys = [k for k in cols if k not in NOT_LOSSES and not k.startswith("lr")]
        for k in keys:
            y = np.asarray(cols[k])
            if len(y) == len(x) and np.all(np.isfinite(y)):
                ax.plot(x, y, lw=2 if k == watch else 0.8, label=k)
        if any(np.all(np.asarray(cols[k]) > 0) for k in keys):
            ax.set_yscale("log")
        ax.set_title(lab, fontsize=7)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=5)
    fig.suptitle("Training losses per step (thick: the loss the method declares to watch)", fontsize=8)
    out = atomic.write_figure(path, fig, DPI)
    plt.close(fig)
    return out


def runtime_plot(path: Path, table: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> Path | None:
    """``table = {label: {"WxH": entry}}`` (see runtime_table.collect): ms/img vs megapixels, log-log."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    drawn = False
    for lab, per in sorted(table.items()):
        pts = []
        for size, e in per.items():
            ms = e.get("ms_per_image")
            if e.get("status", "ok") == "ok" and isinstance(ms, (int, float)) and ms > 0:
                w, h = (int(s) for s in size.split("x"))
                pts.append((w * h / 1e6, ms))
        if pts:
            pts.sort()
            ax.loglog(*zip(*pts), marker="o", ms=3, lw=1, label=lab)
            drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("megapixels")
    ax.set_ylabel("ms per image")
    ax.grid(True, which="both", lw=0.3)
    ax.legend(fontsize=6, ncol=2)
    out = atomic.write_figure(path, fig, DPI)
    plt.close(fig)
    return out


"""Every figure of the results: the PNGs ``make bench`` writes (a/b histograms against the truth, a sample grid,
loss curves, runtime against megapixels) and the notebooks' figures (one method's loss curves, runtime against
resolution, the bench's PNGs shown inline). The histograms are drawn from the evaluator's own pooled counts, the
very counts behind JS and KL.

A figure whose inputs are not on disk (a fresh clone has ``results/`` but not the ``runs/`` cache) comes back as
a :class:`Note` saying what is missing, so a notebook never fails on it.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from colorbench import _atomic as atomic
from colorbench.report.load import DatasetResults, Results, cell_folder
from colorbench.report.tables import label, ok_rows

DPI = 72


@dataclass
class Note:
    """A sentence shown in place of a figure or table that cannot be drawn (rendered as Markdown in notebooks)."""

    text: str

    def _repr_markdown_(self) -> str:
        return f"> **Note:** {self.text}"

    def __str__(self) -> str:
        return self.text


def setup_notebook() -> None:
    """Inline figures at :data:`DPI`, PNG only (keeps committed notebooks small); pandas shows whole cells and
    columns (the tables' notes say where a published figure comes from, and must not be cut)."""
    import warnings

    import matplotlib

    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.max_columns", None)
    pd.set_option("display.width", 250)

    warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm.auto in a kernel without ipywidgets
    # a warning's text without the source file's path: committed notebooks must not carry this machine's paths
    warnings.formatwarning = lambda message, category, *_args, **_kw: f"{category.__name__}: {message}\n"
    matplotlib.rcParams.update({"figure.dpi": DPI, "savefig.dpi": DPI, "font.size": 8})
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except ImportError:
        pass


PHOTO_MAX_WIDTH = 1000
PHOTO_QUALITY = 85


def photo(image) -> object:
    """A figure or PIL image of photographs as an IPython JPEG (at most :data:`PHOTO_MAX_WIDTH` px wide, quality
    :data:`PHOTO_QUALITY`): photo grids as PNG run to hundreds of KB, which committed notebooks must not carry.
    Plots (lines, text) stay PNG."""
    import io

    from IPython.display import Image
    from PIL import Image as PILImage

    if not isinstance(image, PILImage.Image):  # a matplotlib Figure
        buf = io.BytesIO()
        image.savefig(buf, format="png", dpi=DPI)
        buf.seek(0)
        image = PILImage.open(buf)
    image = image.convert("RGB")
    if image.width > PHOTO_MAX_WIDTH:
        image = image.resize((PHOTO_MAX_WIDTH, round(image.height * PHOTO_MAX_WIDTH / image.width)),
                             PILImage.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=PHOTO_QUALITY, optimize=True)
    return Image(data=out.getvalue(), format="jpeg")


def bench_png(data: DatasetResults | Results, name: str):
    """A PNG the bench wrote (``histograms``, ``samples``, ``loss_curves``; ``runtime`` on a :class:`Results`) as
    an IPython Image (the photo grid ``samples`` through :func:`photo`), or a :class:`Note` when the bench drew
    none."""
    from IPython.display import Image
    from PIL import Image as PILImage

    path = data.runtime_png if isinstance(data, Results) and name == "runtime" else \
        getattr(data, "figures", {}).get(name)
    if path is None or not Path(path).is_file():
        return Note(f"the bench wrote no {name}.png here (no finished cell had the data for it)")
    with PILImage.open(path) as im:
        if name == "samples":
            return photo(im)
        return Image(data=small_png(im), format="png")


def small_png(image) -> bytes:
    """A plot (lines and text, few colours) as a 256-colour palette PNG: about a third of the bench's RGBA file."""
    import io

    out = io.BytesIO()
    image.convert("RGB").quantize(256).save(out, format="PNG", optimize=True)
    return out.getvalue()


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg",) and "inline" not in matplotlib.get_backend().lower():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


BENCH_DPI = 80


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
    out = atomic.write_figure(path, fig, BENCH_DPI)
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


NOT_LOSSES = {"step", "epoch", "time", "seconds", "lr", "images_per_s", "img_per_s", "wall", "elapsed", "elapsed_s"}
"""Columns of the trainer's log that are not losses (the learning rates are ``lr`` and ``lr_<optimiser>``)."""


def loss_keys(cols: Mapping[str, Any]) -> list[str]:
    """The loss columns of a parsed loss log."""
    return [k for k in cols if k not in NOT_LOSSES and not k.startswith("lr")]


def bench_loss_curves(path: Path, logs: Mapping[str, tuple[Path, str]]) -> Path | None:
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
        keys = loss_keys(cols)
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
    out = atomic.write_figure(path, fig, BENCH_DPI)
    plt.close(fig)
    return out


def runtime_plot(path: Path, table: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> Path | None:
    """``table = {label: {"WxH": entry}}`` (see :func:`colorbench.report.runtime.entries`): ms/img vs megapixels,
    log-log."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    drawn = False
    for lab, per in sorted(table.items()):
        pts = []
        for size, e in per.items():
            ms = e.get("ms")
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
    out = atomic.write_figure(path, fig, BENCH_DPI)
    plt.close(fig)
    return out



def loss_curves(metrics: pd.DataFrame, method: str, watch: str | None = None):
    """Every loss column of each trained row of ``method`` (one panel per variant/seed) against the step; the
    watched loss thick. A :class:`Note` when no loss log is on disk."""
    ok = ok_rows(metrics)
    rows = ok[ok["method"] == method]
    logs = []
    for _, r in rows.iterrows():
        folder = cell_folder(r)
        if folder is not None and (folder / "loss.csv").is_file():
            logs.append((f"{label(method, r['variant'])} seed {int(r.get('seed', 0))}", folder / "loss.csv"))
    if not logs:
        return Note(f"no loss log of `{method}` on this machine (the runs/ cache is not committed; run the bench "
                    "here to draw curves)")
    plt = _plt()
    fig, axes = plt.subplots(1, len(logs), figsize=(3.6 * len(logs), 2.6), squeeze=False)
    for ax, (title, path) in zip(axes[0], logs):
        cols = read_loss_log(path)
        x = cols.get("step") or list(range(len(next(iter(cols.values()), []))))
        keys = loss_keys(cols)
        for k in keys:
            y = np.asarray(cols[k], dtype=float)
            if len(y) == len(x):
                ax.plot(x, y, lw=2 if k == watch else 0.8, label=k)
        if keys and all(np.all(np.asarray(cols[k]) > 0) for k in keys):
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.legend(fontsize=6)
    fig.tight_layout()
    plt.close(fig)
    return fig


def runtime_figure(runtime: pd.DataFrame, title: str = "colorize time against resolution (batch 1)"):
    """``runtime`` (index = label, columns ``WxH``, ms per image) as ms against megapixels, log-log."""
    if runtime.empty or runtime.isna().all().all():
        return Note("no runtime figures in these results")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    mp = [math.prod(int(x) for x in s.split("x")) / 1e6 for s in runtime.columns]
    for lab, r in runtime.iterrows():
        pts = [(m, v) for m, v in zip(mp, r.values) if isinstance(v, (int, float)) and v > 0 and not math.isnan(v)]
        if pts:
            ax.plot(*zip(*pts), marker="o", ms=3, lw=1, label=lab)
    if len(runtime.columns) > 1:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("megapixels")
    ax.set_ylabel("ms per image")
    ax.set_title(title)
    ax.grid(True, which="both", lw=0.3)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    plt.close(fig)
    return fig

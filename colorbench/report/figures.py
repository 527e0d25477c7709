"""Figures for the notebooks, returned as matplotlib Figures (drawn inline, PNG at modest DPI): one method's loss
curves, runtime against resolution, and the PNGs the bench already drew (histograms, sample grids, loss curves).

A figure whose inputs are not on disk (a fresh clone has ``results/`` but not the ``runs/`` cache) comes back as
a :class:`Note` saying what is missing, so a notebook never fails on it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from colorbench.bench.plots import NOT_LOSSES, read_loss_log
from colorbench.report.load import DatasetResults, Results, cell_folder, ok_rows
from colorbench.report.tables import label

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
    import matplotlib.pyplot as plt

    return plt


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
        keys = [k for k in cols if k not in NOT_LOSSES and not k.startswith("lr")]
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

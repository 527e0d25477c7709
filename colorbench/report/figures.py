"""Every figure of the results: the PNGs ``make bench`` writes (a/b histograms against the truth, a grid of whole
test photos colourised by each method, loss curves, runtime against megapixels) and the notebooks' figures (one
method's loss curves, runtime against resolution, the bench's PNGs shown inline). The histograms are drawn from the
evaluator's own pooled counts, the very counts behind JS and KL. Series styles, legends, titles and fonts follow
:mod:`colorbench.report.style`.

A figure whose inputs are not on disk (a fresh clone has ``results/`` but not the ``runs/`` cache) comes back as
a :class:`Note` saying what is missing, so a notebook never fails on it.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from colorbench import _atomic as atomic
from colorbench.report import style
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
        return Note(f"the bench wrote no {name} figure here (no finished cell had the data for it)")
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


BENCH_DPI = style.DPI


def _baselines() -> set[str]:
    from colorbench.report.tables import baseline_methods

    return baseline_methods()


def series_styles(labels: Iterable[str]) -> dict[str, style.Style]:
    """One table's series styles (:func:`colorbench.report.style.styles`, the registry's baselines first): hand the
    result to every figure of that table so that a label looks the same in each."""
    return style.styles(labels, _baselines())


def _save(path: Path, fig: Any) -> Path:
    plt = style.pyplot()
    out = atomic.write_figure(path, fig, BENCH_DPI)
    plt.close(fig)
    return out


def _markevery(y: np.ndarray, i: int, every: int, floor: float | None = None) -> list[int]:
    """Marker positions of series ``i``: every ``every``-th point (above ``floor``), staggered by series so that
    the markers of overlapping series do not sit on each other."""
    idx = np.flatnonzero(y > floor) if floor is not None else np.arange(len(y))
    return (idx[(3 * i) % every::every] if len(idx) > (3 * i) % every else idx[:1]).tolist()  # a spike: one marker


def histograms(path: Path, hists: Mapping[str, Mapping[str, np.ndarray]], legacy: bool = False,
               styles: Mapping[str, style.Style] | None = None) -> Path | None:
    """``hists = {label: {"true_a","true_b","pred_a","pred_b": [220] counts}}``: one panel per channel, one legend
    right of both. ``styles``: the table's series styles (default: :func:`series_styles` of these labels)."""
    if not hists:
        return None
    centres = np.arange(-110, 110) + 0.5
    floor = 1e-6  # empty bins drawn at the floor, so a single-bin prediction (gray) shows as a spike
    st = style.pick(styles, hists, _baselines())

    def share(h: np.ndarray) -> np.ndarray:
        h = np.asarray(h, dtype=np.float64)
        return np.maximum(h / max(h.sum(), 1.0), floor)

    with style.rc():
        fig, axes = style.figure(1, 2, figsize=(10, 3.8), sharey=True)
        truth = next(iter(hists.values()))
        for ax, ch in zip(axes[0], "ab"):
            ax.step(centres, share(truth[f"true_{ch}"]), where="mid", label="ground truth", **style.TRUTH.kw(lw=2.2))
            for i, (lab, h) in enumerate(hists.items()):
                y = share(h[f"pred_{ch}"])
                ax.step(centres, y, where="mid", label=lab,
                        **st[lab].kw(lw=1, ms=4, markevery=_markevery(y, i, 20, floor)))
            ax.set_yscale("log")
            ax.set_ylim(floor, 1.5)
            ax.set_xlabel(f"{ch} (Lab units, 1-unit bins)")
            ax.set_xlim(-110, 110)
            style.log_ticks(ax)
        axes[0][0].set_ylabel("share of pixels (log)")
        style.legend_outside(fig, ncols=1 if len(hists) < 18 else 2)
        fig.suptitle(f"Pooled test-set histograms ({'legacy' if legacy else 'canonical'} form: normalised to sum 1)")
        return _save(path, fig)


GRID_GAP = 4
"""Pixels between two photos of the sample grid."""


def sample_grid(path: Path, samples: Mapping[str, Mapping[str, np.ndarray]], n: int = 4) -> Path | None:
    """``samples = {label: samples.npz arrays}`` (:mod:`colorbench.report.samples`) as one grid: a column per photo
    (the first ``n``), a row for the grey input, one for the truth, then one per label. Every photo is drawn at its
    own pixels, one image pixel to one PNG pixel (enlarged to :data:`colorbench.report.samples.SIDE` on the shorter
    side if smaller), so the grid shows exactly what the methods produced."""
    import math as _math

    from colorbench.report.samples import SIDE, grey, read

    sets = {lab: s for lab, arrays in samples.items() if (s := read(arrays)) is not None}
    if not sets:
        return None
    first = next(iter(sets.values()))
    n = min(n, len(first.names))
    scale = [max(1, _math.ceil(SIDE / min(t.shape[:2]))) for t in first.truth[:n]]
    widths = [t.shape[1] * k for t, k in zip(first.truth[:n], scale)]
    height = max(t.shape[0] * k for t, k in zip(first.truth[:n], scale))
    rows = [("grey input", [grey(t) for t in first.truth[:n]]), ("ground truth", first.truth[:n])]
    rows += [(lab, s.pred[:n]) for lab, s in sets.items()]
    dpi = BENCH_DPI
    px = dpi / 72.0  # pixels per point
    left = int(max(len(lab) for lab, _ in rows) * style.FONT * 0.62 * px) + 12
    top = int(style.FONT * px * 2.2)
    W = left + sum(widths) + GRID_GAP * n
    H = top + (height + GRID_GAP) * len(rows)
    plt = style.pyplot()
    with style.rc():
        fig = plt.figure(figsize=(W / dpi, H / dpi), dpi=dpi)
        x = [left + sum(widths[:j]) + GRID_GAP * j for j in range(n)]
        for j in range(n):
            fig.text((x[j] + widths[j] / 2) / W, 1 - top / 2 / H, first.names[j], ha="center", va="center")
        for i, (lab, images) in enumerate(rows):
            y = top + i * (height + GRID_GAP)
            fig.text((left - 8) / W, 1 - (y + height / 2) / H, lab, ha="right", va="center")
            for j in range(n):
                ax = fig.add_axes((x[j] / W, 1 - (y + height) / H, widths[j] / W, height / H))
                ax.set_axis_off()
                img = images[j] if j < len(images) else None
                if img is None:
                    ax.text(0.5, 0.5, "no finite output", ha="center", va="center", transform=ax.transAxes)
                    continue
                ax.imshow(img, interpolation="nearest", aspect="auto",
                          extent=(0, img.shape[1], img.shape[0], 0))
                ax.set_xlim(0, widths[j] / scale[j])
                ax.set_ylim(height / scale[j], 0)
        import io

        from PIL import Image as PILImage

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)  # no tight bbox: one image pixel to one PNG pixel
        plt.close(fig)
    out = io.BytesIO()
    image = PILImage.open(buf).convert("RGB")  # RGB: an eighth smaller than RGBA
    if Path(path).suffix.lower() in (".jpg", ".jpeg"):  # photos: a tenth of the PNG's bytes, 4:4:4 keeps the colour
        image.save(out, format="JPEG", quality=90, subsampling=0, optimize=True)
    else:
        image.save(out, format="PNG", optimize=True)
    return atomic.write_bytes(path, out.getvalue())


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


def _loss_panel(ax: Any, cols: Mapping[str, list[float]], watch: str | None,
                styles: Mapping[str, style.Style]) -> None:
    """Every finite loss column of one log against the step (the watched one thick), log y when all positive."""
    x = cols.get("step") or list(range(len(next(iter(cols.values()), []))))
    keys = loss_keys(cols)
    for i, k in enumerate(keys):
        y = np.asarray(cols[k], dtype=float)
        if len(y) == len(x) and np.all(np.isfinite(y)):
            every = max(1, len(y) // 6)
            ax.plot(x, y, label=k, **styles[k].kw(lw=2.2 if k == watch else 0.9, ms=4,
                                                  markevery=(i % every, every)))
    if keys and all(np.all(np.asarray(cols[k]) > 0) for k in keys):
        ax.set_yscale("log")
        style.log_ticks(ax)


def bench_loss_curves(path: Path, logs: Mapping[str, tuple[Path, str]]) -> Path | None:
    """``logs = {label: (loss.csv, watched loss key)}``: one panel per method (four to a row), every loss column,
    log y; a loss column has the same style in every panel and one legend under the panels names them all."""
    logs = {k: v for k, v in logs.items() if v[0] and Path(v[0]).is_file()}
    if not logs:
        return None
    parsed = {lab: read_loss_log(Path(log)) for lab, (log, _) in logs.items()}
    st = style.styles(k for cols in parsed.values() for k in loss_keys(cols))
    n = len(logs)
    ncol = min(4, n)
    nrow = math.ceil(n / ncol)
    with style.rc():
        fig, axes = style.figure(nrow, ncol, figsize=(3.2 * ncol, 2.5 * nrow + 0.3 * math.ceil(len(st) / 6) + 0.6))
        for ax in axes.flat[n:]:
            ax.set_axis_off()
        for i, (ax, (lab, (_, watch))) in enumerate(zip(axes.flat, logs.items())):
            _loss_panel(ax, parsed[lab], watch, st)
            ax.set_title(lab)
            if i + ncol >= n:  # the lowest panel of its column
                ax.set_xlabel("step")
        handles = [_handle(s, k) for k, s in st.items()]
        style.legend_outside(fig, handles, list(st), where="below", ncols=min(6, len(st)))
        fig.suptitle("Training losses per step (thick: the loss the method declares to watch)")
        return _save(path, fig)


def _handle(s: style.Style, label: str) -> Any:
    """A legend handle drawn in style ``s``."""
    from matplotlib.lines import Line2D

    return Line2D([], [], label=label, **s.kw(lw=1.2, ms=4))


def runtime_plot(path: Path, table: Mapping[str, Mapping[str, Mapping[str, Any]]],
                 styles: Mapping[str, style.Style] | None = None) -> Path | None:
    """``table = {label: {"WxH": entry}}`` (see :func:`colorbench.report.runtime.entries`): ms/img vs megapixels,
    log-log, legend right of the axes. ``styles``: the profile's series styles (default: of these labels)."""
    series = {}
    for lab, per in table.items():
        pts = []
        for size, e in per.items():
            ms = e.get("ms")
            if e.get("status", "ok") == "ok" and isinstance(ms, (int, float)) and ms > 0:
                w, h = (int(s) for s in size.split("x"))
                pts.append((w * h / 1e6, ms))
        if pts:
            series[lab] = sorted(pts)
    if not series:
        return None
    st = style.pick(styles, series, _baselines())
    with style.rc():
        fig, axes = style.figure(figsize=(7.5, 4.2))
        ax = axes[0][0]
        for lab in style.order(series, _baselines()):
            ax.loglog(*zip(*series[lab]), label=lab, **st[lab].kw(ms=5, lw=1))
        ax.set_xlabel("megapixels")
        ax.set_ylabel("ms per image")
        ax.set_title("colorize time against image size (batch 1)")
        ax.grid(True, which="both", lw=0.3)
        style.log_ticks(ax, "x")
        style.log_ticks(ax, "y")
        style.legend_outside(ax, ncols=1 if len(series) <= 16 else 2)
        return _save(path, fig)


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
    plt = style.pyplot()
    parsed = [(title, read_loss_log(path)) for title, path in logs]
    st = style.styles(k for _, cols in parsed for k in loss_keys(cols))
    with style.rc():
        fig, axes = style.figure(1, len(logs), figsize=(3.4 * len(logs) + 1.4, 2.8))
        for ax, (title, cols) in zip(axes[0], parsed):
            _loss_panel(ax, cols, watch, st)
            ax.set_title(title)
            ax.set_xlabel("step")
        style.legend_outside(fig, [_handle(s, k) for k, s in st.items()], list(st))
    plt.close(fig)
    return fig


def runtime_figure(runtime: pd.DataFrame, title: str = "colorize time against resolution (batch 1)",
                   styles: Mapping[str, style.Style] | None = None):
    """``runtime`` (index = label, columns ``WxH``, ms per image) as ms against megapixels, log-log; legend right
    of the axes. ``styles``: a wider table's series styles (:func:`series_styles`), so that a subset of its rows
    keeps their looks; default: the styles of these rows."""
    if runtime.empty or runtime.isna().all().all():
        return Note("no runtime figures in these results")
    plt = style.pyplot()
    mp = [math.prod(int(x) for x in s.split("x")) / 1e6 for s in runtime.columns]
    series = {}
    for lab, r in runtime.iterrows():
        pts = [(m, v) for m, v in zip(mp, r.values) if isinstance(v, (int, float)) and v > 0 and not math.isnan(v)]
        if pts:
            series[str(lab)] = pts
    st = style.pick(styles, series, _baselines())
    with style.rc():
        fig, axes = style.figure(figsize=(7, 3.6))
        ax = axes[0][0]
        for lab in style.order(series, _baselines()):
            ax.plot(*zip(*series[lab]), label=lab, **st[lab].kw(ms=5, lw=1))
        if len(runtime.columns) > 1:
            ax.set_xscale("log")
            style.log_ticks(ax, "x")
        ax.set_yscale("log")
        style.log_ticks(ax, "y")
        ax.set_xlabel("megapixels")
        ax.set_ylabel("ms per image")
        ax.set_title(title)
        ax.grid(True, which="both", lw=0.3)
        style.legend_outside(ax, ncols=1 if len(series) <= 16 else 2)
    plt.close(fig)
    return fig

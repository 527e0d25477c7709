"""One look for every figure the suite draws: a stable, distinct style per series, legends outside the data,
titles that never cover each other, fonts people can read.

**Series styles.** A series is named by its label (``"c2f [base]"``, a loss column, ...). :func:`styles` orders the
labels of one table (baselines first, then the rest; each group sorted by label) and gives the label at position
``i``

* colour ``PALETTE[i % 20]`` (:data:`PALETTE`: matplotlib's ``tab10``, then ten colours picked to be as far as
  possible, in CIEDE2000, from those and from each other, at a lightness that reads on white),
* marker ``MARKERS[i % 11]``,
* line style ``LINESTYLES[(i // 10) % 4]`` (solid for the first ten, dashed for the next ten, ...).

Two labels share colour and marker only 220 positions apart, and colour and line style only 40 apart, so every
series of a figure of up to 220 series has its own (colour, marker, line style) triple. The style depends only on
the set of labels and which are baselines, never on the order a figure meets them, so the same label looks the same
in every figure drawn from one table (the bench passes one mapping over every label of a profile to all its
figures). :data:`TRUTH` (thick black, no marker) is reserved for the ground truth.

**Layout.** :func:`figure` makes figures with matplotlib's constrained layout, so ``fig.suptitle`` sits above the
panel titles and a legend placed by :func:`legend_outside` (right of the axes, or below the figure) gets room of its
own instead of covering data. Use ``fig.suptitle`` for a figure's title, the axes title for a panel's; never place
text by hand. :func:`rc` sets the font sizes (:data:`FONT` pt for text, :data:`SMALL` pt for ticks and legends: at
the bench's :data:`DPI` that is at least 11 px).
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Any, Collection, Iterable, Iterator, Mapping

PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#3c4b00", "#0f00e1", "#87005a", "#007869", "#966900", "#e10078", "#d27878", "#4b4b87", "#87874b", "#693c00",
)
"""20 qualitative colours: ``tab10``, then ten picked greedily (largest smallest CIEDE2000 distance to every colour
already chosen, among colours of lightness 28-62 and chroma above 30); no two are closer than ΔE00 16."""
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*", "h")
"""11 markers: a count coprime with the palette's 20, so colour and marker repeat together only every 220."""
LINESTYLES: tuple[str, ...] = ("-", "--", "-.", ":")
"""The line style changes every :data:`PER_LINESTYLE` series."""
PER_LINESTYLE = 10

FONT = 10
SMALL = 9
DPI = 100
"""Resolution of the PNGs the bench writes."""


@dataclass(frozen=True)
class Style:
    """How one series is drawn."""

    color: str
    marker: str
    linestyle: str

    def kw(self, **extra: Any) -> dict[str, Any]:
        """Keyword arguments for ``ax.plot`` / ``ax.step`` (``extra`` added, e.g. ``lw`` or ``markevery``)."""
        return {"color": self.color, "marker": self.marker, "linestyle": self.linestyle, **extra}


TRUTH = Style("black", "", "-")
"""The ground truth's line: black (no palette colour is black), no marker."""


def style_at(i: int) -> Style:
    """The style of position ``i`` (see the module docstring)."""
    return Style(PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)],
                 LINESTYLES[(i // PER_LINESTYLE) % len(LINESTYLES)])


def _method(label: str) -> str:
    return label.split(" [", 1)[0]


def order(labels: Iterable[str], baselines: Collection[str] = ()) -> list[str]:
    """The distinct ``labels`` in style order: baselines first (a label is one when it, or its method, the part
    before ``" ["``, is in ``baselines``), then the others; each group sorted."""
    distinct = set(labels)
    return sorted(distinct, key=lambda lab: (not (lab in baselines or _method(lab) in baselines), lab))


def styles(labels: Iterable[str], baselines: Collection[str] = ()) -> dict[str, Style]:
    """``{label: Style}`` for every distinct label, by position in :func:`order`."""
    return {lab: style_at(i) for i, lab in enumerate(order(labels, baselines))}


def pick(mapping: Mapping[str, Style] | None, labels: Iterable[str], baselines: Collection[str] = ()
         ) -> dict[str, Style]:
    """``mapping`` when it styles every one of ``labels`` (a table-wide mapping handed down), else
    :func:`styles` of ``labels``."""
    labels = list(labels)
    if mapping is not None and all(lab in mapping for lab in labels):
        return dict(mapping)
    return styles(labels, baselines)


@contextlib.contextmanager
def rc() -> Iterator[None]:
    """Font sizes of every figure (:data:`FONT`, :data:`SMALL`); the figure's dpi is left to the caller."""
    import matplotlib

    with matplotlib.rc_context({"font.size": FONT, "axes.titlesize": FONT, "axes.labelsize": FONT,
                                "xtick.labelsize": SMALL, "ytick.labelsize": SMALL, "legend.fontsize": SMALL,
                                "legend.title_fontsize": SMALL, "figure.titlesize": FONT + 1}):
        yield


def pyplot():
    """``matplotlib.pyplot`` on a non-interactive backend (Agg) unless an inline one is already in use."""
    import matplotlib

    backend = matplotlib.get_backend().lower()
    if backend != "agg" and "inline" not in backend:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], **kw: Any):
    """``plt.subplots`` with constrained layout, ``squeeze=False``: ``(fig, axes[nrows][ncols])``. Call it inside
    :func:`rc` so that the fonts apply."""
    plt = pyplot()
    return plt.subplots(nrows, ncols, figsize=figsize, layout="constrained", squeeze=False, **kw)


def legend_outside(target: Any, handles: list | None = None, labels: list[str] | None = None, *,
                   where: str = "right", ncols: int | None = None, **kw: Any):
    """A legend outside the data: ``target`` an Axes (its legend to the right of it) or a Figure made by
    :func:`figure` (one legend for every panel, right of the panels or, ``where="below"``, under them; constrained
    layout gives it room). ``handles``/``labels`` default to those of the axes (of the figure's first axes that has
    any). ``ncols`` defaults to one column at the right, and up to four below."""
    from matplotlib.figure import Figure

    if where not in ("right", "below"):
        raise ValueError(f"where must be 'right' or 'below'; got {where!r}")
    if handles is None:
        axes = target.axes if isinstance(target, Figure) else [target]
        for ax in axes:
            handles, labels = ax.get_legend_handles_labels()
            if handles:
                break
    n = len(handles or [])
    if ncols is None:
        ncols = 1 if where == "right" else max(1, min(4, n))
    if isinstance(target, Figure):
        loc = "outside right upper" if where == "right" else "outside lower center"
        return target.legend(handles, labels, loc=loc, ncols=ncols, **kw)
    if where == "right":
        return target.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                             ncols=ncols, **kw)
    return target.figure.legend(handles, labels, loc="outside lower center", ncols=ncols, **kw)


def log_ticks(ax: Any, axis: str = "y") -> None:
    """Plain tick labels on a log axis (``0.03``, ``10``, ``10,000``, ``1e-05``; never a mathtext ``3.6×10⁻²``),
    minor ones only where the axis spans less than about a decade (matplotlib's own rule), so they do not crowd the
    panel."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(_plain_log()())
    target.set_minor_formatter(_plain_log()(labelOnlyBase=False, minor_thresholds=(1, 0.4)))


@functools.lru_cache(maxsize=1)
def _plain_log() -> type:
    """matplotlib's ``LogFormatter`` (which decides which ticks get a label) writing ``%.3g`` numbers (thousands to
    millions in full: ``10,000``)."""
    from matplotlib import ticker

    class PlainLogFormatter(ticker.LogFormatter):
        def __call__(self, x: float, pos: int | None = None) -> str:
            if not super().__call__(x, pos):
                return ""
            return f"{x:,.0f}" if 1000 <= abs(x) < 1e7 else f"{x:.3g}"

    return PlainLogFormatter

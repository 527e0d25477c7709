"""The quality-vs-compute frontier: every train cell's curve (its val scores at points along its training, with the
FLOPs and images spent by then; :mod:`colorbench.bench.compute`) as one table, ``curves.csv``, and one figure,
``frontier.png``: val PSNR and val mean |Δab| against training FLOPs (log), a series per method (the mean over
seeds, the seeds' range as a band), each in its own colour and marker (:mod:`colorbench.report.style`). A method
that spends no training FLOPs (the baselines) is a horizontal reference line at its last score.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from colorbench import _atomic as atomic
from colorbench.report import style
from colorbench.report.tables import baseline_methods, label

PANELS: tuple[tuple[str, str], ...] = (("val_psnr", "val PSNR (dB) ↑"), ("val_mae_ab", "val mean |Δab| (ab/110) ↓"))
"""``(curves.csv column, axis label)`` of each panel."""
IDENTITY = ("method", "variant", "seed", "key")


def curve_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``curves.csv``'s rows from cell rows: one per curve point of every finished row, its identity (method,
    variant, seed, cell key) then the point (``step``, ``train_flops``, ``train_images``, ``val_<figure>``...)."""
    out = []
    for r in rows:
        if r.get("status") != "ok":
            continue
        ident = {"method": r["method"], "variant": r.get("variant") or "default", "seed": r.get("seed"),
                 "key": r.get("key")}
        for p in r.get("curve") or []:  # fixed column order: the point, then its figures by name
            head = {k: p[k] for k in ("step", "train_flops", "train_images") if k in p}
            out.append({**ident, **head, **{k: p[k] for k in sorted(p) if k not in head}})
    return out


def summarise(curves: pd.DataFrame) -> pd.DataFrame:
    """One row per (label, step): ``train_flops``, ``seeds`` and, for every panel's column, its ``_mean``, ``_min``
    and ``_max`` over seeds (every seed of a cell trains the same steps at the same cost)."""
    if curves.empty:
        return pd.DataFrame()
    frame = curves.assign(label=[label(m, v) for m, v in zip(curves["method"], curves["variant"])])
    cols = [c for c, _ in PANELS if c in frame]
    agg: dict[str, Any] = {"train_flops": ("train_flops", "max"), "seeds": ("seed", "nunique")}
    for c in cols:
        agg.update({f"{c}_mean": (c, "mean"), f"{c}_min": (c, "min"), f"{c}_max": (c, "max")})
    return frame.groupby(["label", "step"], sort=True).agg(**agg).reset_index()


def frontier_plot(path: Path, curves: pd.DataFrame, styles: Mapping[str, style.Style] | None = None) -> Path | None:
    """``frontier.png`` from ``curves.csv``'s frame (None when it has no point): a panel per :data:`PANELS` entry,
    training FLOPs on a log x axis, the legend outside the panels. ``styles``: the table's series styles (default:
    :func:`colorbench.report.style.styles` of these labels, baselines first)."""
    s = summarise(curves)
    if s.empty:
        return None
    baselines = baseline_methods()
    st = style.pick(styles, s["label"].unique(), baselines)
    spent = s.groupby("label")["train_flops"].max()
    trained = [lab for lab in style.order(s["label"].unique(), baselines) if spent[lab] > 0]
    free = [lab for lab in style.order(s["label"].unique(), baselines) if spent[lab] <= 0]
    with style.rc():
        fig, axes = style.figure(1, len(PANELS), figsize=(5.2 * len(PANELS), 4.0))
        for ax, (col, name) in zip(axes[0], PANELS):
            if f"{col}_mean" not in s:
                continue
            for lab in trained:
                part = s[(s["label"] == lab) & (s["train_flops"] > 0)].sort_values("train_flops")
                x = part["train_flops"].to_numpy(dtype=float)
                ax.plot(x, part[f"{col}_mean"], label=lab, **st[lab].kw(lw=1.4, ms=5))
                if int(part["seeds"].max()) > 1:  # the seeds' range
                    ax.fill_between(x, part[f"{col}_min"], part[f"{col}_max"], color=st[lab].color, alpha=0.15,
                                    lw=0)
            for lab in free:
                last = s[s["label"] == lab].sort_values("step").iloc[-1]
                value = last[f"{col}_mean"]
                if np.isfinite(value):
                    ax.axhline(value, color=st[lab].color, linestyle=":", lw=1.2,
                               label=f"{lab} (no training FLOPs)")
            ax.set_xscale("log")
            style.log_ticks(ax, "x")
            ax.set_xlabel("training FLOPs (log)")
            ax.set_ylabel(name)
        style.legend_outside(fig, where="below")
        n = int(s["seeds"].max())
        fig.suptitle("Quality along the training budget (val split): mean over seeds" +
                     (f", band: range of {n} seeds" if n > 1 else ""))
        plt = style.pyplot()
        out = atomic.write_figure(path, fig, style.DPI)
        plt.close(fig)
        return out

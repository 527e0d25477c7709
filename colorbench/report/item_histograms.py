"""Each test item's own a and b histogram counts, for every cell of one dataset: what a bootstrap over test photos
re-pools to resample the pooled JS and KL figures (:mod:`colorbench.report.pooled`).

The bench writes them beside ``per_image.csv`` as ``item_histograms.npz`` (compressed, no pickles):

* ``image`` ``[N]`` int64: the item ids (``per_image.csv``'s ``image``), ascending;
* ``truth`` ``[N, 2, 220]``: the ground truth's counts of each item (a, b; the same in every cell);
* ``pred`` ``[R, N, 2, 220]``: each cell's counts of the same items, and ``method``, ``variant``, ``seed`` ``[R]``
  naming the cells.

Counts are stored as uint16 when every count fits, else uint32. Results written before the bench kept these have
no such file: their pooled figures cannot be resampled over photos, and the tables say so.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

FILE = "item_histograms.npz"

Key = tuple[str, str, int]  # (method, variant, seed)


@dataclass
class ItemHistograms:
    """Per-item counts of one dataset's cells (see the module docstring); ``pred[(method, variant, seed)]`` is
    ``[N, 2, 220]`` aligned with ``image``."""

    image: np.ndarray
    truth: np.ndarray
    pred: dict[Key, np.ndarray] = field(default_factory=dict)

    def seeds(self, method: str, variant: str) -> list[int]:
        """The seeds of ``(method, variant)`` that have counts, ascending."""
        return sorted(s for m, v, s in self.pred if m == method and v == str(variant))


def collect(cells: Iterable[tuple[Key, Mapping[str, np.ndarray]]]) -> ItemHistograms | None:
    """Join cells' evaluator histograms (``hist.npz`` contents with ``items_true`` / ``items_pred`` ``[N,2,220]``
    in record order, i.e. item ids ``0..N-1``) into one :class:`ItemHistograms`; cells without per-item counts are
    left out; None when none has them. ValueError when two cells disagree on the truth's counts (different test
    items under one dataset)."""
    truth, pred = None, {}
    for (method, variant, seed), hist in cells:
        if "items_true" not in hist or "items_pred" not in hist:
            continue
        t = np.asarray(hist["items_true"])
        if truth is None:
            truth = t
        elif t.shape != truth.shape or not np.array_equal(t, truth):
            raise ValueError(f"item histograms: cell {method} [{variant}] seed {seed} was scored on other test items "
                             "than the first cell (its truth counts differ)")
        pred[(str(method), str(variant), int(seed))] = np.asarray(hist["items_pred"])
    if truth is None:
        return None
    return ItemHistograms(np.arange(len(truth), dtype=np.int64), truth, pred)


def _compact(counts: np.ndarray) -> np.ndarray:
    return counts.astype(np.uint16 if counts.size == 0 or int(counts.max()) < 2 ** 16 else np.uint32)


def to_bytes(h: ItemHistograms) -> bytes:
    """The ``.npz`` file's bytes (see the module docstring)."""
    keys = sorted(h.pred)
    buf = io.BytesIO()
    np.savez_compressed(
        buf, image=np.asarray(h.image, dtype=np.int64), truth=_compact(np.asarray(h.truth)),
        pred=_compact(np.stack([h.pred[k] for k in keys])) if keys else np.zeros((0, *h.truth.shape), np.uint16),
        method=np.array([k[0] for k in keys], dtype=str), variant=np.array([k[1] for k in keys], dtype=str),
        seed=np.array([k[2] for k in keys], dtype=np.int64))
    return buf.getvalue()


def read(path: Path) -> ItemHistograms | None:
    """An ``item_histograms.npz`` (None when the file is absent)."""
    path = Path(path)
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        pred = {(str(m), str(v), int(s)): z["pred"][i] for i, (m, v, s) in
                enumerate(zip(z["method"], z["variant"], z["seed"]))}
        return ItemHistograms(z["image"].astype(np.int64), z["truth"], pred)

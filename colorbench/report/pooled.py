"""Bootstrap replicates of the pooled histogram divergences (JS and KL of the a and b histograms,
:mod:`colorbench.metrics.histogram`): a figure pooled over every test pixel has no per-image values, so each
resample re-pools the drawn photos' own counts, per seed, and scores the pooled histograms as the evaluator does
(canonical form: normalised to sum 1; legacy form: KL of mean counts per image). With every photo and seed drawn
once a replicate is the row's reported figure (up to float rounding).

The pooled counts of a resample are integer sums (exact in float64); bins empty in the truth and in every seed of
the row add exactly 0 to either divergence and are left out. The truth's terms are computed once per table
(:class:`PooledTruth`), the prediction's for all seeds of a row at once.
"""
from __future__ import annotations

import numpy as np

from colorbench.metrics.histogram import EPS
from colorbench.report.bootstrap import Design

FIGURES = ("js_a", "js_b", "kl_a", "kl_b")
_CACHE_ELEMENTS = 1 << 15


def _xlogx(x: np.ndarray) -> np.ndarray:
    """``x·ln x`` with 0 for x = 0."""
    return x * np.log(np.where(x > 0, x, 1.0))


class PooledTruth:
    """The truth's side of every resample of one table: per block and channel its pooled counts, normalised (or
    mean counts per image, legacy form), ``Σ t ln t`` and ``Σ (t+ε) ln(t+ε)`` over the bins it fills.

    ``truth``: ``[N, 2, bins]`` counts of each of the design's items (a, b)."""

    def __init__(self, design: Design, truth: np.ndarray, legacy: bool = False) -> None:
        truth = np.asarray(truth, dtype=np.float64)
        if truth.ndim != 3 or truth.shape[:2] != (design.n_items, 2):
            raise ValueError(f"PooledTruth: truth must be [{design.n_items}, 2, bins]; got {truth.shape}")
        self.design, self.legacy = design, legacy
        self.item_pixels = truth.sum(axis=2)  # [N, 2]
        self.photo = [design.per_photo(truth[:, ch]) for ch in range(2)]  # [P, bins] per channel, exact
        self.blocks = []
        for start, w in design.blocks():
            per = []
            for ch in range(2):
                counts = w @ self.photo[ch]  # [b, bins]
                total = counts.sum(axis=1, keepdims=True)
                t = counts / total
                scaled = counts / (w @ design.photo_sizes)[:, None] if legacy else t
                filled = self.photo[ch].sum(axis=0) > 0
                per.append((t, scaled, _xlogx(t).sum(axis=1), _xlogx(scaled[:, filled] + EPS).sum(axis=1)))
            self.blocks.append((start, w, per))


def pooled_replicates(truth: PooledTruth, pred: np.ndarray, draws: np.ndarray) -> dict[str, np.ndarray]:
    """``{"js_a", "js_b", "kl_a", "kl_b"}`` → ``[resamples]`` replicates of one row's pooled figures: the mean
    over its drawn seeds of each seed's figure on the drawn photos.

    ``pred``: ``[S, N, 2, bins]`` the row's seeds' counts of the design's items (every item's pixels counted once
    per channel, as in the truth); ``draws``: ``[resamples, S]`` its seed draws."""
    design = truth.design
    pred = np.asarray(pred, dtype=np.float64)
    seeds = pred.shape[0]
    if pred.ndim != 4 or pred.shape[1:3] != (design.n_items, 2):
        raise ValueError(f"pooled_replicates: pred must be [seeds, {design.n_items}, 2, bins]; got {pred.shape}")
    if draws.shape != (design.resamples, seeds):
        raise ValueError(f"pooled_replicates: draws must be [{design.resamples}, {seeds}]; got {draws.shape}")
    if not np.array_equal(pred.sum(axis=3), np.broadcast_to(truth.item_pixels, pred.shape[:3])):
        raise ValueError("pooled_replicates: a seed's item counts do not add up to the truth's pixel counts")
    out = {name: np.empty(design.resamples) for name in FIGURES}
    for ch, channel in enumerate("ab"):
        used = (truth.photo[ch].sum(axis=0) > 0) | (pred[:, :, ch].sum(axis=(0, 1)) > 0)
        k = int(used.sum())
        # [P, S*K]: every seed's counts per photo, one matrix product per block for all seeds
        photo = np.concatenate([design.per_photo(pred[s, :, ch][:, used]) for s in range(seeds)], axis=1)
        empty = int((truth.photo[ch].sum(axis=0)[used] == 0).sum())  # bins of this row the truth leaves empty
        step = max(8, _CACHE_ELEMENTS // (seeds * k))  # resamples at a time: temporaries stay in cache
        for first, block, per in truth.blocks:
            t_all, scaled_all, t_logt_all, tk_logtk_all = per[ch]
            # one product per block (small products pay a threaded BLAS's start-up thousands of times)
            counts_all = (block @ photo).reshape(len(block), seeds, k)  # [b, S, K]
            images_all = block @ design.photo_sizes
            for i in range(0, len(block), step):
                rows = slice(first + i, first + min(i + step, len(block)))
                t, scaled = t_all[i:i + step, None, used], scaled_all[i:i + step, None, used]  # [b, 1, K]
                counts = counts_all[i:i + step]
                p = counts / counts.sum(axis=2, keepdims=True)
                js = (t_logt_all[i:i + step, None] + _xlogx(p).sum(axis=2)) / 2.0 - _xlogx((t + p) / 2.0).sum(axis=2)
                p_scaled = counts / images_all[i:i + step, None, None] if truth.legacy else p
                # Σ (t+ε) ln(t+ε) over this row's bins: the truth's own, plus ε ln ε for each bin it leaves empty
                tk_logtk = tk_logtk_all[i:i + step] + empty * EPS * np.log(EPS)
                kl = tk_logtk[:, None] - ((scaled + EPS) * np.log(p_scaled + EPS)).sum(axis=2)
                c = draws[rows]
                out[f"js_{channel}"][rows] = (js * c).sum(axis=1) / seeds
                out[f"kl_{channel}"][rows] = (kl * c).sum(axis=1) / seeds
    return out

"""The tables' statistics on constructed cases with known answers: the two-level bootstrap (photos as clusters,
seeds per row), its p-values, Holm's correction and the family it runs over, the pooled figures re-pooled from
per-item histograms, and the per-seed degenerate-output flags."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import torch

from colorbench.evaluator import Evaluator
from colorbench.metrics import ab_counts, ab_counts_per_image, divergence_from_histograms
from colorbench.metrics.histogram import AbHistogram
from colorbench.report import bootstrap, item_histograms, multiplicity, stats, tables
from colorbench.report.bootstrap import Design, interval, mean_replicates, p_value
from colorbench.report.flags import seed_flags
from colorbench.report.pooled import PooledTruth, pooled_replicates


def _exact_quantiles(values: list[float], draws: int, level: float = 0.95) -> tuple[float, float]:
    """Exact lower/upper ``level`` quantiles of the mean of ``draws`` iid draws from the equally likely ``values``
    (integers), by convolution."""
    pmf = np.zeros(max(values) + 1)
    for v in values:
        pmf[v] += 1 / len(values)
    dist = np.array([1.0])
    for _ in range(draws):
        dist = np.convolve(dist, pmf)
    cdf = np.cumsum(dist)
    tail = (1 - level) / 2
    return int(np.searchsorted(cdf, tail)) / draws, int(np.searchsorted(cdf, 1 - tail)) / draws


# ------------------------------------------------------------------------------------- p-values, Holm
def test_p_value_counts_the_replicates_beyond_zero():
    d = np.r_[np.full(130, -0.5), np.full(20, 0.0), np.linspace(0.01, 3, 9850)]
    # 150 replicates at or below 0, 9870 at or above: twice the smaller share
    assert p_value(d) == pytest.approx(2 * 150 / 10_000)
    assert p_value(np.full(100, 0.0)) == 1.0 and p_value(np.linspace(1, 2, 50)) == 0.0
    assert p_value(-np.r_[np.full(130, -0.5), np.linspace(0.01, 3, 9870)]) == pytest.approx(0.026)


def test_bootstrap_p_value_matches_the_t_test_on_a_large_normal_sample():
    z = np.random.default_rng(7).normal(0.0, 1.0, 400)
    x = (z - z.mean()) / z.std(ddof=1) + 0.12  # t = 0.12 * sqrt(400) = 2.4 exactly
    reps = mean_replicates(Design(np.arange(x.size)), x[None, :], np.ones((bootstrap.RESAMPLES, 1)))
    expected = scipy.stats.ttest_1samp(x, 0.0).pvalue
    assert expected == pytest.approx(2 * scipy.stats.t.sf(2.4, 399))  # 0.0169
    assert p_value(reps) == pytest.approx(expected, rel=0.2)


def test_holm_on_a_worked_example():
    p = [0.01, 0.015, 0.03, 0.005, 0.2]
    # sorted: 0.005 ≤ 0.05/5, 0.01 ≤ 0.05/4, 0.015 ≤ 0.05/3, then 0.03 > 0.05/2: stop
    assert multiplicity.holm(p, 0.05).tolist() == [True, True, False, True, False]
    assert [v <= multiplicity.bonferroni_level(0.05, 5) for v in p] == [True, False, False, True, False]
    assert multiplicity.holm_adjusted(p) == pytest.approx([0.04, 0.045, 0.06, 0.025, 0.2])
    assert multiplicity.holm([0.02, math.nan], 0.05).tolist() == [True, False]  # NaN counts in m: 0.02 ≤ 0.05/2
    assert multiplicity.holm([0.03, math.nan], 0.05).tolist() == [False, False]  # 0.03 > 0.05/2


def test_holm_agrees_with_statsmodels():
    sm = pytest.importorskip("statsmodels.stats.multitest")
    p = np.random.default_rng(3).uniform(0, 0.03, 40) ** 1.5
    reject, adjusted, _, _ = sm.multipletests(p, alpha=0.05, method="holm")
    assert multiplicity.holm(p, 0.05).tolist() == reject.tolist()
    assert multiplicity.holm_adjusted(p) == pytest.approx(adjusted)


# ----------------------------------------------------------------------------- the two-level bootstrap
def _clustered() -> tuple[np.ndarray, np.ndarray]:
    """4 photos x 10 identical crops: photo p's crops all score p."""
    photos = np.repeat(np.arange(4), 10)
    return photos.astype(float), photos


def test_photo_clustering_widens_the_interval_to_its_known_value():
    values, photos = _clustered()
    ones = np.ones((bootstrap.RESAMPLES, 1))
    patch = interval(mean_replicates(Design(np.arange(40)), values[None], ones), 0.95)
    photo = interval(mean_replicates(Design(np.arange(40), photos), values[None], ones), 0.95)
    # crops as independent: the mean of 40 draws from {0,1,2,3}; photos: the mean of 4 such draws
    lo, hi = _exact_quantiles([0, 1, 2, 3], 40)
    assert (lo, hi) == (1.15, 1.85)  # normal theory: 1.5 ± 1.96·sqrt(1.25/40) = [1.153, 1.847]
    assert patch[0] == pytest.approx(lo, abs=0.025) and patch[1] == pytest.approx(hi, abs=0.025)
    assert _exact_quantiles([0, 1, 2, 3], 4) == (0.5, 2.5)
    assert photo == (0.5, 2.5)


def test_rows_are_paired_on_the_same_photo_draws():
    values, photos = _clustered()
    design = Design(np.arange(40), photos)
    ones = np.ones((bootstrap.RESAMPLES, 1))
    a = mean_replicates(design, values[None], ones)
    b = mean_replicates(design, values[None] + 0.25, ones)  # wide intervals each, a constant gap
    assert interval(b - a, 0.95) == (0.25, 0.25) and p_value(a - b) == 0.0


def test_seed_resampling_widens_the_interval_when_seeds_disagree():
    design = Design(np.arange(12), np.repeat(np.arange(4), 3))
    base = np.full(12, 20.0)
    agree = np.stack([base, base, base])
    disagree = np.stack([base - 1, base, base + 1])
    assert interval(mean_replicates(design, agree, design.seed_draws(3, "row")), 0.95) == (20.0, 20.0)
    # the mean of 3 draws from {-1, 0, 1}: P(all -1) = 1/27 > 2.5%, so the interval is its whole range
    assert interval(mean_replicates(design, disagree, design.seed_draws(3, "row")), 0.95) == (19.0, 21.0)
    np.testing.assert_array_equal(design.seed_draws(3, "row"), design.seed_draws(3, "row"))  # seeded by label
    assert not np.array_equal(design.seed_draws(3, "row"), design.seed_draws(3, "other row"))


def test_missing_values_and_sums_that_do_not_depend_on_order():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (3, 30)) * 1e3 + 1e-9 * rng.normal(0, 1, (3, 30))
    x[1, 4] = np.nan
    ids = np.arange(30)
    design = Design(ids, ids // 3)
    draws = design.seed_draws(3, "r")
    reps = mean_replicates(design, x, draws)
    # the same items under reversed ids: every photo sums its crops in the opposite order, to the same bits
    backwards = Design(29 - ids, ids // 3)
    np.testing.assert_array_equal(mean_replicates(backwards, x[:, ::-1], draws), reps)
    one_photo = Design(ids, np.zeros(30))  # every resample draws the one photo once
    assert mean_replicates(one_photo, x, np.ones((bootstrap.RESAMPLES, 3)))[0] == pytest.approx(np.nanmean(x),
                                                                                              rel=1e-12)


def test_design_falls_back_to_items_and_rejects_an_item_with_two_photos():
    from colorbench.report.replicates import design_of

    per_image = pd.DataFrame({"image": [0, 1, 2, 0, 1, 2], "seed": [0, 0, 0, 1, 1, 1]})
    assert design_of(per_image).n_photos == 3
    per_image["photo"] = ["a", "a", "b", "a", "a", "b"]
    assert design_of(per_image).n_photos == 2
    per_image.loc[3, "photo"] = "b"
    with pytest.raises(ValueError, match="more than one photo"):
        design_of(per_image)


def test_compat_intervals_are_the_one_level_case():
    x = np.random.default_rng(1).normal(25.0, 2.0, 400)
    lo, hi = stats.mean_interval(x)
    assert (hi - lo) / 2 == pytest.approx(1.96 * x.std(ddof=1) / math.sqrt(x.size), rel=0.05)
    assert stats.paired_interval([1.0], [0.5]) == (0.5, 0.5)


# ------------------------------------------------------------------------------------ pooled figures
class _Once(Design):
    """Every photo drawn once: the replicate is the figure itself."""

    def __init__(self, n: int) -> None:
        super().__init__(np.arange(n), np.arange(n) // 2, resamples=1)

    def blocks(self):
        yield 0, np.ones((1, self.n_photos))


def _items(seed: int, n: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    true_ab = (torch.rand(n, 2, 12, 12, generator=g) - 0.5) * 0.8
    pred_ab = (torch.rand(n, 2, 12, 12, generator=g) - 0.5) * 0.5 + 0.1
    return true_ab, pred_ab


@pytest.mark.parametrize("legacy", [False, True])
def test_pooled_figure_at_unit_weights_is_the_evaluators_figure(legacy):
    truth, preds, expected = None, [], {}
    for seed in range(3):
        true_ab, pred_ab = _items(0)[0], _items(seed + 1)[1]
        truth = ab_counts_per_image(true_ab).numpy()
        preds.append(ab_counts_per_image(pred_ab).numpy())
        ht, hp = AbHistogram(), AbHistogram()
        ht.update(true_ab)
        hp.update(pred_ab)
        for k, v in divergence_from_histograms(ht, hp, legacy=legacy).items():
            if k in ("js_a", "js_b", "kl_a", "kl_b"):
                expected.setdefault(k, []).append(v)
    design = _Once(6)
    reps = pooled_replicates(PooledTruth(design, truth, legacy), np.stack(preds), np.ones((1, 3)))
    for k, vals in expected.items():
        assert reps[k][0] == pytest.approx(np.mean(vals), rel=1e-12, abs=1e-15), k


def test_per_image_counts_sum_to_the_pooled_counts_and_travel_with_the_evaluation():
    true_ab, pred_ab = _items(4)
    per = ab_counts_per_image(pred_ab)
    assert per.shape == (6, 2, 220) and torch.equal(per.sum(0), ab_counts(pred_ab))
    assert torch.equal(per[2], ab_counts(pred_ab[2:3]))
    ev = Evaluator("toy")
    L = torch.zeros(6, 1, 12, 12)
    for sl in (slice(0, 4), slice(4, 6)):
        ev.update(pred_ab[sl], {"L": L[sl], "ab": true_ab[sl]})
    items = torch.cat(ev.item_counts)
    assert torch.equal(items[:, 0].sum(0), ev.hist_true.counts) and torch.equal(items[:, 1], per)


def test_item_histograms_round_trip(tmp_path):
    truth = np.random.default_rng(0).integers(0, 50, (5, 2, 220))
    cells = [(("unet_l1", "default", s), {"items_true": truth, "items_pred": truth + s}) for s in range(2)]
    joined = item_histograms.collect(cells + [(("gray", "default", 0), {"true_a": np.zeros(220)})])
    path = tmp_path / item_histograms.FILE
    path.write_bytes(item_histograms.to_bytes(joined))
    back = item_histograms.read(path)
    assert back.seeds("unet_l1", "default") == [0, 1] and back.seeds("gray", "default") == []
    np.testing.assert_array_equal(back.truth, truth)
    np.testing.assert_array_equal(back.pred[("unet_l1", "default", 1)], truth + 1)
    with pytest.raises(ValueError, match="other test items"):
        item_histograms.collect([cells[0], (("c2f", "base", 0), {"items_true": truth + 1, "items_pred": truth})])


# ------------------------------------------------------------------------------------------ flags
def _seeds(method: str, **cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    base = {"kind": "train", "method": method, "variant": "default", "dataset": "d", "seed": list(range(n)),
            "status": "ok", "psnr": [20.0] * n, "ab_std_true": [15.0] * n, "colorfulness_true": [35.0] * n}
    base.update(cols)
    return pd.DataFrame(base)


def test_degenerate_rules_per_seed_relative_to_the_truth():
    # flat below 0.2 x 15 = 3.0; over-saturated above 2.5 x 35 = 87.5
    sf = seed_flags(_seeds("unet_l1", ab_std=[2.9, 3.1, 12.0], colorfulness=[30.0, 87.4, 88.0]))
    assert sf.broken == {0: ["flat"], 2: ["over-saturated"]} and sf.majority
    assert sf.text() == "2/3 seeds degenerate: flat (seed 0); over-saturated (seed 2)"
    assert "out of gamut" in sf.unchecked  # no gamut_delta_e / chroma_true in these rows
    one = seed_flags(_seeds("unet_l1", ab_std=[1.0, 3.1, 12.0], colorfulness=[30.0] * 3))
    assert not one.majority and one.text() == "1/3 seeds degenerate: flat (seed 0)"
    old = seed_flags(_seeds("unet_l1", ab_std=[1.0, 1.0], colorfulness=[30.0] * 2).drop(columns="ab_std_true"))
    assert old.broken == {} and "flat" in old.unchecked  # results without the truth's figure: not judged


def test_majority_of_degenerate_seeds_excludes_a_row_and_a_minority_does_not():
    metrics = pd.concat([
        _seeds("gray", ab_std=[0.0], colorfulness=[0.0]),  # a baseline: exempt
        _seeds("unet_l1", ab_std=[1.0, 1.2, 12.0], colorfulness=[30.0] * 3),  # 2/3 flat
        _seeds("pix2pix", ab_std=[1.0, 12.0, 12.0], colorfulness=[30.0] * 3)])  # 1/3 flat
    s = tables.summarise(metrics)
    assert not s.eligible("unet_l1") and "2/3 seeds degenerate: flat (seeds 0, 1)" in s.flags["unet_l1"][0]
    assert s.eligible("pix2pix") and s.eligible("gray")
    assert s.flag_text("pix2pix") == "1/3 seeds degenerate: flat (seed 0)"


# --------------------------------------------------------------------------------------- the family
def _table(shift: dict[str, float], n: int = 40, noise: float = 1.0) -> tables.Summary:
    rng = np.random.default_rng(5)
    base = 20 + rng.normal(0, 2, n)
    metrics, per_image = [], []
    for method, d in shift.items():
        vals = base + d + noise * rng.normal(0, 1, n)
        metrics.append({"kind": "train", "method": method, "variant": "default", "dataset": "d", "seed": 0,
                        "status": "ok", "psnr": float(vals.mean())})
        per_image += [{"method": method, "variant": "default", "seed": 0, "image": i, "psnr": v}
                      for i, v in enumerate(vals)]
    return tables.summarise(pd.DataFrame(metrics), pd.DataFrame(per_image), names=("psnr",))


def test_family_counts_each_comparison_once_and_holm_decides_the_marks():
    s = _table({"gray": 0.0, "mean_color": 0.1, "pix2pix": 3.0, "unet_l1": 0.5})
    f = tables.family(s)
    # best (pix2pix) against the other 3, plus the 2 non-baselines against the 2 baselines: pix2pix-gray and
    # pix2pix-mean_color are asked twice
    assert f.m == 3 + 4 - 2
    assert tables.marks(s, ("psnr",))["psnr"].best == "pix2pix"
    ps = sorted(t.p for t in f.tests.values())
    assert [t.survives for t in sorted(f.tests.values(), key=lambda t: t.p)] == \
        multiplicity.holm(ps, 0.05).tolist()
    table = tables.detectable(s, ("psnr",))
    assert table.loc[0, "family_size"] == 5 and table.loc[0, "bonferroni_level"] == pytest.approx(0.01)
    widths = sorted(t.half_width for t in f.tests.values())
    assert table.loc[0, "detectable"] == pytest.approx(widths[2])
    assert table.loc[0, "surviving"] == sum(t.survives for t in f.tests.values())


def test_a_difference_that_passes_alone_can_fail_the_family():
    s = _table({"gray": 0.0, "mean_color": 0.05, "pix2pix": 0.42, "unet_l1": 0.38})
    f = tables.family(s)
    ps = sorted(t.p for t in f.tests.values())
    test, _ = f.find("psnr", "unet_l1", "gray")
    # alone it passes (p < 0.05); it is 4th of 5, and Holm asks p ≤ 0.05 / 2 there, the three before it passing
    assert ps.index(test.p) == 3 and 0.025 < test.p < 0.05
    assert all(p <= 0.05 / (5 - j) for j, p in enumerate(ps[:3]))
    assert not test.survives and test.difference > 0  # gray's score is worse (higher) by about 0.5 dB
    assert tables.against_baselines(s, ("psnr",))["unet_l1"]["psnr"] == {"gray": "tie", "mean_color": "✓"}

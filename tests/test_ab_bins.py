"""colorbench.ab_bins: Zhang et al.'s quantised ab space against hand-worked values, numpy and skimage.

Hand-worked values: a bin centre's soft encoding has the centre at distance 0 and its 4 grid neighbours at 10 Lab
units, so weights 1 : e^-2 : e^-2 : e^-2 : e^-2 (σ = 5: exp(-100/50)), i.e. 1/(1+4e^-2) = 0.6488 on the bin; a
prior all on one bin gives that bin the weight 1 (E_p[w] = 1) and every other bin (0.5 + 0.5/313)/(0.5/313) = 314.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage import color as skcolor

from colorbench import ab_bins
from colorbench.data import build_dataset

C = ab_bins.bin_centres()


def _index(a: float, b: float) -> int:
    return int(((C[:, 0] == a) & (C[:, 1] == b)).nonzero()[0, 0])


def _img(*ab: tuple[float, float]) -> torch.Tensor:
    """``[1,2,1,N]`` Lab units."""
    return torch.tensor(ab, dtype=torch.float32).T.reshape(1, 2, 1, -1)


def test_the_published_313_bins_cover_the_srgb_gamut():
    assert C.shape == (313, 2)
    assert (C % 10 == 0).all() and (C.abs() <= 110).all()
    assert len({tuple(c) for c in C.tolist()}) == 313
    assert C[0].tolist() == [-90, 50] and C[-1].tolist() == [100, 0]  # the table's first and last rows
    levels = np.linspace(0, 1, 24)
    rgb = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(1, -1, 3)
    ab_lab = skcolor.rgb2lab(rgb).reshape(-1, 3)[:, 1:]
    cells = {tuple(c) for c in (np.round(ab_lab / 10) * 10).astype(int)}
    have = {tuple(c) for c in C.int().tolist()}
    assert cells <= have, sorted(cells - have)[:5]  # every sRGB colour's grid cell is a bin
    assert (0, 0) in have and (100, 100) not in have


def test_a_pure_colour_encodes_to_its_bin_with_hand_worked_weights():
    index, weight = ab_bins.soft_encode(_img((30.0, -40.0), (0.0, 0.0)), C)
    assert index.shape == weight.shape == (1, 5, 1, 2)
    assert int(index[0, 0, 0, 0]) == _index(30, -40) and int(index[0, 0, 0, 1]) == _index(0, 0)
    w0 = 1 / (1 + 4 * math.exp(-2))
    expected = torch.tensor([w0] + [math.exp(-2) * w0] * 4)
    torch.testing.assert_close(weight[0, :, 0, 0], expected, atol=1e-6, rtol=0)
    neighbours = {tuple(C[int(i)].int().tolist()) for i in index[0, 1:, 0, 0]}
    assert neighbours == {(20, -40), (40, -40), (30, -50), (30, -30)}
    assert torch.equal(ab_bins.nearest_bin(_img((30.0, -40.0)), C)[0, 0], torch.tensor([_index(30, -40)]))


def test_soft_encoding_sums_to_one_with_most_weight_on_the_nearest_bin():
    g = torch.Generator().manual_seed(0)
    ab = (torch.rand(2, 2, 5, 7, generator=g) - 0.5) * 160
    index, weight = ab_bins.soft_encode(ab, C)
    torch.testing.assert_close(weight.sum(1), torch.ones(2, 5, 7))
    assert torch.equal(weight.argmax(1), torch.zeros(2, 5, 7, dtype=torch.long))
    brute = torch.cdist(ab.permute(0, 2, 3, 1).reshape(-1, 2), C).argmin(1).reshape(2, 5, 7)
    assert torch.equal(index[:, 0], brute)
    assert torch.equal(ab_bins.nearest_bin(ab, C), brute)
    # (33, -41): nearest (30, -40) at √10, weight exp(-10/50) relative to the others' exp(-d²/50)
    index, weight = ab_bins.soft_encode(_img((33.0, -41.0)), C)
    d2 = ((C[index[0, :, 0, 0]] - torch.tensor([33.0, -41.0])) ** 2).sum(1)
    w = torch.exp(-d2 / 50)
    torch.testing.assert_close(weight[0, :, 0, 0], w / w.sum())
    assert int(index[0, 0, 0, 0]) == _index(30, -40)


def test_annealed_mean_matches_numpy_and_its_limits_are_mode_and_mean():
    logits = torch.randn(2, 313, 3, 4, generator=torch.Generator().manual_seed(0)) * 3
    z = logits.double().numpy()
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)  # the bin probabilities
    f = p ** (1 / 0.38)
    f /= f.sum(axis=1, keepdims=True)  # Zhang et al. eq. 5
    ref = np.einsum("bqhw,qc->bchw", f, C.double().numpy())
    np.testing.assert_allclose(ab_bins.decode(logits, C).numpy(), ref, atol=1e-4)
    mode = C[logits.argmax(1)].permute(0, 3, 1, 2)
    torch.testing.assert_close(ab_bins.decode(logits, C, "annealed", 1e-4), mode, atol=1e-3, rtol=0)
    assert torch.equal(ab_bins.decode(logits, C, "mode"), mode)
    mean = np.einsum("bqhw,qc->bchw", p, C.double().numpy())
    np.testing.assert_allclose(ab_bins.decode(logits, C, "annealed", 1.0).numpy(), mean, atol=1e-4)
    np.testing.assert_allclose(ab_bins.decode(logits, C, "mean").numpy(), mean, atol=1e-4)
    with pytest.raises(ValueError, match="decode"):
        ab_bins.decode(logits, C, "median")


def test_rebalancing_weights_have_expectation_one_under_the_prior():
    one_bin = torch.zeros(313)
    one_bin[7] = 1.0
    w = ab_bins.rebalance_weights(one_bin, 0.5)
    assert w[7].item() == pytest.approx(1.0)
    assert w[0].item() == pytest.approx(314.0, rel=1e-5)  # (0.5 + 0.5/313) / (0.5/313)
    prior = torch.rand(313, generator=torch.Generator().manual_seed(1)) ** 4
    prior /= prior.sum()
    w = ab_bins.rebalance_weights(prior, 0.5)
    assert (prior * w).sum().item() == pytest.approx(1.0, abs=1e-5)
    ref = 1 / (0.5 * prior.double() + 0.5 / 313)
    torch.testing.assert_close(w.double(), ref / (prior.double() * ref).sum(), rtol=1e-5, atol=0)
    assert w[prior.argmax()] == w.min() and w[prior.argmin()] == w.max()  # rare colours weigh more
    torch.testing.assert_close(ab_bins.rebalance_weights(prior, 1.0), torch.ones(313))  # λ = 1: plain CE
    torch.testing.assert_close(ab_bins.rebalance_weights(torch.full((313,), 1 / 313)), torch.ones(313))


def test_prior_smoothing_is_a_gaussian_of_sigma_5_over_the_bins():
    counts = torch.zeros(313)
    counts[_index(0, 0)] = 10.0
    p = ab_bins.smooth_prior(counts, C)
    assert p.sum().item() == pytest.approx(1.0)
    assert p.argmax().item() == _index(0, 0)
    assert (p[_index(10, 0)] / p[_index(0, 0)]).item() == pytest.approx(math.exp(-2), rel=1e-5)  # 10²/(2·5²)
    assert (p[_index(10, 10)] / p[_index(0, 0)]).item() == pytest.approx(math.exp(-4), rel=1e-5)


def test_rebalanced_cross_entropy_against_torch():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 313, 4, 4, generator=g)
    ab = (torch.rand(2, 2, 4, 4, generator=g) - 0.5) * 100
    index, weight = ab_bins.soft_encode(ab, C)
    hard = torch.zeros_like(weight)
    hard[:, 0] = 1.0  # all weight on the nearest bin: torch's cross-entropy
    ce = torch.nn.functional.cross_entropy(logits, index[:, 0])
    torch.testing.assert_close(ab_bins.rebalanced_cross_entropy(logits, index, hard), ce)
    cw = torch.rand(313, generator=g) + 0.5
    per = torch.nn.functional.cross_entropy(logits, index[:, 0], reduction="none") * cw[index[:, 0]]
    torch.testing.assert_close(ab_bins.rebalanced_cross_entropy(logits, index, hard, cw), per.mean())
    soft = -(weight * torch.log_softmax(logits, 1).gather(1, index)).sum(1)
    torch.testing.assert_close(ab_bins.rebalanced_cross_entropy(logits, index, weight), soft.mean())


def test_empirical_prior_counts_every_pixel_of_the_training_set():
    ds = build_dataset("synthetic", "train", size=16, seed=0, length=8)
    got = ab_bins.empirical_prior(ds, C, batch=3)
    ab = torch.stack([ds[i]["ab"] for i in range(len(ds))]) * 110
    brute = torch.cdist(ab.permute(0, 2, 3, 1).reshape(-1, 2), C).argmin(1)  # every pixel against every bin
    counts = torch.bincount(brute, minlength=313).float()
    torch.testing.assert_close(got, ab_bins.smooth_prior(counts, C))
    assert got.argmax().item() == _index(0, 0)  # the grey background is the commonest colour


def test_prior_is_computed_once_cached_atomically_and_checked(tmp_path):
    first = ab_bins.prior_config("synthetic", 16, {"length": 8}, folder=tmp_path)
    path = tmp_path / first["prior"].split("/")[-1]
    assert path.is_file() and path.parent == tmp_path and not list(tmp_path.glob(".*tmp"))
    mtime = path.stat().st_mtime_ns
    again = ab_bins.prior_config("synthetic", 16, {"length": 8}, folder=tmp_path)
    assert again == first and path.stat().st_mtime_ns == mtime  # read back, not recomputed
    other = ab_bins.prior_config("synthetic", 16, {"length": 12}, folder=tmp_path)
    assert other["prior"] != first["prior"]  # another training set, another file
    prior = ab_bins.load_prior(first["prior"], first["prior_sha"])
    assert prior.shape == (313,) and prior.sum().item() == pytest.approx(1.0, abs=1e-5)
    from colorbench.errors import UserError

    with pytest.raises(UserError, match="changed"):
        ab_bins.load_prior(first["prior"], "0" * 16)
    with pytest.raises(UserError, match="does not exist"):
        ab_bins.load_prior(tmp_path / "missing.npy")


def test_nearest_bin_lookup_equals_the_search_over_all_centres():
    g = torch.Generator().manual_seed(3)
    ab = (torch.rand(3, 2, 16, 16, generator=g) - 0.5) * 230  # inside and far outside the table's hull
    brute = torch.cdist(ab.permute(0, 2, 3, 1).reshape(-1, 2), C).argmin(1).reshape(3, 16, 16)
    assert torch.equal(ab_bins.nearest_bin(ab, C), brute)


@pytest.mark.parametrize("k", [5, 10])
def test_soft_encoding_and_rebalancing_match_zhangs_training_layers(k):
    """Parity with richzhang/colorization's Caffe-era training layers (resources/caffe_traininglayers.py), ported
    without caffe to a scratch script outside the project: ``NNEncode(k, σ = 5)`` on 72 random ab points (the paper's
    k = 5; the released training code's NNEncLayer k = 10) and ``PriorFactor(alpha = 1, gamma = 0.5)`` on a random
    positive prior, the class-rebalancing weight of each point's nearest bin (the fixture)."""
    from pathlib import Path

    ref = np.load(Path(__file__).parent / "fixtures" / "zhang_nnencode_priorfactor.npz")
    centres = ab_bins.bin_centres()
    index, weight = ab_bins.soft_encode(torch.from_numpy(ref["ab"]), centres, k)
    assert torch.equal(index, torch.from_numpy(ref[f"index{k}"]).long())
    torch.testing.assert_close(weight, torch.from_numpy(ref[f"weight{k}"]), rtol=1e-4, atol=1e-5)  # float32 d²
    factor = ab_bins.rebalance_weights(torch.from_numpy(ref["prior"]), 0.5)
    torch.testing.assert_close(factor.double(), torch.from_numpy(ref["prior_factor"]), rtol=1e-5, atol=0)
    torch.testing.assert_close(factor[index[:, 0]][:, None], torch.from_numpy(ref[f"boost{k}"]), rtol=1e-5, atol=0)

"""colorbench.metrics against the references (skimage, SciPy, NumPy written here) on real photos with realistic
colourisation errors: hue shift, desaturation, blur, noise. Tolerances: SSIM 1e-5 (float32) / 1e-10 (float64)
of skimage; PSNR 1e-3 dB; JS/KL 1e-9 of SciPy on the same histograms; colourfulness 1e-4 relative."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
import scipy.spatial.distance
import skimage.data
import skimage.metrics
import skimage.transform
import torch
import torch.nn.functional as F

from colorbench import metrics
from colorbench.color import network_to_rgb, rgb_to_network

PHOTOS = ("astronaut", "chelsea", "coffee")
ERRORS = ("hue", "desaturate", "blur", "noise")


def _photos(height: int = 48, width: int = 64) -> torch.Tensor:
    """The embedded photos resized to [3,3,height,width] float32 sRGB in [0,1]."""
    imgs = [skimage.transform.resize(getattr(skimage.data, name)(), (height, width), anti_aliasing=True)
            for name in PHOTOS]
    return torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float().contiguous()


def _distort(ab: torch.Tensor, kind: str) -> torch.Tensor:
    """A realistic colourisation error applied to ab/110."""
    g = torch.Generator().manual_seed(1)
    if kind == "hue":  # rotate the hue by 40 degrees
        c, s = math.cos(math.radians(40)), math.sin(math.radians(40))
        return torch.stack((c * ab[:, 0] - s * ab[:, 1], s * ab[:, 0] + c * ab[:, 1]), dim=1)
    if kind == "desaturate":
        return ab * 0.4
    if kind == "blur":
        k = torch.ones(2, 1, 7, 7) / 49
        return F.conv2d(F.pad(ab, (3, 3, 3, 3), mode="reflect"), k, groups=2)
    if kind == "noise":
        return ab + 0.05 * torch.randn(ab.shape, generator=g)
    raise ValueError(kind)


@pytest.fixture(scope="module")
def pairs() -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """kind -> (pred_rgb, true_rgb, pred_ab, true_ab) for the three photos."""
    true_rgb = _photos()
    L, ab = rgb_to_network(true_rgb)
    out = {}
    for kind in ERRORS:
        pred_ab = _distort(ab, kind)
        out[kind] = (network_to_rgb(L, pred_ab), true_rgb, pred_ab, ab)
    return out


def _sk_ssim(p: np.ndarray, t: np.ndarray) -> float:
    return skimage.metrics.structural_similarity(
        p.astype(np.float64), t.astype(np.float64), gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, data_range=1, channel_axis=0)


# ------------------------------------------------------------------------------------------ SSIM and PSNR
@pytest.mark.parametrize("kind", ERRORS)
def test_ssim_matches_skimage(pairs, kind):
    pred, true, _, _ = pairs[kind]
    ref = np.array([_sk_ssim(p, t) for p, t in zip(pred.numpy(), true.numpy())])
    got32 = metrics.ssim(pred, true)
    got64 = metrics.ssim(pred.double(), true.double())
    assert got32.shape == (3,) and got32.dtype == torch.float32 and got64.dtype == torch.float64
    np.testing.assert_allclose(got32.numpy(), ref, rtol=0, atol=1e-5)
    np.testing.assert_allclose(got64.numpy(), ref, rtol=0, atol=1e-10)
    assert (ref < 0.999).all()  # the errors are real


def test_ssim_odd_sizes_and_identity():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 11, 29, generator=g, dtype=torch.float64)
    y = (x + 0.2 * torch.rand(x.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    ref = [_sk_ssim(a, b) for a, b in zip(y.numpy(), x.numpy())]
    np.testing.assert_allclose(metrics.ssim(y, x).numpy(), ref, atol=1e-10)
    assert torch.equal(metrics.ssim(x, x), torch.ones(2, dtype=torch.float64))
    # one channel works too (any C)
    ref1 = skimage.metrics.structural_similarity(y[0, 0].numpy(), x[0, 0].numpy(), gaussian_weights=True,
                                                 sigma=1.5, use_sample_covariance=False, data_range=1)
    assert metrics.ssim(y[:1, :1], x[:1, :1]).item() == pytest.approx(ref1, abs=1e-10)


def test_ssim_never_above_one():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(4, 3, 16, 16, generator=g)
    for y in (x.clone(), 1 - x, torch.zeros_like(x), x.flip(-1)):
        assert (metrics.ssim(y, x) <= 1.0 + 1e-6).all()


def test_ssim_rejects_images_smaller_than_the_window():
    x = torch.rand(1, 3, 10, 40)
    with pytest.raises(ValueError, match=r"at least 11×11.*10×40"):
        metrics.ssim(x, x)
    with pytest.raises(ValueError):  # skimage refuses them too
        _sk_ssim(x[0].numpy(), x[0].numpy())


@pytest.mark.parametrize("kind", ERRORS)
def test_psnr_matches_skimage(pairs, kind):
    pred, true, _, _ = pairs[kind]
    ref = [skimage.metrics.peak_signal_noise_ratio(t.astype(np.float64), p.astype(np.float64), data_range=1)
           for p, t in zip(pred.numpy(), true.numpy())]
    np.testing.assert_allclose(metrics.psnr(pred, true).numpy(), ref, rtol=0, atol=1e-3)
    np.testing.assert_allclose(metrics.psnr(pred.double(), true.double()).numpy(), ref, rtol=0, atol=1e-9)


def test_psnr_identical_is_inf():
    x = _photos()[:2]
    assert torch.isinf(metrics.psnr(x, x)).all()
    y = x.clone()
    y[1, 0, 0, 0] += 0.5 if x[1, 0, 0, 0] < 0.5 else -0.5  # inside [0, 1]: psnr refuses values outside
    out = metrics.psnr(y, x)
    assert math.isinf(out[0]) and out[1].item() == pytest.approx(10 * math.log10(3 * 48 * 64 / 0.25), abs=1e-3)


def test_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"pred \(2, 3, 16, 16\) and true \(2, 3, 16, 17\)"):
        metrics.psnr(torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 17))
    with pytest.raises(ValueError, match=r"pred \(1, 3, 16, 16\) and true \(2, 3, 16, 16\)"):
        metrics.ssim(torch.rand(1, 3, 16, 16), torch.rand(2, 3, 16, 16))
    with pytest.raises(ValueError, match=r"\[B,2,H,W\].*\(1, 3, 8, 8\)"):
        metrics.mae_ab(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"batch dimension"):
        metrics.psnr(torch.rand(3, 16, 16), torch.rand(3, 16, 16))
    with pytest.raises(TypeError, match="float"):
        metrics.psnr(torch.zeros(1, 3, 16, 16, dtype=torch.uint8), torch.zeros(1, 3, 16, 16, dtype=torch.uint8))


# ---------------------------------------------------------------------------------- colourfulness, MAE, ΔE
def _np_colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk 2003, written independently: [3,H,W] in [0,1]."""
    r, g, b = (rgb.astype(np.float64) * 255.0)
    rg = r - g
    yb = 0.5 * (r + g) - b
    return math.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * math.sqrt(rg.mean() ** 2 + yb.mean() ** 2)


@pytest.mark.parametrize("kind", ERRORS)
def test_colorfulness_matches_numpy(pairs, kind):
    pred, true, _, _ = pairs[kind]
    ref_p = np.array([_np_colorfulness(p) for p in pred.numpy()])
    ref_t = np.array([_np_colorfulness(t) for t in true.numpy()])
    np.testing.assert_allclose(metrics.colorfulness(pred).numpy(), ref_p, rtol=1e-5)
    np.testing.assert_allclose(metrics.colorfulness(true.double()).numpy(), ref_t, rtol=1e-12)
    np.testing.assert_allclose(metrics.delta_colorfulness(pred, true).numpy(), np.abs(ref_t - ref_p), atol=1e-3)


def test_colorfulness_of_grey_is_zero_and_desaturation_lowers_it(pairs):
    grey = torch.full((1, 3, 8, 8), 0.5)
    assert metrics.colorfulness(grey).item() == 0.0
    pred, true, _, _ = pairs["desaturate"]
    assert (metrics.colorfulness(pred) < metrics.colorfulness(true)).all()


@pytest.mark.parametrize("kind", ERRORS)
def test_mae_and_delta_e_match_numpy(pairs, kind):
    _, _, pred_ab, true_ab = pairs[kind]
    p, t = pred_ab.double().numpy(), true_ab.double().numpy()
    np.testing.assert_allclose(metrics.mae_ab(pred_ab, true_ab).numpy(), np.abs(p - t).mean(axis=(1, 2, 3)),
                               rtol=1e-5)
    # ΔE76 between full Lab triples with the shared L, in Lab units
    L = np.zeros_like(p[:, :1])
    lab_p, lab_t = np.concatenate((L, p * 110), 1), np.concatenate((L, t * 110), 1)
    ref = np.sqrt(((lab_p - lab_t) ** 2).sum(axis=1)).mean(axis=(1, 2))
    np.testing.assert_allclose(metrics.delta_e76(pred_ab, true_ab).numpy(), ref, rtol=1e-5)
    np.testing.assert_allclose(metrics.delta_e76(pred_ab.double(), true_ab.double()).numpy(), ref, rtol=1e-12)


# ------------------------------------------------------------------------------------ histogram divergence
def _np_hist(ab: torch.Tensor) -> np.ndarray:
    """[2,220] counts with NumPy on the same float32 Lab values (ab * 110 in the input's dtype)."""
    ab_lab = (ab * 110).numpy()
    ab_lab = np.clip(ab_lab, -110, np.nextafter(np.float32(110), np.float32(0)))  # edge bins, as documented
    return np.stack([np.histogram(ab_lab[:, c], bins=220, range=(-110, 110))[0] for c in (0, 1)])


@pytest.mark.parametrize("kind", ERRORS)
def test_histograms_match_numpy(pairs, kind):
    _, _, pred_ab, true_ab = pairs[kind]
    out = metrics.ab_histogram_divergence(pred_ab, true_ab)
    for hist, ab in ((out["hist_true"], true_ab), (out["hist_pred"], pred_ab)):
        counts = _np_hist(ab)
        np.testing.assert_array_equal(hist.numpy(), counts / counts.sum(axis=1, keepdims=True))
    assert out["form"] == "normalised" and out["bin_edges"][0] == -110 and len(out["bin_edges"]) == 221


@pytest.mark.parametrize("kind", ERRORS)
@pytest.mark.parametrize("legacy", (False, True))
def test_js_kl_match_scipy(pairs, kind, legacy):
    _, _, pred_ab, true_ab = pairs[kind]
    out = metrics.ab_histogram_divergence(pred_ab, true_ab, legacy=legacy)
    t_all, p_all = out["hist_true"].numpy(), out["hist_pred"].numpy()
    counts_t = _np_hist(true_ab)
    if legacy:  # mean counts per image, not normalised
        np.testing.assert_allclose(t_all, counts_t / 3, rtol=0, atol=0)
        assert out["form"] == "legacy"
    else:
        np.testing.assert_allclose(t_all.sum(axis=1), 1.0, atol=1e-12)
    eps = 1e-10
    for i, ch in enumerate("ab"):
        t, p = t_all[i], p_all[i]
        js = scipy.spatial.distance.jensenshannon(t, p) ** 2
        kl = scipy.special.rel_entr(t + eps, p + eps).sum()
        assert abs(out[f"js_{ch}"] - js) <= 1e-9, (ch, out[f"js_{ch}"], js)
        assert abs(out[f"kl_{ch}"] - kl) <= 1e-9 * max(1.0, abs(kl)), (ch, out[f"kl_{ch}"], kl)
        assert 0 < out[f"js_{ch}"] <= math.log(2)
        assert out[f"kl_{ch}"] > 0


def test_legacy_kl_is_much_larger_and_js_is_the_same(pairs):
    _, _, pred_ab, true_ab = pairs["desaturate"]
    norm = metrics.ab_histogram_divergence(pred_ab, true_ab)
    legacy = metrics.ab_histogram_divergence(pred_ab, true_ab, legacy=True)
    assert legacy["js_a"] == pytest.approx(norm["js_a"], abs=1e-12)
    assert legacy["kl_a"] > 100 * norm["kl_a"]  # mean counts of a 48×64 photo: KL scales with the pixel count


def test_identical_histograms_give_zero_divergence(pairs):
    _, _, _, true_ab = pairs["noise"]
    out = metrics.ab_histogram_divergence(true_ab.clone(), true_ab)
    assert out["js_a"] == 0.0 and out["kl_b"] == 0.0


def test_histogram_streaming_equals_one_shot_and_edges(pairs):
    _, _, pred_ab, true_ab = pairs["noise"]
    h = metrics.AbHistogram()
    for i in range(3):
        h.update(pred_ab[i:i + 1])
    one = metrics.AbHistogram()
    one.update(pred_ab)
    assert torch.equal(h.counts, one.counts) and h.n_images == 3
    edge = metrics.AbHistogram()
    edge.update(torch.tensor([-1.5, -1.0, 0.0, 0.999, 1.0, 2.0]).view(1, 2, 1, 3))
    # a: -165 -> bin 0 (clamped), -110 -> bin 0, 0 -> bin 110; b: 109.89 -> 219, 110 and 220 -> 219 (clamped)
    assert edge.counts[0, 0] == 2 and edge.counts[0, 110] == 1 and edge.counts[1, 219] == 3
    with pytest.raises(ValueError, match="no images"):
        metrics.AbHistogram().normalised()


def test_histogram_rejects_nan():
    ab = torch.zeros(1, 2, 4, 4)
    bad = ab.clone()
    bad[0, 1, 2, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        metrics.ab_histogram_divergence(bad, ab)


# ----------------------------------------------------------------------------------- declarations
def test_metrics_table_declares_every_reported_figure():
    table = metrics.METRICS
    for name in ("psnr", "ssim", "colorfulness", "delta_colorfulness", "mae_ab", "delta_e76", "js_a", "js_b",
                 "kl_a", "kl_b", "lpips_alex", "lpips_vgg", "fid", "fid_tv", "colorfulness_abs",
                 "delta_colorfulness_abs"):
        assert name in table and table[name].name == name and table[name].description
    assert table["psnr"].goal == "higher" and table["psnr"].unit == "dB" and table["psnr"].arrow == "↑"
    assert table["kl_a"].goal == "lower" and table["kl_a"].arrow == "↓"
    # colourfulness is best closest to the truth's, never "more is better"; the truth's own figure is not ranked
    assert table["colorfulness"].goal == "truth" and table["colorfulness"].truth == "colorfulness_true"
    assert not table["colorfulness_true"].ranked and not table["ab_std"].ranked
    assert metrics.PER_IMAGE_METRICS == ("psnr", "ssim", "colorfulness", "colorfulness_true",
                                         "delta_colorfulness", "colorfulness_abs", "colorfulness_abs_true",
                                         "mae_ab", "delta_e76")
    # the weighted figures say which files they need and are not in the default set
    assert table["fid"].weights == ("inception_fid",) and table["fid_tv"].weights == ("inception_v3",)
    assert set(metrics.WEIGHTED_METRICS) == {"lpips_alex", "lpips_vgg", "fid", "fid_tv"}
    assert not set(metrics.WEIGHTED_METRICS) & set(metrics.DEFAULT_METRICS)
    assert {"fid", "fid_tv", "lpips_alex", "lpips_vgg"} <= set(metrics.select("field"))
    assert metrics.select("paper")[:2] == ("psnr", "ssim") and "fid" not in metrics.select("paper")
    assert metrics.select(None) == metrics.DEFAULT_METRICS == metrics.select([])


def test_ssim_strips_of_large_planes_equal_skimage(monkeypatch):
    """A plane larger than the CPU piece budget goes through in overlapping row strips; same numbers."""
    import sys

    monkeypatch.setattr(sys.modules["colorbench.metrics.structural"], "_CPU_CHUNK_PIXELS", 300)
    g = torch.Generator().manual_seed(5)
    x = torch.rand(2, 3, 57, 23, generator=g, dtype=torch.float64)
    y = (x + 0.3 * torch.rand(x.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    ref = [_sk_ssim(a, b) for a, b in zip(y.numpy(), x.numpy())]
    np.testing.assert_allclose(metrics.ssim(y, x).numpy(), ref, rtol=0, atol=1e-12)


def test_results_do_not_depend_on_the_thread_count(monkeypatch):
    """cpu_map spreads pieces over worker threads; each piece is computed the same way, so results are equal."""
    import sys

    monkeypatch.setattr(sys.modules["colorbench.metrics.structural"], "_CPU_CHUNK_PIXELS", 4096)
    x = _photos(100, 100)  # 10k-pixel planes in 4096-pixel row strips: 9 pieces over the workers
    y = network_to_rgb(rgb_to_network(x)[0], _distort(rgb_to_network(x)[1], "hue"))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = metrics.ssim(y, x)
        torch.set_num_threads(2)
        two = metrics.ssim(y, x)
        assert torch.get_num_threads() == 2  # restored after the metric's single-threaded window
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, two)


def test_papers_colorfulness_and_delta_cf_on_a_photo_equal_a_hand_computation():
    """The absolute-value CF of DDColor/CT2 (``np.absolute(R - G)``, on 0..255) on a real photo, and their ΔCF as a
    gap of dataset means, computed by hand from that formula; the Hasler form differs on the same photo."""
    import skimage.data

    from colorbench.color import network_to_rgb, normalize_ab, normalize_l, rgb_to_lab
    from colorbench.evaluator import Evaluator

    photo = skimage.data.astronaut()[::4, ::4].astype(np.float64)  # [128,128,3] uint8 values
    r, g, b = photo[..., 0], photo[..., 1], photo[..., 2]
    rg, yb = np.absolute(r - g), np.absolute(0.5 * (r + g) - b)
    hand = math.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * math.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    rgb = torch.from_numpy(photo / 255.0).permute(2, 0, 1)[None]
    assert metrics.colorfulness(rgb, kind="abs").item() == pytest.approx(hand, rel=1e-12)
    assert metrics.colorfulness(rgb).item() == pytest.approx(_np_colorfulness(rgb[0].numpy()), rel=1e-12)
    assert abs(metrics.colorfulness(rgb).item() - hand) > 1.0
    with pytest.raises(ValueError, match="kind"):
        metrics.colorfulness(rgb, kind="signed")
    # ΔCF: |mean CF(truth) - mean CF(prediction)| over the set (two crops, the prediction's ab halved)
    crops = torch.cat((rgb[..., :64, :64], rgb[..., 64:, 64:])).float()
    lab = rgb_to_lab(crops)
    L, ab = normalize_l(lab[:, :1]), normalize_ab(lab[:, 1:])
    ev = Evaluator("half")
    ev.update(ab * 0.5, {"L": L, "ab": ab, "rgb": crops})
    out = ev.compute()

    def cf_abs(img: np.ndarray) -> float:  # [3,H,W] in [0,1]
        r, g, b = img.astype(np.float64) * 255
        rg, yb = np.absolute(r - g), np.absolute(0.5 * (r + g) - b)
        return math.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * math.sqrt(rg.mean() ** 2 + yb.mean() ** 2)

    pred = network_to_rgb(L, ab * 0.5).numpy()
    gap = abs(np.mean([cf_abs(x) for x in crops.numpy()]) - np.mean([cf_abs(x) for x in pred]))
    assert out["delta_colorfulness_abs"] == pytest.approx(gap, rel=1e-5)
    per_image = np.mean([abs(cf_abs(t) - cf_abs(p)) for t, p in zip(crops.numpy(), pred)])
    assert out["delta_colorfulness_abs"] <= per_image + 1e-9  # a gap of means, never more than the mean gap

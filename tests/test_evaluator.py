"""The streaming Evaluator: batch-by-batch equals one shot equals the pure functions; errors name method and batch."""
from __future__ import annotations


import numpy as np
import pytest
import skimage.data
import skimage.metrics
import skimage.transform
import torch

from colorbench import metrics
from colorbench.color import network_to_rgb, rgb_to_network
from colorbench.evaluator import Evaluator, NonFiniteError


def _batch(n: int = 4, height: int = 24, width: int = 32) -> dict[str, torch.Tensor]:
    """Crops of the embedded photos as a dataset batch: L, ab (normalised), rgb, index."""
    photos = [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee()]
    imgs = []
    for i in range(n):
        img = photos[i % 3]
        y0, x0 = 40 * (i // 3), 60 * (i // 3)
        crop = img[y0:y0 + 4 * height, x0:x0 + 4 * width]
        imgs.append(skimage.transform.resize(crop, (height, width), anti_aliasing=True))
    rgb = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float().contiguous()
    L, ab = rgb_to_network(rgb)
    return {"L": L, "ab": ab, "rgb": rgb, "index": torch.arange(100, 100 + n)}


def _pred(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (0.6 * batch["ab"] + 0.03 * torch.randn(batch["ab"].shape, generator=g)).clamp(-1, 1)


def _slice(batch: dict[str, torch.Tensor], sl: slice) -> dict[str, torch.Tensor]:
    return {k: v[sl] for k, v in batch.items()}


def test_records_equal_the_pure_functions_and_skimage():
    batch = _batch(5)
    pred_ab = _pred(batch)
    ev = Evaluator(method_name="toy")
    ev.update(pred_ab, batch)
    pred_rgb, true_rgb = network_to_rgb(batch["L"], pred_ab), batch["rgb"]
    assert [r["index"] for r in ev.records] == [100, 101, 102, 103, 104]
    expect = {
        "psnr": metrics.psnr(pred_rgb, true_rgb), "ssim": metrics.ssim(pred_rgb, true_rgb),
        "colorfulness": metrics.colorfulness(pred_rgb), "colorfulness_true": metrics.colorfulness(true_rgb),
        "delta_colorfulness": metrics.delta_colorfulness(pred_rgb, true_rgb),
        "mae_ab": metrics.mae_ab(pred_ab, batch["ab"]), "delta_e76": metrics.delta_e76(pred_ab, batch["ab"]),
    }
    for key, values in expect.items():
        np.testing.assert_allclose([r[key] for r in ev.records], values.double().numpy(), rtol=1e-6, err_msg=key)
    sk = [skimage.metrics.structural_similarity(p, t, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                                data_range=1, channel_axis=0)
          for p, t in zip(pred_rgb.double().numpy(), true_rgb.double().numpy())]
    np.testing.assert_allclose([r["ssim"] for r in ev.records], sk, atol=1e-5)
    out = ev.compute()
    assert out["n_images"] == 5 and out["histogram_form"] == "normalised"
    assert out["psnr"] == pytest.approx(float(expect["psnr"].double().mean()), rel=1e-9)
    div = metrics.ab_histogram_divergence(pred_ab, batch["ab"])
    for key in ("js_a", "js_b", "kl_a", "kl_b"):
        assert out[key] == pytest.approx(div[key], rel=1e-12, abs=1e-15)


def test_streaming_equals_one_shot():
    batch = _batch(7)
    pred_ab = _pred(batch)
    one = Evaluator("toy")
    one.update(pred_ab, batch)
    streamed = Evaluator("toy")
    for sl in (slice(0, 3), slice(3, 4), slice(4, 7)):
        streamed.update(pred_ab[sl], _slice(batch, sl))
    a, b = one.compute(), streamed.compute()
    for key in ("psnr", "ssim", "colorfulness", "delta_colorfulness", "mae_ab", "delta_e76"):
        assert a[key] == pytest.approx(b[key], rel=1e-12), key
    for key in ("js_a", "js_b", "kl_a", "kl_b"):
        assert a[key] == b[key], key  # pooled integer counts: exactly equal
    assert one.records == streamed.records
    assert torch.equal(one.hist_pred.counts, streamed.hist_pred.counts)


def test_legacy_histograms_and_histograms_for_plots():
    batch = _batch(3)
    ev = Evaluator("toy", legacy_histograms=True)
    ev.update(_pred(batch), batch)
    out = ev.compute()
    assert out["histogram_form"] == "legacy"
    h = ev.histograms()
    assert h["hist_true"].shape == (2, 220)
    assert h["hist_true"].sum(dim=1).tolist() == [24 * 32, 24 * 32]  # mean counts per image
    assert out["kl_a"] == h["kl_a"]


def test_truth_rebuilt_from_L_and_ab_without_rgb():
    batch = _batch(2)
    no_rgb = {k: v for k, v in batch.items() if k != "rgb"}
    a, b = Evaluator("toy"), Evaluator("toy")
    a.update(_pred(batch), batch)
    b.update(_pred(batch), no_rgb)
    assert a.compute()["psnr"] == pytest.approx(b.compute()["psnr"], abs=1e-3)


def test_perfect_prediction():
    batch = _batch(2)
    ev = Evaluator("oracle")
    ev.update(batch["ab"].clone(), batch)
    out = ev.compute()
    assert out["ssim"] == pytest.approx(1.0, abs=1e-5) and out["psnr"] > 60
    assert out["mae_ab"] == 0 and out["delta_e76"] == 0 and out["js_a"] == 0 and out["kl_b"] == 0


def test_nan_prediction_names_method_batch_and_images():
    batch = _batch(3)
    ev = Evaluator(method_name="pix2pix")
    ev.update(_pred(batch), batch)
    bad = _pred(batch)
    bad[1, 0, 2, 3] = float("nan")
    bad[2, 1, 0, 0] = float("inf")
    with pytest.raises(NonFiniteError, match=r"'pix2pix'.*batch 1.*2 NaN/inf.*\[101, 102\]"):
        ev.update(bad, batch)
    assert ev.n_images == 3  # the bad batch added nothing


def test_shape_and_batch_errors():
    batch = _batch(2)
    ev = Evaluator(method_name="m")
    with pytest.raises(ValueError, match=r"'m'.*batch 0.*\(2, 2, 24, 30\).*\(2, 2, 24, 32\)"):
        ev.update(torch.zeros(2, 2, 24, 30), batch)
    with pytest.raises(ValueError, match=r"\[B,2,H,W\]"):
        ev.update(torch.zeros(2, 3, 24, 32), batch)
    with pytest.raises(ValueError, match="no 'L'"):
        ev.update(torch.zeros(2, 2, 24, 32), {"ab": batch["ab"]})
    with pytest.raises(ValueError, match="no images"):
        ev.compute()
    tiny = _batch(1, 8, 8)
    with pytest.raises(ValueError, match=r"'m'.*at least 11×11"):
        ev.update(tiny["ab"], tiny)


def test_weighted_metrics_fail_fast_naming_the_fetch_command(monkeypatch, tmp_path):
    """Asking for LPIPS/FID without their files stops before any work with the fetch command; the default set
    needs no file and reports no weighted column at all (no silent n/a)."""
    from colorbench.errors import UserError

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(UserError, match=r"fid, fid_tv.*colorbench weights fetch .*inception_fid"):
        Evaluator("m", metrics="field")
    batch = _batch(2)
    ev = Evaluator("m")
    ev.update(_pred(batch), batch)
    out = ev.compute()
    assert not any(k.startswith(("lpips", "fid")) for k in out)
    assert out["delta_colorfulness_abs"] == pytest.approx(abs(out["colorfulness_abs_true"] - out["colorfulness_abs"]))


def test_records_can_be_dropped_and_reset():
    batch = _batch(2)
    ev = Evaluator("m", keep_records=False)
    ev.update(_pred(batch), batch)
    assert ev.records == [] and ev.compute()["n_images"] == 2
    ev.reset()
    assert ev.n_images == 0


def test_half_precision_predictions_are_scored_in_float32():
    batch = _batch(2)
    pred = _pred(batch)
    a, b = Evaluator("m"), Evaluator("m")
    a.update(pred, batch)
    b.update(pred.bfloat16(), batch)
    assert b.compute()["ssim"] == pytest.approx(a.compute()["ssim"], abs=2e-3)
    assert isinstance(b.records[0]["psnr"], float)


def test_padded_images_are_scored_on_their_valid_rectangle_only():
    """A ``valid`` mask (crop="pad" batches) makes each image count only where it is an image: the figures, records
    and histograms equal those of the unpadded images scored one by one, whatever the padding holds."""
    small, wide = _batch(1, 20, 24), _batch(2, 16, 32)
    wide = _slice(wide, slice(1, 2))
    parts = [(small, 20, 24), (wide, 16, 32)]
    padded = {k: torch.zeros(2, v.shape[1], 32, 32) for k, v in small.items() if k != "index"}
    padded["index"] = torch.tensor([7, 9])
    padded["valid"] = torch.zeros(2, 1, 32, 32, dtype=torch.bool)
    pred = torch.full((2, 2, 32, 32), 0.9)  # garbage in the padding: it must not count
    alone = Evaluator("toy")
    for i, (b, h, w) in enumerate(parts):
        for key in ("L", "ab", "rgb"):
            padded[key][i, :, :h, :w] = b[key][0]
        padded["valid"][i, :, :h, :w] = True
        pred[i, :, :h, :w] = _pred(b)[0]
        alone.update(_pred(b), {**b, "index": padded["index"][i:i + 1]})
    masked = Evaluator("toy")
    masked.update(pred, padded)
    a, b = alone.compute(), masked.compute()
    for key in ("psnr", "ssim", "mae_ab", "delta_e76", "js_a", "kl_b", "ab_std", "gamut_clipped", "ab_std_true",
                "gamut_delta_e", "chroma_true"):
        assert b[key] == pytest.approx(a[key], rel=1e-12), key
    assert masked.records == alone.records and [r["index"] for r in masked.records] == [7, 9]
    assert torch.equal(masked.hist_pred.counts, alone.hist_pred.counts)
    unmasked = Evaluator("toy")
    unmasked.update(pred, {k: v for k, v in padded.items() if k != "valid"})
    assert unmasked.compute()["mae_ab"] > 2 * a["mae_ab"]  # without the mask the padding dominates
    padded["valid"][1, :, 0, 0] = False  # a hole: not a rectangle
    with pytest.raises(ValueError, match="not a rectangle"):
        Evaluator("toy").update(pred, padded)


def test_nan_in_the_padding_does_not_count_and_errors_name_the_batch():
    batch = _batch(2, 16, 16)
    padded = {k: torch.nn.functional.pad(v, (0, 8, 0, 8)) if v.ndim == 4 else v for k, v in batch.items()}
    padded["valid"] = torch.zeros(2, 1, 24, 24, dtype=torch.bool)
    padded["valid"][:, :, :16, :16] = True
    pred = torch.nn.functional.pad(_pred(batch), (0, 8, 0, 8), value=float("nan"))
    ev = Evaluator("toy")
    ev.update(pred, padded)  # NaN only where there is no image
    ev.update(pred, padded)
    assert ev.n_images == 4 and ev._n_batches == 2
    pred[1, 0, 3, 3] = float("nan")
    with pytest.raises(NonFiniteError, match="batch 2: method 'toy' predicted 1 NaN/inf"):
        ev.update(pred, padded)


def test_truth_figures_and_the_size_of_the_gamut_clipping():
    """The flags' references: the truth's ab std and chroma (numpy on the same Lab values), and the ΔE76 that
    showing an out-of-gamut prediction in sRGB costs (skimage's Lab round trip, whose matrix differs by ~0.03 ΔE)."""
    import skimage.color

    batch = _batch(3)
    ev = Evaluator("toy")
    ev.update(batch["ab"], batch)
    out = ev.compute()
    ab = batch["ab"].double().numpy() * 110
    assert out["ab_std_true"] == pytest.approx((ab[:, 0].std() + ab[:, 1].std()) / 2, rel=1e-9)
    assert out["ab_std"] == pytest.approx(out["ab_std_true"], rel=1e-12)
    assert out["chroma_true"] == pytest.approx(np.sqrt(ab[:, 0] ** 2 + ab[:, 1] ** 2).mean(), rel=1e-9)
    assert out["gamut_delta_e"] == 0.0 and out["gamut_clipped"] == 0.0  # a photo is in gamut
    vivid = torch.zeros_like(batch["ab"]) + torch.tensor([0.9, -0.9]).view(1, 2, 1, 1)  # a = 99, b = -99
    ev = Evaluator("vivid")
    ev.update(vivid, batch)
    lab = np.concatenate([(batch["L"].double().numpy() + 1) * 50, vivid.double().numpy() * 110], axis=1)
    lab = lab.transpose(0, 2, 3, 1)
    shown = skimage.color.rgb2lab(np.clip(skimage.color.lab2rgb(lab), 0, 1))
    expected = np.sqrt(((shown - lab) ** 2).sum(axis=-1)).mean()
    assert expected > 20
    assert ev.compute()["gamut_delta_e"] == pytest.approx(expected, abs=0.1)

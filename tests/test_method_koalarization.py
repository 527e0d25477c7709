"""Deep Koalarization: what makes it that method (fusion width, frozen extractor, binned decode, grey input).

References: an independent numpy annealed mean, skimage's ``rgb2gray`` / ``rgb2lab``, and parameter counts written
out from the paper's layer list.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import colorbench as cb
from colorbench.registry import get_method

K = get_method("koalarization")
TINY = dict(K.test_overrides)


def tiny(**overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    return cb.create_method("koalarization", **{**TINY, **overrides})


def _batch(n: int = 2, size: int = 32, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    rgb = torch.rand(n, 3, size, size, generator=g)
    L, ab = cb.rgb_to_network(rgb)
    return {"L": L, "ab": ab, "rgb": rgb, "index": torch.arange(n)}


def _conv3(cin: int, cout: int) -> int:
    return 9 * cin * cout + cout


def test_paper_network_structure_and_fusion_width():
    """Paper layer list at width 1, the extractor's 1000 logits fused; fusion256 fuses a 256 subset."""
    m = cb.create_method("koalarization", extractor="inception_v3", pretrained="false")
    enc = [1, 64, 128, 128, 256, 256, 512, 512, 256]
    dec = [256, 128, 64, 64, 32, 2]
    expected = sum(_conv3(a, b) for a, b in zip(enc, enc[1:])) + (256 + 1000) * 256 + 256
    expected += sum(_conv3(a, b) for a, b in zip(dec, dec[1:]))
    assert sum(p.numel() for p in m.colornet.parameters()) == expected
    strides = [c.stride[0] for c in m.colornet.encoder if isinstance(c, torch.nn.Conv2d)]
    assert strides == [2, 1, 2, 1, 2, 1, 1, 1]
    assert m.colornet.fusion[0].in_channels == 256 + 1000
    assert m.extractor.size == 299
    assert torch.allclose(m.extractor.mean, torch.full((1, 3, 1, 1), 0.5))  # Inception sees [-1, 1]

    f = cb.create_method("koalarization", variant="fusion256", pretrained="false")
    assert f.config.extractor == "inception_v3"
    assert f.colornet.fusion[0].in_channels == 256 + 256
    idx = f.fusion_index
    assert idx.numel() == 256 and idx.unique().numel() == 256 and 0 <= idx.min() and idx.max() < 1000
    # a fixed, seeded subset: same seed -> same logits, another seed -> another subset
    assert torch.equal(idx, cb.create_method("koalarization", **TINY, fusion_width=256).fusion_index)
    assert not torch.equal(idx, cb.create_method("koalarization", **TINY, fusion_width=256, fusion_seed=1).fusion_index)
    with pytest.raises(ValueError, match="fusion_width"):
        cb.create_method("koalarization", **TINY, fusion_width=1001)


def test_fusion_vector_is_the_selected_logits():
    m = tiny(fusion_width=256)
    grey = torch.rand(2, 1, 40, 24)
    logits = m.extractor(grey)
    assert logits.shape == (2, 1000)
    assert torch.equal(m.fusion_vector(grey), logits[:, m.fusion_index])


def test_extractor_is_frozen_and_stays_in_eval_mode():
    m = tiny()
    m.train()
    assert not m.extractor.training and not m.extractor.net.training
    assert all(not p.requires_grad for p in m.extractor.parameters())
    assert "extractor" not in m.networks()
    before = {k: v.clone() for k, v in m.extractor.state_dict().items()}
    colour_before = [p.detach().clone() for p in m.colornet.parameters()]
    out = m.train_step(_batch(), 0)
    assert set(out) >= {"loss", "mse"}
    for k, v in m.extractor.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in m.extractor.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(colour_before, m.colornet.parameters()))


def test_extractor_sees_bt601_luma_repeated_and_normalised():
    m = tiny()
    seen = []
    m.extractor.net.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach()))
    batch = _batch(n=2, size=32)
    m.train_step(batch, 0)
    x = seen[-1]
    assert x.shape == (2, 3, m.extractor.size, m.extractor.size)
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2])
    r, g, b = batch["rgb"].double().unbind(1)
    luma = 0.2989 * r + 0.5870 * g + 0.1140 * b  # TensorFlow rgb_to_grayscale, the reference's (BT.601)
    assert torch.allclose(x[:, 0].double() * 0.5 + 0.5, luma, atol=1e-6)  # 32² in, 32² seen


def test_extractor_input_is_resized_rgb_then_luma():
    from colorbench.methods.koalarization import grey_for_extractor

    rgb = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    grey = grey_for_extractor(rgb, 299)
    up = torch.nn.functional.interpolate(rgb, size=(299, 299), mode="bilinear", align_corners=False, antialias=True)
    w = torch.tensor([0.2989, 0.5870, 0.1140]).view(1, 3, 1, 1)
    assert grey.shape == (2, 1, 299, 299)
    torch.testing.assert_close(grey, (up * w).sum(1, keepdim=True))


def test_training_and_inference_share_one_extractor_input():
    """One function in both paths: a neutral image gives the extractor the same input whether it is read from
    RGB (training) or rebuilt from L (colorize); with extractor_grey = "L" any image does."""
    m = tiny()
    levels = torch.linspace(0.02, 0.98, 32)
    rgb = levels.view(1, 1, 1, 32).expand(2, 3, 32, 32).contiguous()  # neutral sRGB greys
    L, _ = cb.rgb_to_network(rgb)
    torch.testing.assert_close(m.extractor_grey(L, rgb), m.extractor_grey(L), atol=2e-4, rtol=0)
    colour = _batch(n=2, size=32)
    from_rgb = m.extractor_grey(colour["L"], colour["rgb"])
    from_l = m.extractor_grey(colour["L"])
    assert (from_rgb - from_l).abs().max() > 0.02  # colour photos: the luma is not the neutral grey of L
    seen = []
    m_l = tiny(extractor_grey="L")
    m_l.extractor.net.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach()))
    m_l.train_step(colour, 0)
    m_l.colorize(colour["L"])
    torch.testing.assert_close(seen[0], seen[1])


def test_neutral_rgb_is_the_grey_of_that_lightness():
    from colorbench.methods.koalarization import luma_bt601, neutral_rgb

    levels = torch.linspace(0, 1, 11).view(1, 1, 1, 11).expand(1, 3, 1, 11).contiguous()  # sRGB greys
    L, _ = cb.rgb_to_network(levels)
    assert torch.allclose(neutral_rgb(L), levels, atol=1e-4)
    assert torch.allclose(luma_bt601(neutral_rgb(L)), levels[:, :1], atol=2e-4)  # the weights sum to 0.9999


def test_learning_rate_halves_every_two_epochs_given_steps_per_epoch():
    constant = tiny()
    assert constant.learning_rate(0) == constant.learning_rate(10**6) == 1e-3  # Baldassarre: no schedule
    m = tiny(steps_per_epoch=100)  # e.g. Places-Extra69 in the report: 84,313 // 64 = 1,317
    assert [m.learning_rate(s) for s in (0, 199, 200, 399, 400, 1999)] == pytest.approx(
        [1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 1e-3 * 0.5**9])
    out = m.train_step(_batch(), 250)
    assert out["lr"] == m.opt.param_groups[0]["lr"] == pytest.approx(5e-4)


def test_zhang_bins_variant_shares_cics_quantisation(tmp_path):
    """The classification variant is colorbench.ab_bins, as cic: the 313 bins, soft targets, rebalancing on the
    training set's prior (from data_config, as the grid and trainer pass it), the annealed mean."""
    from colorbench import ab_bins

    cls = get_method("koalarization")
    cfg = cb.registry.build_config(cls, {**TINY, "loss": "binned_ce"}, "default")
    extra = cls.data_config(cfg, "synthetic", size=16, data_options={"length": 8})
    assert set(extra) == {"prior", "prior_sha"}
    assert cls.data_config(cb.registry.build_config(cls, TINY, "default"), "synthetic", size=16) == {}  # mse
    m = tiny(loss="binned_ce", **extra)
    assert torch.equal(m.bin_centres, ab_bins.bin_centres())
    prior = ab_bins.load_prior(extra["prior"])
    torch.testing.assert_close(m.class_weights, ab_bins.rebalance_weights(prior, 0.5))
    assert (prior * m.class_weights).sum().item() == pytest.approx(1.0, abs=1e-5)
    logits = torch.randn(1, 313, 2, 3)
    torch.testing.assert_close(m._decode(logits) * 110, ab_bins.decode(logits, m.bin_centres, "annealed", 0.38))
    batch = _batch()
    out = m.colornet(batch["L"], m.fusion_vector(m.extractor_grey(batch["L"], batch["rgb"])))
    index, weight = ab_bins.soft_encode(batch["ab"] * 110, m.bin_centres)
    expected = ab_bins.rebalanced_cross_entropy(out, index, weight, m.class_weights).item()
    assert m.train_step(batch, 0)["ce"] == pytest.approx(expected, rel=1e-5)


def test_zhang_bins_variant_trains_on_bins_and_decodes_to_ab():
    assert K.variants["zhang_bins"] == {"extractor": "inception_v3", "loss": "binned_ce"}
    assert "ce" not in K.variants  # named as what it is: not the report's Model 4 (see the docstring)
    m = tiny(loss="binned_ce")
    q = m.bin_centres.shape[0]
    assert m.colornet.decoder[-3].out_channels == q  # the last conv scores every bin
    out = m.train_step(_batch(), 0)
    assert set(out) == {"loss", "ce", "mse", "lr"} and out["loss"] == out["ce"]
    assert out["ce"] == pytest.approx(np.log(q), rel=0.3)  # untrained: near uniform over the bins
    ab = m.colorize(torch.zeros(1, 1, 37, 53))
    assert ab.shape == (1, 2, 37, 53) and ab.abs().max() <= 1.0


def test_pretrained_flag_reports_the_extractor():
    assert tiny().pretrained_flags() == {"tiny_random": False}
    m = cb.create_method("koalarization", extractor="convnext_tiny", pretrained="false", width=0.125)
    assert m.pretrained_flags() == {"convnext_tiny": False}
    assert m.extractor.size == 224

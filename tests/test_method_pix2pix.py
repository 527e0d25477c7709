"""pix2pix: the paper networks (reference counts), init, optimiser, halved D loss, G = GAN + 100·L1, schedule."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from colorbench.data import build_dataset
from colorbench.registry import create_method, get_method


def tiny(**overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_method("pix2pix", **{**get_method("pix2pix").test_overrides, **overrides})


def batch(size: int = 16, n: int = 4) -> dict:
    ds = build_dataset("synthetic", size=size)
    return torch.utils.data.default_collate([ds[i] for i in range(n)])


def test_paper_configuration_builds_the_reference_networks() -> None:
    torch.manual_seed(0)
    m = create_method("pix2pix")
    assert m.config.image_size == 256 and m.config.batch_size == 1
    assert m.generator.levels == 8 and m.multiple == 256
    # the reference unet_256 (junyanz/pytorch-CycleGAN-and-pix2pix)
    assert sum(p.numel() for p in m.generator.parameters()) == 54_409_858
    assert sum(p.numel() for p in m.discriminator.parameters()) == 2_765_633  # PatchGAN on concat(L, ab)
    assert m.discriminator.model[0].in_channels == 3 and m.discriminator.min_size == 24
    # Adam 2e-4, betas (0.5, 0.999), one per network
    for opt, net in ((m.opt_g, m.generator), (m.opt_d, m.discriminator)):
        assert isinstance(opt, torch.optim.Adam)
        assert opt.param_groups[0]["lr"] == 2e-4 and opt.param_groups[0]["betas"] == (0.5, 0.999)
        assert {id(p) for p in opt.param_groups[0]["params"]} == {id(p) for p in net.parameters()}
    # N(0, 0.02) weights, N(1, 0.02) batch-norm scales, zero biases
    w = m.generator.downs[4][1].weight.detach()  # 512 -> 512, 4×4: 4M samples
    assert abs(w.mean().item()) < 1e-4 and w.std().item() == pytest.approx(0.02, rel=0.01)
    bn = torch.cat([b.weight.detach() for b in m.discriminator.modules() if isinstance(b, nn.BatchNorm2d)])
    assert bn.mean().item() == pytest.approx(1.0, abs=0.01) and bn.std().item() == pytest.approx(0.02, rel=0.2)
    assert torch.count_nonzero(m.discriminator.model[-1].bias) == 0
    assert get_method("pix2pix").watch_loss == "l1"


@pytest.mark.parametrize("size,levels", [(16, 4), (32, 5), (64, 6), (256, 8), (512, 8)])
def test_depth_follows_image_size(size: int, levels: int) -> None:
    m = create_method("pix2pix", width_g=2, width_d=2, image_size=size)
    assert m.generator.levels == levels


def test_discriminator_loss_is_halved() -> None:
    m = tiny()
    b = batch()
    fake = torch.rand_like(b["ab"]) * 2 - 1
    d = m.discriminator_loss(b["L"], b["ab"], fake)
    with torch.no_grad():
        real_logits = m.discriminator(torch.cat([b["L"], b["ab"]], 1))
        fake_logits = m.discriminator(torch.cat([b["L"], fake], 1))
    # BCE with logits, written out: -log σ(x) = softplus(-x), -log(1 - σ(x)) = softplus(x)
    d_real, d_fake = F.softplus(-real_logits).mean(), F.softplus(fake_logits).mean()
    torch.testing.assert_close(d["d_real"], d_real)
    torch.testing.assert_close(d["d_fake"], d_fake)
    torch.testing.assert_close(d["d"], 0.5 * (d_real + d_fake))
    assert d["d"].grad_fn is not None


def test_train_step_losses_and_updates() -> None:
    m = tiny(dropout=0.0)
    b = batch()
    g_before, d_before = copy.deepcopy(m.generator), copy.deepcopy(m.discriminator)
    with torch.no_grad():
        expected_l1 = (g_before.train()(b["L"]) - b["ab"]).abs().mean().item()
    raw = m.train_step(b, 0)
    assert all(isinstance(raw[k], torch.Tensor) and raw[k].dim() == 0 for k in ("d", "g", "l1"))  # left on the device
    out = {k: float(v) for k, v in raw.items()}
    assert out["d"] == pytest.approx(0.5 * (out["d_real"] + out["d_fake"]), rel=1e-6)
    assert out["g"] == pytest.approx(out["g_gan"] + 100.0 * out["l1"], rel=1e-6)
    assert out["l1"] == pytest.approx(expected_l1, rel=1e-5)
    for before, after in ((g_before, m.generator), (d_before, m.discriminator)):
        assert all(not torch.equal(p, q) for p, q in zip(before.parameters(), after.parameters()))
    assert all(p.requires_grad for p in m.discriminator.parameters())  # restored after G's step


def test_lambda_l1_weighs_the_reconstruction() -> None:
    m = tiny(lambda_l1=7.0)
    b = batch()
    fake = m.generate(b["L"])
    g = m.generator_loss(b["L"], b["ab"], fake)
    torch.testing.assert_close(g["g"], g["g_gan"] + 7.0 * g["l1"])
    torch.testing.assert_close(g["l1"], (fake - b["ab"]).abs().mean())


def test_linear_decay_schedule() -> None:
    m = tiny(lr_constant_steps=100, lr_decay_steps=100)
    assert m.learning_rate(0) == m.learning_rate(100) == 2e-4
    assert m.learning_rate(150) == pytest.approx(2e-4 * (1 - 50 / 101))
    assert tiny().learning_rate(10**6) == 2e-4  # 0 decay steps: constant


def test_small_images_pass_the_patchgan() -> None:
    """A 16-px crop is below the 70×70 PatchGAN's 24-px minimum: the method pads D's input and still trains."""
    m = tiny(n_layers_d=3)
    out = m.train_step(batch(16), 0)
    assert all(torch.isfinite(torch.tensor(v)) for v in out.values())
    L = torch.rand(1, 1, 37, 53) * 2 - 1
    m.train()
    a = m.colorize(L)
    assert a.shape == (1, 2, 37, 53) and torch.equal(a, m.colorize(L)) and m.training

"""What makes gorriz Górriz et al.: 3 discriminators at 3 scales, spectral norm everywhere, IBN placement,
the per-sample instance norm of keras-contrib, TF 'same' padding, and the reference's step order."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from colorbench.nets.blocks import SameConv2d
from colorbench.nets.gorriz import GorrizGenerator, PerSampleInstanceNorm, gorriz_levels
from colorbench.nets.spectral import spectral_norm_coverage
from colorbench.registry import create_method, get_method

TINY = get_method("gorriz").test_overrides


def _conv(cin: int, cout: int, k: int = 4) -> int:
    return k * k * cin * cout + cout


def _paper_generator_params() -> int:
    """Counted from the paper's description (Keras convs with bias, BN = 2 per channel, IN axis=None = 2)."""
    w = [64, 128, 256, 512, 512, 512, 512]
    n = _conv(1, 64) + sum(_conv(w[i - 1], w[i]) + 2 * w[i] for i in range(1, 7))
    for j, cout in enumerate([512, 512, 512, 256, 128, 64]):
        cin = 512 if j == 0 else 2 * [512, 512, 512, 256, 128, 64][j - 1]
        n += _conv(cin, cout) + (2 if j == 5 else 2 * cout)
    return n + _conv(128, 2)


def _norms(module: nn.Module) -> list[type]:
    return [type(m) for m in module.modules() if isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d,
                                                                 PerSampleInstanceNorm))]


@pytest.fixture(scope="module")
def paper():
    torch.manual_seed(0)
    return create_method("gorriz")


def test_paper_configuration_structure(paper):
    g, d = paper.generator, paper.discriminator
    assert paper.config.image_size == 256 and g.levels == 7
    assert [blk[0].conv.out_channels for blk in g.downs] == [64, 128, 256, 512, 512, 512, 512]
    assert [blk[1].conv.out_channels for blk in g.ups] == [512, 512, 512, 256, 128, 64]
    assert all(isinstance(blk[0], nn.Upsample) and blk[0].mode == "nearest" for blk in g.ups)
    assert not any(isinstance(m, nn.Dropout) for m in g.modules())
    assert sum(p.numel() for p in g.parameters()) == _paper_generator_params() == 41_830_276
    # IBN: BN everywhere but the first down (none) and the last up block (per-sample IN)
    assert _norms(g) == [nn.BatchNorm2d] * 6 + [nn.BatchNorm2d] * 5 + [PerSampleInstanceNorm]
    assert len(g.downs[0]) == 2  # conv, LeakyReLU
    bn = next(m for m in g.modules() if isinstance(m, nn.BatchNorm2d))
    assert (bn.momentum, bn.eps) == (0.01, 1e-3)
    # three discriminators, separate weights, 64 (no norm), 128 (IN), 256, 512 then a conv to 1
    assert d.num_scales == 3
    for disc in d.discriminators:
        assert _norms(disc) == [PerSampleInstanceNorm, nn.BatchNorm2d, nn.BatchNorm2d]
        convs = [m for m in disc.modules() if isinstance(m, nn.Conv2d)]
        assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]
        assert [c.stride for c in convs] == [(2, 2)] * 4 + [(1, 1)] and convs[0].in_channels == 3
    assert len({id(disc.model[0][0].conv.parametrizations.weight.original) for disc in d.discriminators}) == 3
    # spectral norm on every conv of both networks
    assert spectral_norm_coverage(g) == (14, 14)  # 7 down, 6 up, 1 out
    assert spectral_norm_coverage(d) == (15, 15)


def test_discriminators_see_concat_l_ab_at_three_scales():
    m = create_method("gorriz", **TINY)
    seen = []
    hooks = [disc.register_forward_hook(lambda mod, inp, out: seen.append(inp[0]))
             for disc in m.discriminator.discriminators]
    x = torch.randn(2, 3, 32, 32)
    m.discriminator(x)
    for h in hooks:
        h.remove()
    assert [tuple(s.shape) for s in seen] == [(2, 3, 32, 32), (2, 3, 16, 16), (2, 3, 8, 8)]
    torch.testing.assert_close(seen[2], x.reshape(2, 3, 8, 4, 8, 4).mean(dim=(3, 5)))


@pytest.mark.parametrize("variant, check", [
    ("no_sn", lambda m: spectral_norm_coverage(m.generator)[0] == 0 == spectral_norm_coverage(m.discriminator)[0]),
    ("single_scale", lambda m: m.discriminator.num_scales == 1),
    ("no_ibn", lambda m: set(_norms(m)) == {nn.BatchNorm2d}),
    ("per_channel_in", lambda m: nn.InstanceNorm2d in _norms(m) and PerSampleInstanceNorm not in _norms(m)),
    ("bn", lambda m: m.discriminator.num_scales == 1 and set(_norms(m)) == {nn.BatchNorm2d}
     and spectral_norm_coverage(m)[0] == 0),
])
def test_ablation_variants(variant, check):
    assert check(create_method("gorriz", variant=variant, **TINY))


def test_per_sample_instance_norm_is_groupnorm_one_group():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 6, 7, generator=g, dtype=torch.float64) * 4 + 2
    norm = PerSampleInstanceNorm(eps=1e-3).double()
    with torch.no_grad():
        norm.weight.fill_(1.7)
        norm.bias.fill_(-0.3)
    ref = nn.GroupNorm(1, 5, eps=1e-3).double()
    with torch.no_grad():
        ref.weight.fill_(1.7)
        ref.bias.fill_(-0.3)
    torch.testing.assert_close(norm(x), ref(x))
    a = x.numpy().reshape(3, -1)  # numpy: over C, H and W of each sample, biased variance
    expect = (a - a.mean(1, keepdims=True)) / np.sqrt(a.var(1, keepdims=True) + 1e-3) * 1.7 - 0.3
    np.testing.assert_allclose(norm(x).detach().numpy().reshape(3, -1), expect, rtol=1e-10, atol=1e-10)
    assert norm.weight.shape == (1,)  # one scalar scale, as keras-contrib axis=None
    per_channel = nn.InstanceNorm2d(5, eps=1e-3)(x.float()).double()
    assert not torch.allclose(norm(x), per_channel * 1.7 - 0.3, atol=1e-2)  # not the per-channel norm


@pytest.mark.parametrize("size, stride, pads", [(8, 2, (1, 1)), (7, 2, (1, 2)), (1, 2, (1, 2)), (9, 1, (1, 2))])
def test_same_conv_pads_like_tensorflow(size, stride, pads):
    torch.manual_seed(0)
    conv = SameConv2d(2, 3, 4, stride)
    x = torch.randn(1, 2, size, size)
    expect = F.conv2d(F.pad(x, (pads[0], pads[1], pads[0], pads[1])), conv.conv.weight, conv.conv.bias, stride=stride)
    torch.testing.assert_close(conv(x), expect)
    assert conv(x).shape[-1] == -(-size // stride)


def test_depth_follows_the_crop():
    assert [gorriz_levels(s) for s in (16, 32, 64, 128, 256, 512)] == [4, 5, 6, 7, 7, 7]
    assert create_method("gorriz", **TINY).generator.levels == 5
    with pytest.raises(ValueError, match="divisible by 32"):
        GorrizGenerator(levels=5, width=4, max_width=8)(torch.zeros(1, 1, 48, 40))


def _batch(n=4, size=32):
    g = torch.Generator().manual_seed(3)
    return {"L": torch.rand(n, 1, size, size, generator=g) * 2 - 1,
            "ab": torch.rand(n, 2, size, size, generator=g) * 0.6 - 0.3}


def test_train_step_order_and_losses():
    torch.manual_seed(0)
    m = create_method("gorriz", **TINY)
    m.train()
    out = m.train_step(_batch(), 0)
    assert {"l1", "g_adv", "loss_g", "loss_d", "d_real", "d_fake"} <= set(out)
    assert out["loss_g"] == pytest.approx(out["g_adv"] + 100 * out["l1"], rel=1e-5)
    # reference: one discriminator step on real pairs, one on fake pairs, then one generator step
    d_state = m.opt_d.state[next(iter(m.discriminator.parameters()))]
    g_state = m.opt_g.state[next(iter(m.generator.parameters()))]
    assert int(d_state["step"]) == 2 and int(g_state["step"]) == 1
    j = create_method("gorriz", d_update="joint", **TINY)
    j.train_step(_batch(), 0)
    assert int(j.opt_d.state[next(iter(j.discriminator.parameters()))]["step"]) == 1


def test_l1_weight_enters_the_generator_loss():
    outs = []
    for lam in (100.0, 10.0):
        torch.manual_seed(0)
        m = create_method("gorriz", lambda_l1=lam, **TINY)
        outs.append(m.train_step(_batch(), 0))
    assert outs[0]["l1"] == pytest.approx(outs[1]["l1"], rel=1e-6)  # same init, same prediction
    assert outs[0]["loss_g"] - outs[1]["loss_g"] == pytest.approx(90 * outs[0]["l1"], rel=1e-4)


def test_colorize_any_size_in_range():
    m = create_method("gorriz", **TINY).eval()
    ab = m.colorize(torch.rand(1, 1, 37, 53) * 2 - 1)
    assert ab.shape == (1, 2, 37, 53) and ab.abs().max() <= 1

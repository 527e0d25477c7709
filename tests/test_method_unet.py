"""unet_l1 / unet_l2: the KTH U-Net at the paper's size, the step decay, the two pixel losses, depth and padding."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from colorbench.data import build_dataset
from colorbench.nets.blocks import FrozenStatsBatchNorm2d
from colorbench.registry import create_method, get_method


def tiny(name: str, **overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_method(name, **{**get_method(name).test_overrides, **overrides})


def batch(size: int = 16, n: int = 4) -> dict:
    ds = build_dataset("synthetic", size=size)
    return torch.utils.data.default_collate([ds[i] for i in range(n)])


def test_registered_with_paper_defaults() -> None:
    for name in ("unet_l1", "unet_l2"):
        cls = get_method(name)
        assert "KTH" in cls.source and cls.description and cls.Config is get_method("unet_l1").Config
    m = create_method("unet_l2")
    cfg = m.config
    assert (cfg.image_size, cfg.batch_size, cfg.lr, cfg.lr_decay, cfg.lr_decay_every) == (32, 128, 1e-3, 0.3, 17500)
    # the paper network at 32²: stem 64 (stride 1), 128, 256, 512, 512; 4 stride-2 levels
    assert m.net.widths == [64, 128, 256, 512, 512] and m.net.levels == 4 and m.multiple == 16
    assert [c.stride for c in m.net.stem.modules() if isinstance(c, nn.Conv2d)] == [(1, 1)]
    assert sum(p.numel() for p in m.net.parameters()) == 16_654_722  # tests/test_nets.py derives it by hand
    drop = [j for j, up in enumerate(m.net.ups) if any(isinstance(x, nn.Dropout) for x in up)]
    assert drop == [0, 1]
    assert isinstance(m.opt, torch.optim.Adam) and m.opt.param_groups[0]["lr"] == 1e-3
    # Glorot normal (TensorFlow's: truncated at 2σ of the draw), as the paper's §5.1
    conv = m.net.downs[1][0]  # 128 -> 256, 4×4
    std = (2.0 / (128 * 16 + 256 * 16)) ** 0.5
    assert conv.weight.std().item() == pytest.approx(std, rel=0.03)
    assert std * 2 < conv.weight.abs().max().item() <= 2 * std / 0.8796
    assert isinstance(m.net.stem[1], nn.BatchNorm2d)


@pytest.mark.parametrize("name", ["unet_l1", "unet_l2"])
def test_code_variant_never_normalises_and_is_glorot_uniform(name: str) -> None:
    """The reference calls batch norm without training=True: γ·x/√(1+1e-3)+β on statistics fixed at 0/1."""
    torch.manual_seed(0)
    m = create_method(name, variant="code")
    assert m.net.widths == [64, 128, 256, 512, 512]
    assert sum(p.numel() for p in m.net.parameters()) == 16_654_722  # same parameters as the paper's network
    assert not any(isinstance(x, nn.BatchNorm2d) for x in m.net.modules())
    norms = [x for x in m.net.modules() if isinstance(x, FrozenStatsBatchNorm2d)]
    assert len(norms) == 1 + 4 + 4 and all(x.eps == 1e-3 for x in norms)  # stem, 4 downs, 4 ups
    conv = m.net.downs[1][0]
    bound = (6.0 / (128 * 16 + 256 * 16)) ** 0.5
    assert conv.weight.abs().max().item() <= bound
    assert conv.weight.std().item() == pytest.approx(bound / 3**0.5, rel=0.03)
    # the stem's output is the conv's, scaled: no batch statistics, in training mode as in eval mode
    m.net.train()
    x = torch.randn(3, 1, 32, 32)
    pre = m.net.stem[0](x)
    torch.testing.assert_close(m.net.stem[1](pre), pre / (1 + 1e-3) ** 0.5)


def test_tarres_variant_is_her_256_px_seven_level_unet() -> None:
    m = create_method("unet_l1", variant="tarres", width=8)
    cfg = m.config
    assert (cfg.image_size, cfg.max_levels, cfg.batch_size) == (256, 7, 16)
    assert m.net.levels == 7 and m.multiple == 128  # "n = 7 downsampling layers": a 2×2 bottleneck at 256²
    assert m.colorize(torch.zeros(1, 1, 256, 256)).shape == (1, 2, 256, 256)


def test_step_decay_not_the_codes_exponential() -> None:
    m = tiny("unet_l1")
    assert m.learning_rate(0) == 1e-3
    assert m.learning_rate(500) == 1e-3  # the KTH code would be at ~6e-9 here
    assert m.learning_rate(17_499) == 1e-3
    assert m.learning_rate(17_500) == pytest.approx(3e-4)
    assert m.learning_rate(35_000) == pytest.approx(9e-5)
    m.train_step(batch(), 17_500)
    assert m.opt.param_groups[0]["lr"] == pytest.approx(3e-4)


def test_code_variant_trains_as_the_kth_code() -> None:
    """src/UNET/model.py: tf.train.exponential_decay(1e-3, step, 50, 0.3) without staircase, i.e.
    1e-3 · 0.3^(step/50); and tf.keras.losses.MeanSquaredError, whatever the report's "L1" says."""
    m = tiny("unet_l1", variant="code", dropout=0.0)
    assert (m.config.loss, m.config.lr_schedule, m.config.lr_decay_every) == ("l2", "smooth", 50)
    assert m.learning_rate(0) == 1e-3
    assert m.learning_rate(25) == pytest.approx(1e-3 * 0.3 ** 0.5)
    assert m.learning_rate(50) == pytest.approx(3e-4)
    assert m.learning_rate(500) == pytest.approx(5.9049e-9)  # 1e-3 · 0.3^10: frozen after a few hundred steps
    b = batch()
    before = copy.deepcopy(m.net).train()
    expected = ((before(b["L"]) - b["ab"]) ** 2).mean().item()
    assert m.train_step(b, 0)["loss"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name,loss", [("unet_l1", lambda p, t: (p - t).abs().mean()),
                                       ("unet_l2", lambda p, t: ((p - t) ** 2).mean())])
def test_train_step_reports_its_pixel_loss(name: str, loss) -> None:
    m = tiny(name, dropout=0.0)  # no dropout: the forward pass is repeatable
    b = batch()
    before = copy.deepcopy(m.net).train()
    expected = loss(before(b["L"]), b["ab"]).item()
    out = m.train_step(b, 0)
    assert out["loss"] == pytest.approx(expected, rel=1e-5)
    changed = [not torch.equal(p, q) for p, q in zip(before.parameters(), m.net.parameters())]
    assert all(changed)


@pytest.mark.parametrize("size,levels", [(8, 3), (16, 4), (32, 4), (256, 4)])
def test_depth_follows_image_size(size: int, levels: int) -> None:
    m = create_method("unet_l1", width=4, image_size=size)
    assert m.net.levels == levels and m.multiple == 2**levels


def test_colorize_any_size_and_mode() -> None:
    m = tiny("unet_l2")
    m.train()
    L = torch.rand(1, 1, 37, 53) * 2 - 1
    a, b = m.colorize(L), m.colorize(L)
    assert a.shape == (1, 2, 37, 53) and torch.equal(a, b)  # eval inside: no dropout noise
    assert a.abs().max() <= 1 and m.training and m.net.training  # the caller's mode is restored
    # an odd size is reflect-padded to the U-Net's multiple (8 here), predicted, and cropped back
    m.train_step(batch(), 0)
    L = torch.rand(3, 1, 13, 21) * 2 - 1
    out = m.colorize(L)
    with torch.no_grad():
        manual = m.net.eval()(torch.nn.functional.pad(L, (0, 3, 0, 3), mode="reflect"))[..., :13, :21]
    torch.testing.assert_close(out, manual)


def _tf_order_weights(net: nn.Module) -> None:
    """The fixture's weights: the k-th trainable TensorFlow variable of the reference graph (the order of our
    state dict: conv kernel, bias, BN gamma, beta, ...), drawn in TensorFlow's layout from numpy's
    default_rng(2000 + k): N(0, 1/fan_in) kernels, gamma 1 + N(0, 0.01), biases and betas N(0, 0.01); kernels
    moved to torch's layout ([kh,kw,in,out] -> [out,in,kh,kw]; transposed [kh,kw,out,in] -> [in,out,kh,kw])."""
    import numpy as np

    state = {}
    for k, (name, t) in enumerate(net.state_dict().items()):
        tf_shape = tuple(t.permute(2, 3, 1, 0).shape) if t.dim() == 4 else tuple(t.shape)
        x = np.random.default_rng(2000 + k).standard_normal(tf_shape)
        if t.dim() == 4:
            x = torch.from_numpy(x * (1.0 / int(np.prod(tf_shape[:-1]))) ** 0.5).permute(3, 2, 0, 1)
        else:
            x = torch.from_numpy(1.0 + 0.1 * x if name.endswith("1.weight") else 0.1 * x)
        state[name] = x.float()
    net.load_state_dict(state)


def test_code_network_matches_the_kth_tensorflow_unet():
    """Parity with the KTH reference U-Net (duartegalvao/Image-Colorization-with-Deep-Learning,
    src/UNET/models/UNet.py) run as its sampler (is_training=False) in TensorFlow 2.15's tf.compat.v1, outside the
    project, on the weights of :func:`_tf_order_weights` and a [2,32,32,1] input (the fixture): our ``code``
    network (frozen-statistics batch norm) gives its output."""
    from pathlib import Path

    import numpy as np

    from colorbench.nets.unet import kth_unet

    ref = np.load(Path(__file__).parent / "fixtures" / "kth_unet_tf.npz")
    net = kth_unet(1, 2, levels=4, norm="frozen_batch").eval()
    _tf_order_weights(net)
    with torch.no_grad():
        y = net(torch.from_numpy(ref["x"]).permute(0, 3, 1, 2))
    torch.testing.assert_close(y, torch.from_numpy(ref["y"]).permute(0, 3, 1, 2), rtol=1e-4, atol=1e-5)

"""unet_l1 / unet_l2: the KTH U-Net at the paper's size, the step decay, the two pixel losses, depth and padding."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from colorbench.data import build_dataset
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
    # Glorot-uniform initialisation, as the reference code
    conv = m.net.downs[1][0]  # 128 -> 256, 4×4
    bound = (6.0 / (128 * 16 + 256 * 16)) ** 0.5
    assert conv.weight.abs().max().item() <= bound
    assert conv.weight.std().item() == pytest.approx(bound / 3**0.5, rel=0.03)


def test_step_decay_not_the_codes_exponential() -> None:
    m = tiny("unet_l1")
    assert m.learning_rate(0) == 1e-3
    assert m.learning_rate(500) == 1e-3  # the KTH code would be at ~6e-9 here
    assert m.learning_rate(17_499) == 1e-3
    assert m.learning_rate(17_500) == pytest.approx(3e-4)
    assert m.learning_rate(35_000) == pytest.approx(9e-5)
    m.train_step(batch(), 17_500)
    assert m.opt.param_groups[0]["lr"] == pytest.approx(3e-4)


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

"""TensorFlow equivalents the KTH reference code needs: batch norm called in inference mode, Glorot normal."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from colorbench.nets.blocks import FrozenStatsBatchNorm2d, make_norm
from colorbench.nets.init import glorot_truncated_normal_, init_by_name_, init_xavier_


def test_frozen_batch_norm_is_tf_inference_mode_on_initial_statistics() -> None:
    """TF: y = γ (x - moving_mean) / sqrt(moving_var + eps) + β with moving_mean 0, moving_var 1, eps 1e-3."""
    norm = make_norm("frozen_batch", 3)
    assert isinstance(norm, FrozenStatsBatchNorm2d)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1.0, 2.0, -0.5]))
        norm.bias.copy_(torch.tensor([0.0, 0.25, 1.0]))
    x = torch.randn(4, 3, 5, 6) * 7 + 3  # far from zero mean / unit variance: a real batch norm would change it
    gamma, beta = norm.weight.detach().view(1, 3, 1, 1), norm.bias.detach().view(1, 3, 1, 1)
    expected = gamma * x / math.sqrt(1.0 + 1e-3) + beta
    norm.train()
    torch.testing.assert_close(norm(x), expected)
    norm.eval()
    torch.testing.assert_close(norm(x), expected)  # the same in both modes: nothing to track
    assert sum(p.numel() for p in norm.parameters()) == sum(p.numel() for p in nn.BatchNorm2d(3).parameters()) == 6
    assert list(norm.buffers()) == []


def test_frozen_batch_norm_gets_gradients_and_init() -> None:
    norm = FrozenStatsBatchNorm2d(2)
    norm(torch.randn(2, 2, 3, 3)).sum().backward()
    assert norm.weight.grad is not None and norm.bias.grad is not None
    net = nn.Sequential(nn.Conv2d(1, 2, 3), norm)
    with torch.no_grad():
        norm.weight.fill_(5.0)
    init_xavier_(net, "uniform")
    assert torch.equal(norm.weight.detach(), torch.ones(2))  # treated as a norm layer: weight 1, bias 0


def test_glorot_normal_is_tensorflows_truncated_normal() -> None:
    torch.manual_seed(0)
    w = torch.empty(256, 128, 4, 4)
    glorot_truncated_normal_(w)
    fan_in, fan_out = 128 * 16, 256 * 16
    target = math.sqrt(2.0 / (fan_in + fan_out))
    assert w.std().item() == pytest.approx(target, rel=0.01)  # 524k samples
    assert w.abs().max().item() <= 2 * target / 0.87962566103423978 + 1e-7  # truncated at 2 sigma of the draw
    assert w.abs().max().item() > 2 * target  # ... which is wider than 2 x the final std


@pytest.mark.parametrize("name", ["glorot_normal", "glorot_uniform", "normal", "torch"])
def test_init_by_name(name: str) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 64, 4)
    init_by_name_(conv, name)
    std = conv.weight.detach().std().item()
    expected = {"glorot_normal": math.sqrt(2 / (2 * 64 * 16)), "glorot_uniform": math.sqrt(2 / (2 * 64 * 16)),
                "normal": 0.02, "torch": math.sqrt(1 / (3 * 64 * 16))}[name]  # torch: kaiming_uniform(a=√5)
    assert std == pytest.approx(expected, rel=0.03)
    with pytest.raises(ValueError, match="glorot_normal"):
        init_by_name_(conv, "xavier")

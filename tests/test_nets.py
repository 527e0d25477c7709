"""Shared network blocks: padding, initialisation, the U-Net and the PatchGAN against independent references.

References: numpy's ``np.pad``, hand-derived parameter formulas, the pix2pix reference counts pinned in
the reference implementation's counts (junyanz/pytorch-CycleGAN-and-pix2pix: 54,409,858 / 54,413,955 / 2,765,633 /
2,768,705), a numpy loop for TF 'same' padding, and the 70×70 receptive field measured by back-propagation.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from colorbench.nets.blocks import SameConv2d, batch_statistics, evaluating, make_norm
from colorbench.nets.init import init_normal_, init_xavier_
from colorbench.nets.padding import apply_padded, crop_to, pad_to_multiple
from colorbench.nets.patchgan import PatchGAN
from colorbench.nets.unet import UNet, kth_unet, levels_for, pix2pix_unet


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ------------------------------------------------------------------------------------------------ padding
@pytest.mark.parametrize("H,W,multiple", [(37, 53, 8), (3, 5, 16), (32, 32, 32), (1, 7, 4), (17, 2, 256)])
@pytest.mark.parametrize("mode", ["reflect", "replicate", "constant"])
def test_pad_matches_numpy_and_crops_back(H: int, W: int, multiple: int, mode: str) -> None:
    x = np.random.default_rng(0).random((2, 3, H, W)).astype(np.float32)
    padded, size = pad_to_multiple(torch.from_numpy(x), multiple, mode)
    ph, pw = (-H) % multiple, (-W) % multiple
    np_mode = {"reflect": "reflect", "replicate": "edge", "constant": "constant"}[mode]
    if mode == "reflect" and (H == 1 or W == 1):
        np_mode = "edge"  # a 1-px side cannot reflect; the function replicates it
    expected = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode=np_mode)
    assert size == (H, W)
    assert padded.shape[-2] % multiple == 0 and padded.shape[-1] % multiple == 0
    np.testing.assert_array_equal(padded.numpy(), expected)
    np.testing.assert_array_equal(crop_to(padded, size).numpy(), x)


def test_pad_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\[B,C,H,W\]"):
        pad_to_multiple(torch.zeros(3, 4, 4), 8)
    with pytest.raises(ValueError, match="larger"):
        crop_to(torch.zeros(1, 1, 4, 4), (5, 4))


def test_apply_padded_keeps_size() -> None:
    net = UNet(1, 2, levels=3, width=4)
    out = apply_padded(net, torch.randn(1, 1, 37, 53), net.multiple)
    assert out.shape == (1, 2, 37, 53)


# --------------------------------------------------------------------------------------------------- init
def test_init_normal_statistics() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(64, 64, 4), nn.BatchNorm2d(4096), nn.ConvTranspose2d(64, 32, 4),
                        nn.Linear(256, 256), nn.InstanceNorm2d(8))
    init_normal_(net, std=0.02)
    for layer in (net[0], net[2], net[3]):
        w = layer.weight.detach().double()
        assert abs(w.mean().item()) < 1e-3
        assert w.std().item() == pytest.approx(0.02, rel=0.03)  # >= 32k samples: 3 % is > 5 sigma
        assert torch.count_nonzero(layer.bias) == 0
    bn = net[1]
    assert bn.weight.detach().mean().item() == pytest.approx(1.0, abs=2e-3)
    assert bn.weight.detach().std().item() == pytest.approx(0.02, rel=0.1)
    assert torch.count_nonzero(bn.bias) == 0


def test_init_normal_reaches_spectral_norm_weights() -> None:
    conv = nn.utils.parametrizations.spectral_norm(nn.Conv2d(32, 64, 4))
    init_normal_(conv, std=0.02)
    original = conv.parametrizations.weight.original.detach()
    assert original.std().item() == pytest.approx(0.02, rel=0.05)


def test_init_xavier_uniform_bound() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(32, 64, 4)
    init_xavier_(conv, "uniform")
    fan_in, fan_out = 32 * 16, 64 * 16
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    w = conv.weight.detach()
    assert w.abs().max().item() <= bound
    assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.03)
    assert torch.count_nonzero(conv.bias) == 0


# ----------------------------------------------------------------------------------------------- blocks
@pytest.mark.parametrize("kernel", [3, 4, 5])
def test_conv_same_matches_tensorflow_padding(kernel: int) -> None:
    """TF 'same' at stride 1 pads (k-1)//2 before and the rest after; checked with a numpy loop."""
    torch.manual_seed(0)
    conv = SameConv2d(2, 3, kernel)
    x = torch.randn(1, 2, 7, 6)
    out = conv(x).detach().numpy()
    w, b = conv.conv.weight.detach().numpy(), conv.conv.bias.detach().numpy()
    before = (kernel - 1) // 2
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (before, kernel - 1 - before), (before, kernel - 1 - before)))
    expected = np.zeros((1, 3, 7, 6), dtype=np.float64)
    for o in range(3):
        for i in range(7):
            for j in range(6):
                expected[0, o, i, j] = (xp[0, :, i:i + kernel, j:j + kernel] * w[o]).sum() + b[o]
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_make_norm_names() -> None:
    assert isinstance(make_norm("batch", 8), nn.BatchNorm2d)
    inorm = make_norm("instance", 8)
    assert isinstance(inorm, nn.InstanceNorm2d) and not inorm.affine
    assert make_norm("none", 8) is None
    with pytest.raises(ValueError, match="batch, instance, none"):
        make_norm("layer", 8)


def test_evaluating_restores_modes() -> None:
    net = nn.Sequential(nn.Dropout(0.5), nn.BatchNorm2d(2))
    net.train()
    net[1].eval()
    with evaluating(net):
        assert not any(m.training for m in net.modules())
    assert net.training and net[0].training and not net[1].training


def test_batch_statistics_normalise_by_the_batch_and_leave_buffers_alone() -> None:
    """Against ``F.batch_norm`` with ``training=True`` and no running buffers (torch's own batch-statistics path)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Dropout(0.5))
    net[1].running_mean.fill_(0.3)
    net[1].running_var.fill_(2.0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(4, 2, 9, 9)
    with torch.no_grad(), batch_statistics(net):
        out = net(x)
        assert not net[2].training  # no dropout
    bn = net[1]
    expected = torch.nn.functional.batch_norm(net[0](x), None, None, bn.weight, bn.bias, True, 0.1, bn.eps)
    torch.testing.assert_close(out, expected.detach(), rtol=0, atol=1e-6)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert net.training and net[1].track_running_stats  # restored
    one = torch.randn(1, 2, 3, 3)  # one value per channel after the conv: the limit x - mean = 0 gives the bias
    with torch.no_grad(), batch_statistics(net):
        # atol: torch rounds the mean of (x, x) to within ~1e-7 of x, divided by sqrt(eps = 1e-5)
        torch.testing.assert_close(net(one), bn.bias.detach().view(1, 3, 1, 1), rtol=0, atol=1e-4)
    assert not net[1]._forward_hooks and not net[1]._forward_pre_hooks
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


# ------------------------------------------------------------------------------------ DynamicUnet (C2F)
def test_dynamic_unet_skips_channels_and_any_size() -> None:
    """Channels derived by hand from fastai's rules (up/2 + skip, the last block halved) and any input size."""
    from colorbench.nets.dynamic_unet import DynamicUnet, resnet_encoder

    net = DynamicUnet(resnet_encoder("resnet18", 3, 5), 2, 3)
    assert net.skip_at == (2, 4, 5, 6)  # relu (/2), layer1 (/4), layer2 (/8), layer3 (/16)
    assert [b.out_channels for b in net.blocks] == [512, 384, 256, 96]
    assert net.cross.convpath[0][0].in_channels == 96 + 3 and net.head.out_channels == 2
    shallow = DynamicUnet(resnet_encoder("resnet18", 1, 3), 2, 1)
    assert shallow.skip_at == (2, 4) and [b.out_channels for b in shallow.blocks] == [128, 64]
    for hw in [(37, 53), (3, 5), (64, 64)]:
        assert shallow(torch.randn(2, 1, *hw)).shape == (2, 2, *hw)


def test_icnr_starts_the_pixel_shuffle_as_a_nearest_upsampling() -> None:
    from colorbench.nets.dynamic_unet import PixelShuffleICNR

    torch.manual_seed(0)
    up = PixelShuffleICNR(6, 4)
    x = torch.randn(1, 6, 5, 7)
    out = up(x)
    assert out.shape == (1, 4, 10, 14)
    torch.testing.assert_close(out, torch.nn.functional.interpolate(out[..., ::2, ::2], scale_factor=2))


# ------------------------------------------------------------------------------------------------- U-Net
def test_levels_follow_crop() -> None:
    assert levels_for(256, 8) == 8
    assert levels_for(512, 8) == 8
    assert levels_for(64, 8) == 6
    assert levels_for(48, 8) == 5  # floor(log2(48))
    assert levels_for(32, 4) == 4
    assert levels_for(8, 4) == 3
    with pytest.raises(ValueError, match="at least 2"):
        levels_for(1, 8)


def test_pix2pix_unet_256_matches_reference_counts() -> None:
    """The reference unet_256 has 54,409,858 parameters for 1→2 and 54,413,955 for 3→3."""
    assert n_params(pix2pix_unet(1, 2, levels=8)) == 54_409_858
    assert n_params(pix2pix_unet(3, 3, levels=8)) == 54_413_955


def pix2pix_count(c_in: int, c_out: int, levels: int, ngf: int) -> int:
    """Independent count of the reference U-Net: bias-free convs with BN, BN on all but outer/inner down."""
    w = [min(ngf * 2**i, 8 * ngf) for i in range(levels)]
    down = c_in * w[0] * 16 + sum(w[i - 1] * w[i] * 16 for i in range(1, levels))
    down_bn = sum(2 * w[i] for i in range(1, levels - 1))
    up = w[-1] * w[-2] * 16 + 2 * w[-2]  # innermost up: w[L-1] -> w[L-2], BN
    for i in range(levels - 2, 0, -1):  # up to skip i-1 from concat(skip i, up)
        up += 2 * w[i] * w[i - 1] * 16 + 2 * w[i - 1]
    up += 2 * w[0] * c_out * 16 + c_out  # outermost: convT with bias, no norm
    return down + down_bn + up


@pytest.mark.parametrize("levels,ngf", [(5, 8), (6, 4), (7, 16), (8, 64)])
def test_pix2pix_unet_count_formula(levels: int, ngf: int) -> None:
    assert n_params(pix2pix_unet(1, 2, levels=levels, width=ngf)) == pix2pix_count(1, 2, levels, ngf)


def test_pix2pix_unet_structure() -> None:
    net = pix2pix_unet(1, 2, levels=8, width=4)
    downs = list(net.downs)
    # no activation before the first conv; no norm on the outermost and innermost down convs
    assert isinstance(downs[0][0], nn.Conv2d) and len(downs[0]) == 1
    assert not any(isinstance(m, nn.BatchNorm2d) for m in downs[-1])
    assert all(isinstance(d[-1], nn.BatchNorm2d) for d in downs[1:-1])
    assert all(isinstance(d[0], nn.LeakyReLU) and d[0].negative_slope == 0.2 for d in downs[1:])
    # dropout 0.5 after up layers 1, 2, 3 (the paper's CD512 decoder layers), nowhere else
    with_dropout = [j for j, up in enumerate(net.ups) if any(isinstance(m, nn.Dropout) for m in up)]
    assert with_dropout == [1, 2, 3]
    assert all(m.p == 0.5 for m in net.modules() if isinstance(m, nn.Dropout))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.ups[-1])
    assert net.ups[-1][1].bias is not None and downs[0][0].bias is None
    assert isinstance(net.out_activation, nn.Tanh)


def test_pix2pix_unet_forward_and_skip_widths() -> None:
    torch.manual_seed(0)
    net = pix2pix_unet(1, 2, levels=5, width=4).eval()
    out = net(torch.randn(2, 1, 32, 32))
    assert out.shape == (2, 2, 32, 32) and out.abs().max() <= 1
    with pytest.raises(ValueError, match="divisible by 32"):
        net(torch.randn(1, 1, 40, 32))


def kth_count(levels: int, width: int, c_in: int = 1, c_out: int = 2) -> int:
    """Independent count of the KTH U-Net: biases everywhere, BN on every conv but the 1×1 head."""
    w = [min(width * 2**i, 8 * width) for i in range(levels + 1)]
    total = c_in * w[0] * 16 + w[0] + 2 * w[0]  # stem
    total += sum(w[i] * w[i + 1] * 16 + w[i + 1] + 2 * w[i + 1] for i in range(levels))
    c_prev = w[-1]
    for i in range(levels - 1, -1, -1):
        total += c_prev * w[i] * 16 + w[i] + 2 * w[i]
        c_prev = 2 * w[i]
    return total + c_prev * c_out + c_out


def test_kth_unet_matches_reference_layout() -> None:
    net = kth_unet(1, 2, levels=4, width=64)
    assert net.widths == [64, 128, 256, 512, 512]
    assert n_params(net) == kth_count(4, 64) == 16_654_722
    assert net.stem is not None and isinstance(net.head, nn.Conv2d) and net.head.kernel_size == (1, 1)
    # dropout after the first two decoder layers only
    assert [j for j, up in enumerate(net.ups) if any(isinstance(m, nn.Dropout) for m in up)] == [0, 1]
    assert len(net.down_dropout) == 0
    # post-activation: conv -> BN -> LeakyReLU(0.2) down; convT -> BN -> ReLU up
    assert [type(m) for m in net.downs[0]] == [nn.Conv2d, nn.BatchNorm2d, nn.LeakyReLU]
    assert [type(m) for m in net.ups[2]] == [nn.ConvTranspose2d, nn.BatchNorm2d, nn.ReLU]
    out = net.eval()(torch.randn(1, 1, 32, 32))
    assert out.shape == (1, 2, 32, 32)


def test_encoder_dropout_spares_the_skip() -> None:
    """VAC+GAN drops the innermost encoder maps on the forward path only (the code appends the skip first)."""
    torch.manual_seed(0)
    net = kth_unet(1, 2, levels=3, width=4, dropout=0.5, dropout_up=(), dropout_down=(1, 2)).train()
    seen: dict[str, torch.Tensor] = {}
    net.downs[1].register_forward_hook(lambda m, i, o: seen.__setitem__("skip", o.detach().clone()))
    net.downs[2].register_forward_hook(lambda m, i, o: seen.__setitem__("next_in", i[0].detach().clone()))
    net(torch.randn(4, 1, 16, 16))
    skip, nxt = seen["skip"], seen["next_in"]
    assert torch.count_nonzero(skip) == skip.numel()  # LeakyReLU output: no exact zeros
    dropped = nxt == 0
    assert 0.3 < dropped.float().mean().item() < 0.7
    torch.testing.assert_close(nxt[~dropped], 2 * skip[~dropped])  # inverted dropout scales by 1/(1-p)


def test_upsample_conv_option_and_overrides() -> None:
    net = UNet(1, 2, levels=3, width=4, order="post", upsample="nearest", norm_overrides={("up", 1): "instance"})
    assert isinstance(net.ups[1][1], nn.InstanceNorm2d)
    assert any(isinstance(m, nn.Upsample) for m in net.ups[0].modules())
    assert net(torch.randn(2, 1, 16, 16)).shape == (2, 2, 16, 16)


# ----------------------------------------------------------------------------------------------- PatchGAN
def test_patchgan_matches_reference_counts() -> None:
    """The reference 70×70 PatchGAN has 2,765,633 parameters on 3 channels, 2,768,705 on 6."""
    assert n_params(PatchGAN(3)) == 2_765_633
    assert n_params(PatchGAN(6)) == 2_768_705


def test_patchgan_layers() -> None:
    d = PatchGAN(3)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    layers = list(d.model)
    # first and last layers without norm
    assert isinstance(layers[0], nn.Conv2d) and isinstance(layers[1], nn.LeakyReLU)
    assert isinstance(layers[-1], nn.Conv2d) and isinstance(layers[-2], nn.LeakyReLU)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in layers) == 3
    assert d(torch.randn(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    assert d.min_size == 24
    with pytest.raises(ValueError, match="minimum side 24"):
        d(torch.randn(1, 3, 16, 16))


def test_patchgan_receptive_field_is_70() -> None:
    """Back-propagate one central logit to the input: the non-zero gradient spans exactly 70×70 pixels."""
    torch.manual_seed(0)
    d = PatchGAN(3, width=4, norm="none")
    x = torch.randn(1, 3, 128, 128, requires_grad=True)
    out = d(x)
    out[0, 0, out.shape[-2] // 2, out.shape[-1] // 2].backward()
    nz = x.grad.abs().sum(dim=(0, 1)) > 0
    rows, cols = torch.nonzero(nz.any(dim=1)).flatten(), torch.nonzero(nz.any(dim=0)).flatten()
    assert rows.max() - rows.min() + 1 == 70
    assert cols.max() - cols.min() + 1 == 70


def test_patchgan_same_padding_and_spectral_norm() -> None:
    d = PatchGAN(3, width=8, norm="batch", norm_first=True, padding="same", bias=True)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == 4
    assert d(torch.randn(2, 3, 32, 32)).shape == (2, 1, 4, 4)
    sn = PatchGAN(3, width=8, use_spectral_norm=True)
    convs = [m for m in sn.modules() if isinstance(m, nn.Conv2d)]
    assert all(nn.utils.parametrize.is_parametrized(c, "weight") for c in convs)


def test_frozen_features_stay_frozen_and_pass_gradients_to_their_input() -> None:
    """The one frozen-extractor wrapper: normalised input, no trainable parameter, eval mode whatever train() is
    given, gradients through to the input (a feature loss), and left out of Method.networks()."""
    from colorbench.nets.frozen import FrozenFeatures
    from colorbench.registry import create_method, get_method

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5))
    frozen = FrozenFeatures(net, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), size=8)
    frozen.train()
    assert not frozen.training and not any(m.training for m in frozen.modules())
    assert not any(p.requires_grad for p in frozen.parameters())
    grey = torch.rand(2, 1, 12, 12, requires_grad=True)
    out = frozen(grey)
    expect = net(F.interpolate(grey, size=(8, 8), mode="bilinear", antialias=True).expand(-1, 3, -1, -1)
                 .sub(0.5).div(0.25))
    torch.testing.assert_close(out, expect)
    out.sum().backward()
    assert grey.grad is not None and grey.grad.abs().sum() > 0
    for name, frozen_attr in (("featrec", "features"), ("koalarization", "extractor")):
        m = create_method(name, **get_method(name).test_overrides)
        assert frozen_attr not in m.networks() and m.networks()


def test_same_conv_loads_checkpoints_saved_before_it_was_one_class() -> None:
    """Older runs stored a 4×4 'same' conv as Sequential(ZeroPad2d, Conv2d) and a 3×3 one as a bare Conv2d."""
    torch.manual_seed(0)
    old4 = nn.Sequential(nn.Sequential(nn.ZeroPad2d((1, 2, 1, 2)), nn.Conv2d(2, 3, 4)))
    old3 = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1))
    x = torch.randn(1, 2, 7, 6)
    for old, k in ((old4, 4), (old3, 3)):
        new = nn.Sequential(SameConv2d(2, 3, k))
        new.load_state_dict(old.state_dict())
        torch.testing.assert_close(new(x), old(x))


def _shared_weights(net: nn.Module) -> None:
    """Deterministic weights by state-dict position and shape (the rule the fixture's script applied to fastai's
    network, whose state dict lists the same tensors in the same order): seed 1000 + k, N(0, 1/fan_in) for
    ≥ 2-d tensors, N(0, 0.01) for vectors; batch-norm weights 1 + that, running variances 1 + |that|."""
    state = {}
    for k, (name, t) in enumerate(net.state_dict().items()):
        if t.dtype != torch.float32:
            state[name] = t
            continue
        x = torch.randn(tuple(t.shape), generator=torch.Generator().manual_seed(1000 + k))
        x = x * (1.0 / int(np.prod(t.shape[1:]))) ** 0.5 if t.dim() >= 2 else x * 0.1
        state[name] = 1.0 + x.abs() if name.endswith("running_var") else 1.0 + x if (
            t.dim() == 1 and name.endswith("weight")) else x
    net.load_state_dict(state)


def test_dynamic_unet_matches_fastai_on_shared_random_weights():
    """Parity with the C2F reference's generator: fastai 2.8.12 ``DynamicUnet(create_body(resnet18(),
    pretrained=False, n_in=3, cut=-2), 2, (256, 256))`` (tstreule/c2f_img_color, src/generator.py), given the same
    weights, on a [2,3,32,48] input; its outputs in eval and in training mode are the fixture (made outside the
    project with fastai installed from PyPI)."""
    from colorbench.nets.dynamic_unet import DynamicUnet, resnet_encoder

    ref = np.load(Path(__file__).parent / "fixtures" / "c2f_dynamic_unet_fastai.npz")
    net = DynamicUnet(resnet_encoder("resnet18", 3, 5), 2, 3)
    _shared_weights(net)
    x = torch.from_numpy(ref["x"])
    with torch.no_grad():
        net.eval()
        torch.testing.assert_close(net(x), torch.from_numpy(ref["eval"]), rtol=1e-4, atol=1e-5)
        net.train()  # batch statistics, as the reference's generator at inference
        torch.testing.assert_close(net(x), torch.from_numpy(ref["train"]), rtol=1e-4, atol=1e-5)

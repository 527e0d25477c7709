"""Multi-scale discriminators, LSGAN losses and spectral norm, against independent numpy computations."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from colorbench.nets.gan import gan_loss
from colorbench.nets.multiscale import (MultiScaleDiscriminator, downsample,
                                        pyramid)
from colorbench.nets.spectral import apply_spectral_norm, has_spectral_norm, spectral_norm_coverage


def _np_avgpool_same(x: np.ndarray) -> np.ndarray:
    """Keras AvgPool2D(2, padding='same') on [H,W]: 2×2 windows, the border ones average only what is inside."""
    H, W = x.shape
    out = np.zeros(((H + 1) // 2, (W + 1) // 2))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = x[2 * i:2 * i + 2, 2 * j:2 * j + 2].mean()
    return out


@pytest.mark.parametrize("size", [(8, 8), (37, 53), (5, 3)])
def test_downsample_matches_keras_same_average_pooling(size):
    x = torch.randn(2, 3, *size, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    got = downsample(x)
    for b in range(2):
        for c in range(3):
            np.testing.assert_allclose(got[b, c].numpy(), _np_avgpool_same(x[b, c].numpy()), rtol=0, atol=1e-12)


def test_pyramid_has_full_half_and_quarter_scale():
    x = torch.randn(1, 3, 32, 48)
    maps = pyramid(x, 3)
    assert [tuple(m.shape[-2:]) for m in maps] == [(32, 48), (16, 24), (8, 12)]
    assert maps[0] is x
    quarter = x.reshape(1, 3, 8, 4, 12, 4).mean(dim=(3, 5))  # 4×4 block means = pooling twice
    torch.testing.assert_close(maps[2], quarter)


class _Record(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 1)
        self.seen = None

    def forward(self, x):
        self.seen = x
        return self.conv(x)


def test_each_scale_has_its_own_discriminator_and_input():
    msd = MultiScaleDiscriminator(lambda s: _Record(), num_scales=3)
    assert msd.num_scales == 3
    ids = {id(d.conv.weight) for d in msd.discriminators}
    assert len(ids) == 3
    x = torch.randn(2, 3, 16, 16)
    outs = msd(x)
    assert [tuple(o.shape) for o in outs] == [(2, 1, 16, 16), (2, 1, 8, 8), (2, 1, 4, 4)]
    torch.testing.assert_close(msd.discriminators[1].seen, torch.nn.functional.avg_pool2d(x, 2))
    with pytest.raises(ValueError, match="num_scales"):
        MultiScaleDiscriminator(lambda s: _Record(), num_scales=0)


def test_gan_losses_against_hand_computed_values():
    """lsgan: per-scale MSE against 1 or 0, summed over scales; bce: -mean(log σ(x)) for real, -mean(log(1-σ(x)))
    for fake, in float32 whatever the logits' dtype."""
    g = torch.Generator().manual_seed(1)
    real = [torch.randn(2, 1, 4, 4, generator=g), torch.randn(2, 1, 2, 2, generator=g)]
    fake = [torch.randn(2, 1, 4, 4, generator=g), torch.randn(2, 1, 2, 2, generator=g)]
    r, f = [t.double().numpy() for t in real], [t.double().numpy() for t in fake]
    assert gan_loss("lsgan", real, True).item() == pytest.approx(sum(((a - 1) ** 2).mean() for a in r), rel=1e-6)
    assert gan_loss("lsgan", fake, False).item() == pytest.approx(sum((b ** 2).mean() for b in f), rel=1e-6)
    x = real[0].double().numpy()
    sig = 1 / (1 + np.exp(-x))
    assert gan_loss("bce", real[0], True).item() == pytest.approx(-np.log(sig).mean(), rel=1e-6)
    assert gan_loss("bce", real[0], False).item() == pytest.approx(-np.log(1 - sig).mean(), rel=1e-6)
    half = gan_loss("bce", real[0].bfloat16(), True)
    assert half.dtype == torch.float32
    with pytest.raises(ValueError, match="kind must be one of bce, lsgan"):
        gan_loss("hinge", real[0], True)


def test_spectral_norm_on_every_conv_bounds_the_largest_singular_value():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 4, stride=2), nn.LeakyReLU(0.2), nn.Conv2d(8, 4, 3),
                        nn.ConvTranspose2d(4, 2, 4), nn.Linear(5, 5))
    assert spectral_norm_coverage(net) == (0, 3)
    apply_spectral_norm(net)
    apply_spectral_norm(net)  # idempotent
    assert spectral_norm_coverage(net) == (3, 3)
    assert not has_spectral_norm(net[4])  # linear layers are left alone
    net.train()
    x = torch.randn(1, 3, 16, 16)
    for _ in range(50):  # power iterations converge
        net[2](net[0](x))
    for conv in (net[0], net[2]):
        w = conv.weight.detach().reshape(conv.out_channels, -1).numpy()
        assert np.linalg.svd(w, compute_uv=False)[0] == pytest.approx(1.0, abs=1e-3)

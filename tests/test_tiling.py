"""Tiled prediction (colorbench.tiling) and the memory-bounded colourisation path (colorbench.inference)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from colorbench import inference, tiling
from colorbench.method import Method


def small_net(seed: int = 0) -> torch.nn.Module:
    """Three 3x3 convolutions: receptive-field radius 3 px, zero padding (so image borders matter)."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 6, 3, padding=1), torch.nn.Tanh(),
                               torch.nn.Conv2d(6, 6, 3, padding=1), torch.nn.Tanh(),
                               torch.nn.Conv2d(6, 2, 3, padding=1)).eval()


@pytest.mark.parametrize("length", [1, 31, 32, 33, 47, 64, 65, 100, 257])
@pytest.mark.parametrize("tile, overlap", [(32, 16), (32, 8), (40, 0), (16, 12)])
def test_axis_weights_are_a_partition_of_unity(length, tile, overlap):
    if overlap and 2 * tiling.default_margin(overlap) >= overlap:
        pytest.skip("margin must be below half the overlap")
    parts = tiling.axis_weights(length, tile, overlap)
    total = torch.zeros(length, dtype=torch.float64)
    margin = tiling.default_margin(overlap)
    for start, w in parts:
        assert w.numel() == min(tile, length) and bool((w >= 0).all()) and bool((w <= 1).all())
        total[start:start + w.numel()] += w
        if margin and start > 0:  # no weight right next to a cut, where the tile's receptive field is clipped
            assert w[:margin].abs().max().item() == 0.0
        if margin and start + w.numel() < length:
            assert w[w.numel() - margin:].abs().max().item() == 0.0
    torch.testing.assert_close(total, torch.ones(length, dtype=torch.float64), rtol=0, atol=1e-12)
    starts = [s for s, _ in parts]
    assert starts[0] == 0 and starts[-1] + min(tile, length) == length  # the tiles cover the axis, ends included
    assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))  # neighbours overlap by >= overlap


def test_a_tile_covering_the_image_gives_the_untiled_prediction_bit_for_bit():
    net = small_net()
    x = torch.randn(1, 1, 37, 53)
    with torch.no_grad():
        assert torch.equal(tiling.predict_tiled(net, x, tile=64, overlap=16), net(x))
        assert torch.equal(tiling.predict_tiled(net, x, tile=0), net(x))


def test_tiling_equals_the_untiled_network_where_its_receptive_field_fits():
    net = small_net()
    x = torch.randn(1, 1, 97, 131)
    calls = []

    def predict(piece):
        calls.append(tuple(piece.shape[-2:]))
        return net(piece)

    with torch.no_grad():
        full = net(x)
        tiled = tiling.predict_tiled(predict, x, tile=32, overlap=16)  # margin 4 >= radius 3
        cut_blind = tiling.predict_tiled(net, x, tile=32, overlap=16, margin=0)
    assert len(calls) == tiling.count_tiles(97, 131, 32, 16) == 6 * 8 and set(calls) == {(32, 32)}
    torch.testing.assert_close(tiled, full, rtol=0, atol=1e-5)  # only float rounding of the blend
    # the check can fail: weighting pixels next to a cut (margin 0) lets clipped receptive fields through
    assert (cut_blind - full).abs().max().item() > 1e-3


@dataclasses.dataclass
class _NetConfig:
    seed: int = 0


class ConvMethod(Method):
    """A fixed small conv net as a method; records the L sizes it is asked to colourise."""

    Config = _NetConfig

    def __init__(self, config=None, num_classes=None):
        super().__init__(config, num_classes)
        self.net = small_net(self.config.seed)
        self.seen: list[tuple[int, int]] = []

    @torch.no_grad()
    def colorize(self, L):
        self.seen.append(tuple(L.shape[-2:]))
        return 0.4 * torch.tanh(self.net(L))


def test_full_resolution_colourisation_runs_tile_by_tile_and_matches_one_pass():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:300, 0:420]
    photo = np.stack([(yy * 0.8) % 256, (xx * 0.6) % 256, rng.integers(0, 256, (300, 420))], -1).astype(np.uint8)
    method = ConvMethod()
    tiled = inference.colorize_photo(method, photo, inference.Settings(tile=64, overlap=32))
    assert set(method.seen) == {(64, 64)} and len(method.seen) == tiling.count_tiles(300, 420, 64, 32)
    method.seen.clear()
    whole = inference.colorize_photo(method, photo, inference.Settings(tile=0))
    assert method.seen == [(300, 420)]
    assert tiled.shape == whole.shape == photo.shape and tiled.dtype == np.uint8
    assert np.abs(tiled.astype(int) - whole.astype(int)).max() <= 1  # 8-bit rounding of a float-rounding difference
    # and the colours are the network's: not grey
    assert np.abs(whole.astype(int) - whole.mean(axis=-1, keepdims=True)).mean() > 2


def test_bf16_autocast_is_chosen_on_cuda_only_unless_asked():
    assert inference.autocast_dtype(torch.device("cuda"), "auto") is torch.bfloat16
    assert inference.autocast_dtype(torch.device("cpu"), "auto") is None
    assert inference.autocast_dtype(torch.device("cuda"), "fp32") is None
    assert inference.autocast_dtype(torch.device("cpu"), "bf16") is torch.bfloat16


def test_bf16_runs_the_network_under_autocast():
    class Probe(ConvMethod):
        @torch.no_grad()
        def colorize(self, L):
            self.seen.append(torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None)
            return super().colorize(L)

    method = Probe()
    L = torch.rand(1, 1, 20, 30) * 2 - 1
    ab16 = inference.predict_ab(method, L, inference.Settings(precision="bf16"))
    ab32 = inference.predict_ab(method, L, inference.Settings(precision="fp32"))
    assert method.seen[0] is torch.bfloat16 and method.seen[2] is None  # [dtype, shape] per call
    assert ab16.dtype == ab32.dtype == torch.float32
    torch.testing.assert_close(ab16, ab32, rtol=0, atol=0.02)  # bf16 keeps ~3 significant digits
    assert not torch.equal(ab16, ab32)

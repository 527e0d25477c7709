"""The Lab layer against colour-science (the reference) and skimage, round trips, gradients, clipping.

Tolerances (ΔE76 in Lab units): ≤ 1e-3 in float32 and ≤ 1e-6 in float64 against colour-science on 100,000 random
sRGB pixels; skimage uses the primaries-derived matrix, so it is only ~0.03 away (checked ≤ 0.05 and ≥ 1e-3, so the
test would notice if we silently switched matrices).
"""
from __future__ import annotations

import warnings

import colour
import numpy as np
import pytest
import skimage.color
import torch

import colorbench as cb
from colorbench import color

N_PIXELS = 100_000


@pytest.fixture(scope="module")
def pixels() -> np.ndarray:
    """100,000 random sRGB pixels ``[N,3]`` in [0,1], plus the cube's corners and the sRGB knee."""
    rng = np.random.default_rng(2024)
    rgb = rng.random((N_PIXELS, 3))
    rgb[:8] = [[i >> 2 & 1, i >> 1 & 1, i & 1] for i in range(8)]
    rgb[8:11] = [[0.04045, 0.0404499, 0.04044994]]  # around the knee of the sRGB curve
    rgb[11:14] = [[0.04, 0.0405, 0.0031308]]
    return rgb


def _colour_lab(rgb: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return colour.XYZ_to_Lab(colour.sRGB_to_XYZ(rgb))


def _as_image(rgb: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """``[N,3]`` -> ``[2,3,N/200,100]`` so the batch and spatial paths are both used."""
    return torch.tensor(rgb.T.reshape(3, 2, -1, 100).transpose(1, 0, 2, 3).copy(), dtype=dtype)


def _as_pixels(image: torch.Tensor) -> np.ndarray:
    return image.detach().double().numpy().transpose(1, 0, 2, 3).reshape(3, -1).T


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-3), (torch.float64, 1e-6)])
def test_rgb_to_lab_matches_colour_science(pixels, dtype, tol):
    ours = _as_pixels(cb.rgb_to_lab(_as_image(pixels, dtype)))
    delta_e = np.linalg.norm(ours - _colour_lab(pixels), axis=1)
    assert delta_e.max() <= tol, delta_e.max()


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-3), (torch.float64, 1e-6)])
def test_autograd_path_matches_colour_science(pixels, dtype, tol):
    x = _as_image(pixels[:20_000], dtype).requires_grad_(True)
    lab = cb.rgb_to_lab(x)
    assert lab.requires_grad
    delta_e = np.linalg.norm(_as_pixels(lab) - _colour_lab(pixels[:20_000]), axis=1)
    assert delta_e.max() <= tol


def test_skimage_is_close_but_uses_another_matrix(pixels):
    ours = _as_pixels(cb.rgb_to_lab(_as_image(pixels, torch.float64)))
    sk = skimage.color.rgb2lab(pixels[None])[0]
    delta_e = np.linalg.norm(ours - sk, axis=1)
    assert 1e-3 < delta_e.max() <= 0.05


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-4), (torch.float64, 1e-9)])
def test_lab_to_rgb_inverts_colour_science(pixels, dtype, tol):
    """Our inverse undoes colour-science's forward conversion. (colour-science's own ``XYZ_to_sRGB`` uses the
    standard's rounded inverse matrix, not the exact inverse, so its round trip is off by up to 3e-4.)"""
    lab = _colour_lab(pixels)
    ours = _as_pixels(cb.lab_to_rgb(_as_image(lab, dtype), clip=False))
    assert np.abs(ours - pixels).max() <= tol
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = colour.XYZ_to_sRGB(colour.Lab_to_XYZ(lab))
    assert np.abs(ours - theirs).max() <= 5e-4


def test_round_trip_float32(pixels):
    x = _as_image(pixels, torch.float32)
    assert (cb.lab_to_rgb(cb.rgb_to_lab(x)) - x).abs().max().item() <= 1e-4


def test_round_trip_float64_keeps_dtype(pixels):
    x = _as_image(pixels, torch.float64)
    lab = cb.rgb_to_lab(x)
    back = cb.lab_to_rgb(lab)
    assert lab.dtype == back.dtype == torch.float64
    assert (back - x).abs().max().item() <= 1e-10


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_black_white_primaries_and_secondaries_equal_colour_science(dtype):
    corners = np.array([[i >> 2 & 1, i >> 1 & 1, i & 1] for i in range(8)], dtype=np.float64)
    ref = _colour_lab(corners)
    ours = cb.rgb_to_lab(torch.tensor(corners.T[None, :, :, None], dtype=dtype))[0, :, :, 0].T.double().numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-4, rtol=0)
    white = ref[7]
    assert white[0] == pytest.approx(100.0) and white[1] == pytest.approx(0.0077, abs=1e-4)  # not (100, 0, 0)
    back = cb.lab_to_rgb(torch.tensor(ref.T[None, :, :, None], dtype=dtype))[0, :, :, 0].T.double().numpy()
    np.testing.assert_allclose(back, corners, atol=1e-4, rtol=0)


@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (3, 3, 17, 5), (2, 3, 300, 301), (70, 3, 8, 8)])
def test_every_path_gives_the_same_result(shape):
    """In-place chunked CPU path (small and large images) == out-of-place autograd path == float64 reference."""
    x = torch.rand(shape, generator=torch.Generator().manual_seed(1))
    fast = cb.rgb_to_lab(x)
    flat = cb.rgb_to_lab(x.clone().requires_grad_(True)).detach()
    ref = cb.rgb_to_lab(x.double()).float()
    assert fast.shape == shape
    assert (fast - flat).abs().max() <= 1e-4 and (fast - ref).abs().max() <= 1e-3
    lab = ref.clone()
    back = cb.lab_to_rgb(lab, clip=False)
    back_flat = cb.lab_to_rgb(lab.clone().requires_grad_(True), clip=False).detach()
    back_ref = cb.lab_to_rgb(lab.double(), clip=False).float()
    assert (back - back_flat).abs().max() <= 1e-5 and (back - back_ref).abs().max() <= 1e-5
    assert (back - x).abs().max() <= 1e-4


def test_non_contiguous_and_channels_last_inputs():
    x = torch.rand(2, 3, 20, 24)
    expected = cb.rgb_to_lab(x)
    assert torch.allclose(cb.rgb_to_lab(x.to(memory_format=torch.channels_last)), expected, atol=1e-5)
    big = torch.rand(2, 3, 40, 48)
    assert torch.allclose(cb.rgb_to_lab(big[:, :, ::2, ::2]), cb.rgb_to_lab(big[:, :, ::2, ::2].contiguous()),
                          atol=1e-5)


@pytest.mark.parametrize("fn, make", [
    (cb.rgb_to_lab, lambda: torch.rand(1, 3, 4, 5, dtype=torch.float64) * 0.9 + 0.05),
    (lambda lab: cb.lab_to_rgb(lab, clip=False),
     lambda: torch.cat([torch.rand(1, 1, 4, 5) * 60 + 20, torch.randn(1, 2, 4, 5) * 15], 1).double()),
])
def test_gradients_flow_and_are_correct(fn, make):
    torch.manual_seed(0)
    x = make().requires_grad_(True)
    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5)


def test_gradients_in_float32_reach_the_input():
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    L, ab = cb.rgb_to_network(x)
    (L.sum() + ab.square().sum()).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    pred_ab = torch.zeros(2, 2, 8, 8, requires_grad=True)
    cb.network_to_rgb(L.detach(), pred_ab).sum().backward()
    assert pred_ab.grad.abs().sum() > 0


def test_clipping_warns_once_and_clips(monkeypatch):
    monkeypatch.setattr(color, "_warned_gamut", False)
    lab = torch.tensor([50.0, 100.0, -100.0]).reshape(1, 3, 1, 1)  # far outside sRGB
    with torch.no_grad(), pytest.warns(UserWarning, match="outside the sRGB gamut"):
        rgb = cb.lab_to_rgb(lab)
    assert rgb.min() >= 0 and rgb.max() <= 1
    raw = cb.lab_to_rgb(lab, clip=False)
    assert raw.min() < 0 or raw.max() > 1
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error")
        cb.lab_to_rgb(lab)  # only once per process


def test_normalisation_helpers_are_inverse_and_scaled():
    lab = torch.tensor([[[[0.0]], [[-110.0]], [[55.0]]], [[[100.0]], [[110.0]], [[0.0]]]])
    L, ab = cb.normalize_l(lab[:, :1]), cb.normalize_ab(lab[:, 1:])
    assert L.flatten().tolist() == [-1.0, 1.0] and ab[:, 0].flatten().tolist() == [-1.0, 1.0]
    assert torch.equal(cb.denormalize_l(L), lab[:, :1]) and torch.allclose(cb.denormalize_ab(ab), lab[:, 1:])
    rgb = torch.rand(2, 3, 6, 7)
    L, ab = cb.rgb_to_network(rgb)
    assert L.shape == (2, 1, 6, 7) and ab.shape == (2, 2, 6, 7)
    assert (cb.network_to_rgb(L, ab) - rgb).abs().max() <= 1e-4


def test_bad_shapes_and_dtypes_name_the_problem():
    with pytest.raises(ValueError, match=r"\[B,3,H,W\]"):
        cb.rgb_to_lab(torch.rand(3, 8, 8))
    with pytest.raises(TypeError, match="float"):
        cb.rgb_to_lab(torch.zeros(1, 3, 2, 2, dtype=torch.uint8))
    with pytest.raises(ValueError, match="same B,H,W"):
        cb.network_to_rgb(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 4, 5))

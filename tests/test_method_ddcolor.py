"""DDColor's method: its losses against the reference code (piddnad/DDColor), its critic's size, its schedule, and
a reduced configuration trained 20 steps through the shared trainer. The network's parity with the reference is in
``tests/test_nets_ddcolor.py``; the paper configurations' parameter counts are pinned in ``test_paper_counts.py``."""
from __future__ import annotations

import math
import warnings

import pytest
import torch

from colorbench.methods.ddcolor import DDColor, color_enhance, colorfulness_loss
from colorbench.nets.sn_critic import SpectralCritic


def test_colorfulness_loss_equals_the_reference():
    """basicsr/losses/losses.py ``ColorfulnessLoss(loss_weight=1)`` on this batch (run outside colorbench) gives
    1.6693823337554932: the sum over the 3 images of 1 - colourfulness."""
    x = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert x.sum().item() == pytest.approx(285.0802917480469, abs=1e-3)  # the same input as there
    assert colorfulness_loss(x).item() == pytest.approx(1.6693823337554932, abs=1e-6)
    assert colorfulness_loss(torch.full((2, 3, 8, 8), 0.5)).item() == pytest.approx(2.0)  # grey: 1 per image


def test_color_enhance_is_the_references_blend():
    from torchvision.transforms.functional import rgb_to_grayscale

    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    expected = (rgb_to_grayscale(x, 3) * (1 - 1.2) + x * 1.2).clamp(0, 1)
    torch.testing.assert_close(color_enhance(x, 1.2), expected, atol=1e-6, rtol=0)
    assert color_enhance(x, 1.0) is x


def test_critic_size_equals_the_reference():
    """``DynamicUNetDiscriminator(n_channels=3, nf, n_blocks)`` of basicsr/archs/discriminator_arch.py has 5,919,617
    parameters at nf=64, 3 blocks (DDColor's config) and 5,937 at nf=8, 1 block."""
    for width, blocks, n in ((64, 3, 5_919_617), (8, 1, 5_937)):
        assert sum(p.numel() for p in SpectralCritic(3, width, blocks).parameters()) == n
    d = SpectralCritic(3, 8, 1)
    assert d(torch.rand(2, 3, 16, 16)).shape == (2, 1)  # padded to its 16 px minimum
    assert d(torch.rand(2, 3, 32, 32)).shape == (2, 25)  # 32/4 - 3 = 5 per side


def test_critic_output_equals_the_reference():
    """``tests/fixtures/ddcolor/critic_parity.safetensors``: the reference's ``DynamicUNetDiscriminator(n_channels=3,
    nf=8, n_blocks=1)`` built with ``torch.manual_seed(0)``, every tensor perturbed by N(0, 0.1) noise, the
    self-attention's γ set to 0.5 (it starts at 0, which would hide the attention), each spectral norm's ``u``, ``v``
    converged by 30 power iterations; its state dict (``weights/``), an input ``[2,3,32,32]`` and its eval-mode
    output ``[2,25]``. Its keys map onto ours with the DDColor generator's spectral-norm renaming."""
    import json
    from pathlib import Path

    from safetensors import safe_open

    from colorbench.nets.ddcolor import reference_key

    with safe_open(str(Path(__file__).parent / "fixtures" / "ddcolor" / "critic_parity.safetensors"), "pt") as f:
        cfg = json.loads(f.metadata()["config"])
        t = {k: f.get_tensor(k) for k in f.keys()}
    d = SpectralCritic(cfg["n_channels"], cfg["nf"], cfg["n_blocks"])
    sd = {reference_key(k.removeprefix("weights/")): v for k, v in t.items() if k.startswith("weights/")}
    d.load_state_dict(sd, strict=True)
    d.eval()
    with torch.no_grad():
        out = d(t["input"])
    assert t["output"].abs().mean() > 0.05
    torch.testing.assert_close(out, t["output"], rtol=0, atol=1e-5)


def test_learning_rate_halves_at_the_reference_milestones():
    m = DDColor.__new__(DDColor)
    m.config = DDColor.Config()
    assert [m.lr_scale(s) for s in (0, 79_999, 80_000, 120_000, 399_999)] == [1.0, 1.0, 0.5, 0.25, 0.5**8]


@pytest.mark.slow  # 10-13 s each on 2 loaded cores
@pytest.mark.parametrize("colorfulness_weight", [0.5, 0.0])
def test_reduced_configuration_trains_20_steps_through_the_trainer(tmp_path, colorfulness_weight):
    from colorbench.checkpoint import load_method
    from colorbench.train import resolve, train

    overrides = {**DDColor.test_overrides, "colorfulness_weight": colorfulness_weight}
    run = resolve("ddcolor", "synthetic", overrides=overrides, steps=20, batch_size=4, size=32, seed=0,
                  device="cpu", progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train(run, out_dir=tmp_path)
    assert result.steps == 20
    losses = result.losses
    assert all(math.isfinite(v) for v in losses.values())
    assert ("colorfulness" in losses) == (colorfulness_weight > 0)
    assert 0 < losses["l1"] < 110 and losses["d"] > 0 and losses["perceptual"] > 0
    g = 0.1 * losses["l1"] + 5 * losses["perceptual"] + losses["g_gan"] + colorfulness_weight * losses.get(
        "colorfulness", 0.0)
    assert losses["g"] == pytest.approx(g, rel=1e-5)  # the reference's weights
    method = load_method(tmp_path)
    assert method.pretrained_flags() == {"convnext_tiny_22k": False, "vgg16_bn": False}
    ab = method.colorize(torch.rand(1, 1, 37, 53) * 2 - 1)
    assert ab.shape == (1, 2, 37, 53) and torch.isfinite(ab).all()

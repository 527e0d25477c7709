"""C2F: what makes it that method (levels run, prior, phases, base model, sizes in = sizes out).

Level sizes are written out by hand from the reference's rule (``int(side / shrink)``, stop when a side would fall
below ``min_ax_size`` or after ``max_c2f_depth`` shrinks) and checked against the generator passes a hook counts.
"""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

import colorbench as cb
from colorbench.methods.c2f import c2f_level_sizes, mask_pyramid, pyramid
from colorbench.registry import get_method

TINY = dict(get_method("c2f").test_overrides)


def tiny(**overrides):
    torch.manual_seed(0)
    return cb.create_method("c2f", **{**TINY, **overrides})


def _batch(n: int = 2, size: int = 32, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    rgb = torch.rand(n, 3, size, size, generator=g)
    L, ab = cb.rgb_to_network(rgb)
    return {"L": L, "ab": ab, "rgb": rgb, "index": torch.arange(n)}


def _record_passes(m) -> list[torch.Tensor]:
    """Every U-Net input (padded), in call order."""
    seen: list[torch.Tensor] = []
    m.generator.unet.register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach().clone()))
    return seen


@pytest.mark.parametrize(
    "hw, shrink, depth, min_ax, expected",
    [
        ((64, 96), 2.0, 5, 16, [(16, 24), (32, 48), (64, 96)]),  # next would be 8×12 < 16
        ((64, 96), 2.0, 1, 16, [(32, 48), (64, 96)]),  # depth caps it
        ((64, 96), 2.0, 0, 16, [(64, 96)]),
        ((50, 40), 1.2, 10, 24, [(34, 27), (41, 33), (50, 40)]),  # next: int(27/1.2) = 22 < 24
        ((37, 53), 2.0, 5, 16, [(18, 26), (37, 53)]),
        ((500, 750), 2.0, 10, 64, [(125, 187), (250, 375), (500, 750)]),  # the paper's 750×500, min axis 64
    ],
)
def test_levels_run_match_size_shrink_depth_and_min_axis(hw, shrink, depth, min_ax, expected):
    assert c2f_level_sizes(*hw, shrink, depth, min_ax) == expected
    if hw[0] > 100:
        return  # the sizes alone; running 750 px is not needed to count passes
    m = tiny(shrink_size=shrink, max_c2f_depth=depth, min_ax_size=min_ax).eval()
    assert m.level_sizes(*hw) == expected
    seen = _record_passes(m)
    out = m.colorize(torch.rand(1, 1, *hw) * 2 - 1)
    assert out.shape == (1, 2, *hw)
    assert len(seen) == len(expected)
    mult = m.generator.multiple  # 1: the DynamicUnet takes any size unpadded
    assert mult == 1
    for x, (h, w) in zip(seen, expected):  # each pass at its level's size
        assert x.shape[1] == 3 and x.shape[-2:] == (-(-h // mult) * mult, -(-w // mult) * mult)
    assert torch.count_nonzero(seen[0][:, 1:]) == 0  # the coarsest level starts from ab = 0
    if len(seen) > 1:
        assert torch.count_nonzero(seen[1][:, 1:]) > 0  # later levels get the previous prediction


def test_inference_settings_are_read_when_colorize_runs():
    """One trained model, several Table 1 settings (the C2F paper's Table 1 settings act at inference)."""
    m = tiny(min_ax_size=8).eval()
    seen = _record_passes(m)
    L = torch.zeros(1, 1, 64, 64)
    m.colorize(L)
    assert len(seen) == 4  # 8, 16, 32, 64
    m.config.max_c2f_depth = 1
    seen.clear()
    m.colorize(L)
    assert len(seen) == 2
    seen.clear()
    m.colorize(L, shrink_size=1.2, max_c2f_depth=10)
    assert len(seen) == len(c2f_level_sizes(64, 64, 1.2, 10, 8)) == 11


@pytest.mark.parametrize("variant", ["default", "base", "smp"])
@pytest.mark.parametrize("hw", [(37, 53), (3, 5), (33, 17)])
def test_output_size_equals_input_size(variant, hw):
    m = cb.create_method("c2f", variant=variant, **TINY).eval()
    out = m.colorize(torch.rand(1, 1, *hw) * 2 - 1)
    assert out.shape == (1, 2, *hw) and torch.isfinite(out).all()


def test_base_has_one_input_channel_and_one_pass():
    m = tiny(model="base").eval()
    assert m.generator.unet.encoder.conv1.in_channels == 1
    assert m.level_sizes(256, 256) == [(256, 256)]
    seen = _record_passes(m)
    m.colorize(torch.zeros(1, 1, 64, 64))
    assert len(seen) == 1 and seen[0].shape[1] == 1
    assert cb.create_method("c2f", variant="base", **TINY).config.model == "base"


def test_paper_networks_are_the_dynamic_unet_and_the_pix2pix_patchgan():
    """The reference's fastai DynamicUnet (counts of tstreule/c2f_img_color's generator) and PatchDiscriminator."""
    from colorbench.nets.dynamic_unet import DynamicUnet

    m = cb.create_method("c2f", pretrained="false")
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert isinstance(m.generator.unet, DynamicUnet)
    assert count(m.generator) == 31_113_008
    assert count(cb.create_method("c2f", variant="base", pretrained="false").generator) == 31_099_672
    assert count(cb.create_method("c2f", variant="smp", pretrained="false").generator) == 14_328_354
    assert count(m.discriminator) == 2_765_633  # the pix2pix PatchGAN on 3 channels
    assert isinstance(list(m.generator.unet.modules())[-1], torch.nn.Conv2d)  # no output activation
    assert m.pretrained_flags() == {"resnet18": False}
    cfg = m.config
    assert (cfg.shrink_size, cfg.max_c2f_depth, cfg.min_ax_size) == (2.0, 5, 64)
    assert (cfg.lambda_l1, cfg.lr, cfg.betas, cfg.pretrain_lr, cfg.pretrain_betas) == (
        100.0, 2e-4, (0.5, 0.999), 1e-4, (0.9, 0.999))
    assert (cfg.gan_target, cfg.inference_norm, cfg.pretrain_epochs, cfg.pretrain_steps) == ("real", "batch", 25, None)
    assert m.level_sizes(256, 256) == [(64, 64), (128, 128), (256, 256)]
    convs = [mod for mod in m.generator.modules() if isinstance(mod, torch.nn.Conv2d)]
    weights = torch.cat([c.weight.flatten() for c in convs])
    assert abs(weights.std().item() - 0.02) < 0.001  # the reference's init_weights, encoder included


def test_pretraining_feeds_l_and_zero_ab_then_gan_phase_trains_the_discriminator():
    m = tiny(pretrain_steps=1).train()
    seen = _record_passes(m)
    d_before = [p.detach().clone() for p in m.discriminator.parameters()]
    out = m.train_step(_batch(), 0)
    assert set(out) == {"loss", "l1"} and m.phase(0) == "pretrain"
    assert len(seen) == 1 and torch.count_nonzero(seen[0][:, 1:]) == 0  # one pass, L + zero ab
    assert all(torch.equal(a, b) for a, b in zip(d_before, m.discriminator.parameters()))
    seen.clear()
    out = m.train_step(_batch(), 1)
    assert m.phase(1) == "gan" and {"l1", "g_gan", "d", "d_real", "d_fake"} <= set(out)
    assert len(seen) == 2  # 32 px, min axis 16: levels 16 and 32
    assert out["loss"] == pytest.approx(out["g_gan"] + 100.0 * out["l1"], rel=1e-5)
    assert any(not torch.equal(a, b) for a, b in zip(d_before, m.discriminator.parameters()))
    assert all(p.requires_grad for p in m.discriminator.parameters())
    assert not m.opt_pre.state and m.opt_g.state  # pretraining's Adam moments are dropped, not checkpointed


def test_prior_is_not_detached():
    m = tiny().train()
    L = _batch()["L"]
    preds = m.generator(pyramid(L, m.level_sizes(32, 32)))
    assert len(preds) == 2
    preds[0].retain_grad()
    preds[-1].abs().mean().backward()  # a loss at full resolution only
    assert preds[0].grad is not None and preds[0].grad.abs().sum() > 0


def test_intermediate_avg_averages_l1_over_levels_in_one_step():
    m = tiny(pretrain_steps=0, intermediate_supervision="average").train()
    assert cb.create_method("c2f", variant="intermediate_avg", **TINY).config.intermediate_supervision == "average"
    batch = _batch()
    sizes = m.level_sizes(32, 32)
    levels = pyramid(torch.cat((batch["L"], batch["ab"]), dim=1), sizes)
    with torch.no_grad():
        preds = m.generator([x[:, :1] for x in levels])
    expected = sum(F.l1_loss(p, x[:, 1:]).item() for p, x in zip(preds, levels)) / len(levels)
    full_only = F.l1_loss(preds[-1], batch["ab"]).item()
    out = m.train_step(batch, 0)
    assert out["l1"] == pytest.approx(expected, rel=1e-4)
    assert out["l1"] != pytest.approx(full_only, rel=1e-3)
    assert m.opt_g.state[next(iter(m.generator.parameters()))]["step"] == 1


def test_intermediate_takes_one_generator_step_per_level_then_one_discriminator_step():
    """The paper's intermediate supervision: the first level's L1 is that of the untouched network; each later
    level runs after one more generator step, on the previous level's (detached) prediction."""
    m = tiny(pretrain_steps=0)
    assert cb.create_method("c2f", variant="intermediate", **TINY).config.intermediate_supervision == "steps"
    ref = copy.deepcopy(m)
    m.config.intermediate_supervision = "steps"
    batch = _batch()
    levels = pyramid(torch.cat((batch["L"], batch["ab"]), dim=1), m.level_sizes(32, 32))
    assert len(levels) == 2
    m.train(), ref.train()
    with torch.no_grad():
        first = ref.generator.level(levels[0][:, :1], None)
    out = m.train_step(batch, 0)
    g_param, d_param = next(iter(m.generator.parameters())), next(iter(m.discriminator.parameters()))
    assert m.opt_g.state[g_param]["step"] == 2 and m.opt_d.state[d_param]["step"] == 1
    assert {"loss", "l1", "g_gan", "l1_levels", "d", "d_real", "d_fake"} <= set(out)
    l1_first = F.l1_loss(first, levels[0][:, 1:]).item()
    assert 2 * out["l1_levels"] - out["l1"] == pytest.approx(l1_first, rel=1e-4)


def test_pretrained_encoder_is_loaded_after_the_reference_init(tmp_path):
    import torchvision

    torch.manual_seed(1)
    ref = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18-test.pth"
    torch.save(ref.state_dict(), path)
    m = tiny(pretrained="true", pretrained_path=str(path))
    assert m.pretrained_flags() == {"resnet18": True}
    enc = m.generator.unet.encoder
    assert torch.equal(enc.conv1.weight, ref.conv1.weight)  # not re-initialised N(0, 0.02) afterwards
    assert torch.equal(enc.layer2[0].conv1.weight, ref.layer2[0].conv1.weight)
    base = tiny(model="base", pretrained="true", pretrained_path=str(path))  # 1 channel: the file's RGB summed
    assert torch.allclose(base.generator.unet.encoder.conv1.weight, ref.conv1.weight.sum(1, keepdim=True), atol=1e-6)
    assert abs(tiny().generator.unet.encoder.conv1.weight.std().item() - 0.02) < 0.002  # the reference's init


def test_bad_shrink_size_is_named():
    with pytest.raises(ValueError, match="shrink_size"):
        c2f_level_sizes(64, 64, 1.0, 5, 16)


def _trained(steps: int = 3, **overrides):
    """A tiny C2F after a few GAN steps (running statistics no longer the initial 0 / 1)."""
    m = tiny(pretrain_steps=0, **overrides).train()
    for step in range(steps):
        m.train_step(_batch(4, seed=step), step)
    return m


def test_colorize_leaves_every_buffer_bit_identical_in_both_inference_norms():
    m = _trained()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    L = _batch(4, seed=9)["L"]
    for norm in ("batch", "running"):
        m.config.inference_norm = norm
        for mode in (m.train, m.eval):  # whatever mode the caller left it in
            mode()
            m.colorize(L)
            after = m.state_dict()
            assert all(torch.equal(before[k], after[k]) for k in before), norm
    assert not any(mod.training for mod in m.generator.modules())  # modes restored (eval, the last one)


def test_batch_inference_is_the_training_mode_forward_and_running_is_eval():
    """``batch`` = the reference's model run in training mode (what the paper describes), minus its buffer updates;
    ``running`` = eval mode. After training the two differ."""
    m = _trained()
    L = _batch(4, seed=9)["L"]
    sizes = m.level_sizes(32, 32)
    reference = copy.deepcopy(m.generator).train()
    with torch.no_grad():
        expected_batch = reference(pyramid(L, sizes))[-1]
        expected_running = copy.deepcopy(m.generator).eval()(pyramid(L, sizes))[-1]
    assert not torch.equal(reference.unet.middle[0].running_mean, m.generator.unet.middle[0].running_mean)
    m.config.inference_norm = "batch"
    got_batch = m.colorize(L)
    m.config.inference_norm = "running"
    got_running = m.colorize(L)
    torch.testing.assert_close(got_batch, expected_batch, rtol=0, atol=1e-6)
    torch.testing.assert_close(got_running, expected_running, rtol=0, atol=1e-6)
    assert (got_batch - got_running).abs().max() > 1e-3


def test_pretraining_length_in_epochs_follows_the_trainers_epoch():
    from colorbench.data import build_dataset
    from colorbench.train import resolve, train

    m = tiny(pretrain_steps=None, pretrain_epochs=2)
    with pytest.raises(ValueError, match="pretrain_epochs"):
        m.phase(0)
    m.steps_per_epoch = 7
    assert (m.phase(13), m.phase(14)) == ("pretrain", "gan")
    data = build_dataset("synthetic", "train", size=32, seed=0, length=16)
    run = resolve("c2f", overrides={**TINY, "pretrain_steps": None, "pretrain_epochs": 1}, batch_size=8, size=32)
    result = train(run, data, epochs=2, device="cpu", progress=False)
    assert result.method.steps_per_epoch == 2 and result.steps == 4
    assert [("g_gan" in row) for row in result.history] == [False, False, True, True]


def test_padded_pixels_are_predicted_zero_at_every_level():
    """A ``valid`` mask (the ``crop = "pad"`` data option): the reference overwrites the padded prediction with 0."""
    m = tiny(pretrain_steps=1).train()
    batch = _batch(2, size=32)
    valid = torch.ones(2, 1, 32, 32, dtype=torch.bool)
    valid[:, :, :, 20:] = False
    sizes = m.level_sizes(32, 32)
    preds = m.generator(pyramid(batch["L"], sizes), mask_pyramid(valid, sizes))
    for p, v in zip(preds, mask_pyramid(valid, sizes)):
        assert torch.count_nonzero(p.masked_select(~v)) == 0 and torch.count_nonzero(p.masked_select(v)) > 0
    batch["ab"] = batch["ab"].masked_fill(~valid, 0.0)
    out = m.train_step({**batch, "valid": valid}, 0)
    with torch.no_grad():
        pred = m.generator([batch["L"]], [valid])[-1]
    assert torch.count_nonzero(pred[..., 20:]) == 0 and out["l1"] > 0

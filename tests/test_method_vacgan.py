"""vacgan: the classifier gets gradients and G's loss includes γ·CE; paper vs code variants; schedules; labels."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from colorbench.data import build_dataset
from colorbench.errors import UserError
from colorbench.nets.blocks import FrozenStatsBatchNorm2d
from colorbench.registry import create_method, get_method


def tiny(variant: str = "default", **overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_method("vacgan", variant=variant, num_classes=4,
                         **{**get_method("vacgan").test_overrides, **overrides})


def batch(size: int = 16, n: int = 4) -> dict:
    ds = build_dataset("synthetic", size=size)
    return torch.utils.data.default_collate([ds[i] for i in range(n)])


def test_paper_networks() -> None:
    torch.manual_seed(0)
    m = create_method("vacgan", num_classes=10)
    g = m.generator
    assert g.widths == [64, 128, 256, 512, 512] and g.levels == 4
    assert (m.config.image_size, m.config.batch_size, m.config.gamma, m.config.lambda_l1) == (32, 128, 0.01, 100.0)
    # dropout 0.5: first two decoder layers and the two 512-wide encoder layers
    assert sorted(int(k) for k in g.down_dropout) == [2, 3]
    assert [g.widths[int(k) + 1] for k in g.down_dropout] == [512, 512]
    assert [j for j, up in enumerate(g.ups) if any(isinstance(x, nn.Dropout) for x in up)] == [0, 1]
    # discriminator: 64, 128, 256 (s2), 512 (s1), 1; batch norm on every hidden layer (paper)
    convs = [c for c in m.discriminator.modules() if isinstance(c, nn.Conv2d)]
    assert [(c.out_channels, c.stride[0]) for c in convs] == [(64, 2), (128, 2), (256, 2), (512, 1), (1, 1)]
    assert sum(isinstance(b, nn.BatchNorm2d) for b in m.discriminator.modules()) == 4
    assert m.discriminator(torch.zeros(2, 3, 32, 32)).shape == (2, 1, 4, 4)
    # classifier: 64, 128, 256 (s2), 256 (s1), then a linear layer from the 4×4×256 map to the classes
    convs = [c for c in m.classifier.modules() if isinstance(c, nn.Conv2d)]
    assert [(c.out_channels, c.stride[0]) for c in convs] == [(64, 2), (128, 2), (256, 2), (256, 1)]
    assert (m.classifier.fc.in_features, m.classifier.fc.out_features) == (4 * 4 * 256, 10)
    assert convs[0].in_channels == 3  # concat(L, ab), as the reference code
    assert m.classifier(torch.zeros(1, 3, 48, 40)).shape == (1, 10)  # pooled: any size
    # G 3e-4, D and C at a tenth; Adam's default betas
    assert [o.param_groups[0]["lr"] for o in (m.opt_g, m.opt_d, m.opt_c)] == pytest.approx([3e-4, 3e-5, 3e-5])
    assert m.opt_g.param_groups[0]["betas"] == (0.9, 0.999)
    assert get_method("vacgan").needs_labels and get_method("vacgan").watch_loss == "l1"


def test_code_variant() -> None:
    m = tiny("code")
    assert not any(isinstance(b, nn.BatchNorm2d) for b in m.discriminator.modules())
    # the generator's batch norm as the reference calls it (inference mode, statistics fixed at 0/1)
    assert not any(isinstance(b, nn.BatchNorm2d) for b in m.generator.modules())
    assert sum(isinstance(b, FrozenStatsBatchNorm2d) for b in m.generator.modules()) == 1 + 3 + 3
    assert m.config.init == "glorot_uniform" and tiny().config.init == "glorot_normal"
    assert m.config.g_steps_per_d == 2 and m.config.lr_schedule == "smooth"
    m.train_step(batch(), 0)
    steps = [o.state[o.param_groups[0]["params"][0]]["step"].item() for o in (m.opt_g, m.opt_d, m.opt_c)]
    assert steps == [2, 1, 1]  # two generator steps per discriminator step


def test_schedules() -> None:
    step_decay, smooth = tiny(), tiny("code")
    assert step_decay.learning_rate(19_999) == 3e-4
    assert step_decay.learning_rate(20_000) == pytest.approx(3e-5)
    assert smooth.learning_rate(10_000) == pytest.approx(3e-4 * 0.1**0.5)
    assert smooth.learning_rate(10**6) == 1e-6  # floored, as the code
    step_decay.train_step(batch(), 20_000)
    assert step_decay.opt_d.param_groups[0]["lr"] == pytest.approx(3e-6)
    assert step_decay.opt_c.param_groups[0]["lr"] == pytest.approx(3e-6)


def test_classifier_receives_gradients_and_learns() -> None:
    m = tiny(dropout=0.0)
    b = batch()
    before = copy.deepcopy(m.classifier)
    out = m.train_step(b, 0)
    grads = [p.grad for p in m.classifier.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in grads)
    assert all(not torch.equal(p, q) for p, q in zip(before.parameters(), m.classifier.parameters()))
    with torch.no_grad():  # C's loss on the real pairs, recomputed with C as it was
        ce_real = F.cross_entropy(before(torch.cat([b["L"], b["ab"]], 1)), b["label"])
    assert out["ce_real"] == pytest.approx(ce_real.item(), rel=1e-5)


def test_generator_loss_includes_gamma_ce() -> None:
    m = tiny(dropout=0.0)
    b = batch()
    fake = m.generate(b["L"])
    g = m.generator_loss(b["L"], b["ab"], b["label"], fake)
    pair = torch.cat([b["L"], fake], 1)
    ce = F.cross_entropy(m.classifier(pair), b["label"])
    logits = m.discriminator(pair)
    adv = F.softplus(-logits).mean()
    torch.testing.assert_close(g["ce_fake"], ce)
    torch.testing.assert_close(g["g"], adv + 100.0 * (fake - b["ab"]).abs().mean() + 0.01 * ce)
    # the classifier's error back-propagates into the generator
    m.generator.zero_grad()
    g["ce_fake"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.generator.downs[0].parameters())
    # and γ scales it: γ = 1 adds (1 - 0.01)·CE to the total
    m2 = tiny(dropout=0.0, gamma=1.0)
    g2 = m2.generator_loss(b["L"], b["ab"], b["label"], m2.generate(b["L"]))
    torch.testing.assert_close(g2["g"] - g["g"], 0.99 * g["ce_fake"], rtol=1e-4, atol=1e-5)
    out = m.train_step(b, 0)
    assert out["g"] == pytest.approx(out["g_gan"] + 100 * out["l1"] + 0.01 * out["ce_fake"], rel=1e-6)


def test_labels_are_required() -> None:
    with pytest.raises(ValueError, match="class labels"):
        create_method("vacgan", **get_method("vacgan").test_overrides)
    m = tiny()
    b = batch()
    del b["label"]
    with pytest.raises(UserError, match="'sample'"):
        m.train_step(b, 0)


def test_colorize_any_size() -> None:
    m = tiny()
    m.train_step(batch(), 0)
    L = torch.rand(1, 1, 37, 53) * 2 - 1
    a = m.colorize(L)
    assert a.shape == (1, 2, 37, 53) and torch.equal(a, m.colorize(L))


def test_dcgan_variant_has_no_classifier_and_needs_no_labels() -> None:
    """KTH §4.2's GAN: the VAC+GAN without C (γ = 0), the same G, D, λ and schedule; trains on unlabeled data."""
    cls = get_method("vacgan")
    cfg = get_method("vacgan").Config(**cls.variants["dcgan"])
    assert not cls.labels_needed(cfg) and cls.labels_needed(cls.Config())
    torch.manual_seed(0)
    m = create_method("vacgan", variant="dcgan", **cls.test_overrides)  # no num_classes: fine
    assert m.classifier is None and set(m.networks()) == {"generator", "discriminator"}
    assert set(m.optimizers()) == {"opt_g", "opt_d"}
    assert (m.config.gamma, m.config.lambda_l1, m.config.lr, m.config.lr_decay_every) == (0.0, 100.0, 3e-4, 20000)
    assert sum(isinstance(b, nn.BatchNorm2d) for b in m.discriminator.modules()) == 4  # the paper's D
    b = batch()
    del b["label"]
    out = m.train_step(b, 0)
    assert "ce_fake" not in out and "c" not in out
    assert out["g"] == pytest.approx(out["g_gan"] + 100 * out["l1"], rel=1e-6)


def test_dcgan_trains_on_an_unlabeled_dataset() -> None:
    from colorbench.train import resolve, train

    ds = build_dataset("synthetic", "train", size=16, length=16)
    ds.num_classes = None  # stands for a dataset without classes
    run = resolve("vacgan", variant="dcgan", overrides=get_method("vacgan").test_overrides, batch_size=4, size=16)
    result = train(run, ds, steps=2, device="cpu", progress=False)
    assert result.steps == 2 and result.method.classifier is None

"""What makes featrec the thesis' model: a perceptual term of weight 1e-5 on frozen backbone features of the
rebuilt RGB, on the Górriz base (pix2pix as an option), with backbones loaded only from local files."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from colorbench import pretrained as pt
from colorbench.nets.gorriz import GorrizGenerator
from colorbench.nets.multiscale import MultiScaleDiscriminator
from colorbench.nets.patchgan import PatchGAN
from colorbench.nets.unet import UNet
from colorbench.registry import create_method, get_method

TINY = dict(get_method("featrec").test_overrides)


def _batch(n=2, size=32, seed=3):
    g = torch.Generator().manual_seed(seed)
    return {"L": torch.rand(n, 1, size, size, generator=g) * 1.6 - 0.8,
            "ab": torch.rand(n, 2, size, size, generator=g) * 0.4 - 0.2}


def test_default_is_gorriz_with_vgg16_block3_conv3(caches):
    cfg = get_method("featrec").Config()
    assert (cfg.base, cfg.backbone, cfg.feature_weight, cfg.pretrained) == ("gorriz", "vgg16", 1e-5, "auto")
    with pytest.warns(UserWarning, match="colorbench weights fetch"):  # no weights in the empty caches
        m = create_method("featrec", **{**TINY, "feature_layer": None, "pretrained": "auto"})
    assert m.pretrained_flags() == {"vgg16": False}
    assert isinstance(m.generator, GorrizGenerator) and isinstance(m.discriminator, MultiScaleDiscriminator)
    assert m.discriminator.num_scales == 3
    convs = [x for x in m.features.net if isinstance(x, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(3, 64), (64, 64), (64, 128), (128, 128),
                                                                (128, 256), (256, 256), (256, 256)]
    assert isinstance(m.features.net[-1], nn.ReLU)  # Keras' block3_conv3 output is after its ReLU
    assert m.features(torch.rand(1, 3, 32, 32)).shape == (1, 256, 8, 8)


def test_backbone_weights_come_from_the_local_cache(caches):
    torch.manual_seed(5)
    full = {"features.0.weight": torch.randn(64, 3, 3, 3), "features.0.bias": torch.randn(64)}
    hub = pt.torch_hub_dir()
    hub.mkdir(parents=True)
    torch.save(full, hub / "vgg16-397923af.pth")
    m = create_method("featrec", **{**TINY, "pretrained": "true"})
    assert m.pretrained_flags() == {"vgg16": True}
    assert torch.equal(m.features.net[0].weight, full["features.0.weight"])
    with pytest.raises(Exception, match="resnet50-0676ba61.pth"):
        create_method("featrec", variant="resnet50", **{**TINY, "feature_layer": None, "pretrained": "true"})


def test_feature_weight_changes_the_generator_loss():
    outs = []
    for w in (1e-5, 1.0):
        torch.manual_seed(0)
        m = create_method("featrec", **{**TINY, "feature_weight": w})
        outs.append(m.train_step(_batch(), 0))
    a, b = outs
    assert a["feat"] > 0 and a["feat"] == pytest.approx(b["feat"], rel=1e-6) and a["l1"] == pytest.approx(b["l1"])
    for o, w in zip(outs, (1e-5, 1.0)):
        assert o["loss_g"] == pytest.approx(o["g_adv"] + 100 * o["l1"] + w * o["feat"], rel=1e-5)
    assert b["loss_g"] - a["loss_g"] == pytest.approx((1.0 - 1e-5) * a["feat"], rel=1e-3)


def test_backbone_is_frozen_but_passes_gradients_to_the_generator():
    torch.manual_seed(0)
    m = create_method("featrec", **{**TINY, "feature_weight": 1.0, "lambda_adv": 0.0, "lambda_l1": 0.0})
    m.train()
    assert not m.features.training and "features" not in m.networks()
    assert not any(p.requires_grad for p in m.features.parameters())
    before = {k: v.clone() for k, v in m.features.state_dict().items()}
    for step in range(2):
        m.train_step(_batch(seed=step), step)
    for k, v in m.features.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in m.features.parameters())
    # only the feature term drives the generator here, and it does reach it
    grads = [p.grad for p in m.generator.parameters() if p.grad is not None]
    assert grads and sum(g.abs().sum().item() for g in grads) > 0


def test_feature_loss_is_mse_of_imagenet_normalised_rgb_features():
    m = create_method("featrec", **{**TINY, "feature_input_scale": 1.0})
    m.features.net = nn.Identity()  # φ = the normalised input, so the loss can be computed by hand
    b = _batch(n=1, size=8)
    ab_pred = b["ab"] + 0.05
    from colorbench.color import network_to_rgb

    mean, std = np.array([0.485, 0.456, 0.406])[:, None, None], np.array([0.229, 0.224, 0.225])[:, None, None]
    rgb_p = network_to_rgb(b["L"], ab_pred)[0].double().numpy()
    rgb_t = network_to_rgb(b["L"], b["ab"])[0].double().numpy()
    expect = ((((rgb_p - mean) / std) - ((rgb_t - mean) / std)) ** 2).mean()
    assert m.feature_loss(b["L"], ab_pred, b["ab"]).item() == pytest.approx(expect, rel=1e-4)
    assert m.feature_loss(b["L"], b["ab"], b["ab"]).item() == 0.0


@pytest.mark.parametrize("variant, shape", [("resnet50", (1, 256, 8, 8)), ("unet", (1, 16, 32, 32)),
                                            ("fpn", (1, 128, 8, 8))])
def test_table2_backbones(variant, shape):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pretrained=false: no lookup, no warning, no network
        m = create_method("featrec", variant=variant, **{**TINY, "feature_layer": None})
    assert m.pretrained_flags() == {"resnet50" if variant == "resnet50" else "resnet34": False}
    assert m.features(torch.rand(1, 3, 32, 32)).shape == shape


def test_pix2pix_base():
    m = create_method("featrec", variant="pix2pix", **TINY)
    assert isinstance(m.generator, UNet) and isinstance(m.discriminator, PatchGAN) and m.levels == 5
    out = m.train_step(_batch(), 0)
    assert out["loss_g"] == pytest.approx(out["g_adv"] + 100 * out["l1"] + 1e-5 * out["feat"], rel=1e-5)
    assert m.eval().colorize(torch.zeros(1, 1, 37, 53)).shape == (1, 2, 37, 53)


def test_bad_options_name_the_choices():
    with pytest.raises(ValueError, match="block3_conv3"):
        create_method("featrec", **{**TINY, "feature_layer": "conv9"})
    with pytest.raises(ValueError, match="layer1"):
        create_method("featrec", variant="resnet50", **TINY)  # block1_conv1 is a VGG layer


def test_feature_input_scale_emulates_the_keras_input_range():
    """The thesis' Keras VGG16 saw 0-255 inputs: by default the MSE is scaled by (255·0.226)² so 1e-5 keeps its
    weight."""
    b = _batch(n=1, size=8)
    plain = create_method("featrec", **{**TINY, "feature_input_scale": 1.0})
    default = create_method("featrec", **TINY)
    default.load_state_dict(plain.state_dict())
    assert get_method("featrec").Config().feature_input_scale == pytest.approx(57.63)
    ab_pred = b["ab"] + 0.05
    ratio = default.feature_loss(b["L"], ab_pred, b["ab"]) / plain.feature_loss(b["L"], ab_pred, b["ab"])
    assert ratio.item() == pytest.approx((255 * 0.226) ** 2, rel=1e-5)


def test_table_notes_state_the_feature_scale_and_the_random_decoders() -> None:
    from colorbench.method import Method
    from colorbench.registry import get_method, list_methods

    cls = get_method("featrec")
    assert set(cls.table_notes) == set(cls.variants)  # every featrec row carries the scale assumption
    assert all("(255·0.226)²" in note and "not compared" in note for note in cls.table_notes.values())
    for v in ("unet", "fpn"):
        assert cls.table_notes[v].startswith("ImageNet encoder, random decoder")
    assert "random decoder" not in cls.table_notes["default"] + cls.table_notes["resnet50"]
    assert Method.table_notes == {}
    for name in list_methods():  # a note names a declared variant
        assert set(get_method(name).table_notes) <= set(get_method(name).variants), name


def test_keras_caffe_preprocessing_scales_the_vgg_feature_mse_by_the_configured_factor():
    """Keras' preprocess_input(mode="caffe") (RGB -> BGR, ×255, minus [103.939, 116.779, 123.68]) against
    torchvision's normalisation, on shared weights (torchvision's VGG16 initialisation, zero biases; the BGR net's
    first conv takes the flipped channels): the block3_conv3 feature MSE grows by (255·0.226)² to 0.5%."""
    import torchvision

    torch.manual_seed(0)
    ours = torchvision.models.vgg16(weights=None).features[:16].eval()
    keras = torchvision.models.vgg16(weights=None).features[:16].eval()
    keras.load_state_dict(ours.state_dict())
    mean, std = torch.tensor([0.485, 0.456, 0.406])[:, None, None], torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    g = torch.Generator().manual_seed(1)
    a = torch.rand(2, 3, 32, 32, generator=g)
    b = (a + 0.1 * torch.randn(2, 3, 32, 32, generator=g)).clamp(0, 1)
    with torch.no_grad():
        keras[0].weight.copy_(ours[0].weight.flip(1))

        def caffe(x: torch.Tensor) -> torch.Tensor:
            return 255.0 * x.flip(1) - torch.tensor([103.939, 116.779, 123.68])[:, None, None]

        mse_keras = F.mse_loss(keras(caffe(a)), keras(caffe(b)))
        mse_ours = F.mse_loss(ours((a - mean) / std), ours((b - mean) / std))
    factor = get_method("featrec").Config().feature_input_scale ** 2
    assert (mse_keras / mse_ours).item() == pytest.approx(factor, rel=5e-3)

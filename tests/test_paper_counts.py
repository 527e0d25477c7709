"""Pinned parameter counts: every network of every built-in method and variant, in its paper configuration.

A method is built with its default config (the paper's defaults, crop included) plus the variant, with empty weight
caches (nothing is downloaded; pretrained backbones keep their random init, which does not change a count). Each
network (an ``nn.Module`` child of the method) must have exactly the pinned trainable and frozen parameter counts,
so a change that alters a pinned architecture fails here until its line is changed on purpose. Every built-in
paper configuration is pinned; a method or variant with no line (a new method, an installed plugin) is skipped with
a note saying how to pin it, and a line naming a configuration that is not registered fails.

One line per network: ``(method, variant, network, trainable, frozen, source)``. ``network = "-"`` marks a method
without networks. ``source`` says where the number comes from: a paper table, a reference repository's file (the
count of that code's network), or "our own derivation" (the count of our implementation, checked by nothing
outside colorbench; pinned so that it changes only on purpose).
"""
from __future__ import annotations

import warnings

import pytest
from torch import nn

import colorbench as cb
from colorbench.registry import get_method, list_methods

C2F_G = "tstreule/c2f_img_color, src/generator.py: fastai DynamicUnet(create_body(resnet18, n_in={n}, cut=-2), 2)"
PATCHGAN = ("junyanz/pytorch-CycleGAN-and-pix2pix, models/networks.py: NLayerDiscriminator(3, 64, 3, BatchNorm2d); "
            "= tstreule/c2f_img_color, src/discriminator.py: PatchDiscriminator(3, 64, 3)")
PIX2PIX_G = "junyanz/pytorch-CycleGAN-and-pix2pix, models/networks.py: UnetGenerator(1, 2, 8, 64, BatchNorm2d), 256²"
KTH_UNET = "duartegalvao/Image-Colorization-with-Deep-Learning (the KTH report's code): the U-Net at 32²"
GORRIZ_G = "bbc/ColorGAN (Górriz et al.): the generator at 256²"
OURS = "our own derivation"
CIC = ("richzhang/colorization, colorizers/eccv16.py: ECCVGenerator() has 32,236,011, of which model_out (the "
       "313 -> 2 1×1 conv holding the fixed bin centres, 626) is a buffer here, not a parameter")

DDCOLOR_G = ("piddnad/DDColor, basicsr/archs/ddcolor_arch.py: DDColor('convnext-{e}', 'MultiScaleColorDecoder', "
             "num_queries=100, dec_layers=9, last_norm='Spectral', num_output_channels=2) has {n}, less its unused "
             "final ConvNeXt LayerNorm ({k}); tests/test_nets_ddcolor.py")
DDCOLOR_L = DDCOLOR_G.format(e="l", n="227,869,328", k="3,072")
DDCOLOR_T = DDCOLOR_G.format(e="t", n="55,006,640", k="1,536")
DDCOLOR_D = "piddnad/DDColor, basicsr/archs/discriminator_arch.py: DynamicUNetDiscriminator(n_channels=3, nf=64)"
DDCOLOR_VGG = "torchvision vgg16_bn().features[:35] (to conv5_1)"

COUNTS: list[tuple[str, str, str, int, int, str]] = [
    # method, variant, network, trainable, frozen, source
    ("c2f", "default", "generator", 31_113_008, 0, C2F_G.format(n=3)),
    ("c2f", "default", "discriminator", 2_765_633, 0, PATCHGAN),
    ("c2f", "base", "generator", 31_099_672, 0, C2F_G.format(n=1)),
    ("c2f", "base", "discriminator", 2_765_633, 0, PATCHGAN),
    ("c2f", "paper_target", "generator", 31_113_008, 0, C2F_G.format(n=3)),
    ("c2f", "paper_target", "discriminator", 2_765_633, 0, PATCHGAN),
    ("c2f", "intermediate", "generator", 31_113_008, 0, C2F_G.format(n=3)),
    ("c2f", "intermediate", "discriminator", 2_765_633, 0, PATCHGAN),
    ("c2f", "intermediate_avg", "generator", 31_113_008, 0, C2F_G.format(n=3)),
    ("c2f", "intermediate_avg", "discriminator", 2_765_633, 0, PATCHGAN),
    ("c2f", "smp", "generator", 14_328_354, 0, f"{OURS}: segmentation-models-pytorch Unet('resnet18', classes=2)"),
    ("c2f", "smp", "discriminator", 2_765_633, 0, PATCHGAN),
    ("c2f", "s1.2_d1", "generator", 31_113_008, 0, C2F_G.format(n=3)),
    ("c2f", "s1.2_d1", "discriminator", 2_765_633, 0, PATCHGAN),
    ("c2f", "s1.2_d10", "generator", 31_113_008, 0, C2F_G.format(n=3)),
    ("c2f", "s1.2_d10", "discriminator", 2_765_633, 0, PATCHGAN),
    ("c2f", "s2.0_d1", "generator", 31_113_008, 0, C2F_G.format(n=3)),
    ("c2f", "s2.0_d1", "discriminator", 2_765_633, 0, PATCHGAN),
    ("c2f", "s2.0_d10", "generator", 31_113_008, 0, C2F_G.format(n=3)),
    ("c2f", "s2.0_d10", "discriminator", 2_765_633, 0, PATCHGAN),
    ("cic", "default", "net", 32_235_385, 0, CIC),
    ("cic", "decode_mean", "net", 32_235_385, 0, CIC),
    ("cic", "decode_mode", "net", 32_235_385, 0, CIC),
    ("cic", "no_rebalance", "net", 32_235_385, 0, CIC),
    ("cic", "code", "net", 32_235_385, 0, CIC + "; the released code's settings change no layer"),
    ("ddcolor", "default", "generator", 227_866_256, 0, DDCOLOR_L),
    ("ddcolor", "default", "discriminator", 5_919_617, 0, DDCOLOR_D),
    ("ddcolor", "default", "vgg", 0, 10_000_448, DDCOLOR_VGG),
    ("ddcolor", "large", "generator", 227_866_256, 0, DDCOLOR_L),
    ("ddcolor", "large", "discriminator", 5_919_617, 0, DDCOLOR_D),
    ("ddcolor", "large", "vgg", 0, 10_000_448, DDCOLOR_VGG),
    ("ddcolor", "tiny", "generator", 55_005_104, 0, DDCOLOR_T),
    ("ddcolor", "tiny", "discriminator", 5_919_617, 0, DDCOLOR_D),
    ("ddcolor", "tiny", "vgg", 0, 10_000_448, DDCOLOR_VGG),
    ("ddcolor", "narrow", "generator", 13_881_408, 0, f"{OURS}: DDColorNet at half DDColor-T's widths"),
    ("ddcolor", "narrow", "discriminator", 1_483_201, 0, f"{OURS}: the DDColor critic at width 32"),
    ("ddcolor", "narrow", "vgg", 0, 10_000_448, DDCOLOR_VGG),
    ("featrec", "default", "generator", 41_830_276, 0, GORRIZ_G),
    ("featrec", "default", "discriminator", 8_298_825, 0, f"{OURS}: Górriz's multi-scale spectral-norm discriminator"),
    ("featrec", "default", "features", 0, 1_735_488, "torchvision vgg16().features[:16] (to relu3_3)"),
    ("featrec", "fpn", "generator", 41_830_276, 0, GORRIZ_G),
    ("featrec", "fpn", "discriminator", 8_298_825, 0, f"{OURS}: Górriz's multi-scale spectral-norm discriminator"),
    ("featrec", "fpn", "features", 0, 23_155_264, f"{OURS}: segmentation-models-pytorch FPN('resnet34') features"),
    ("featrec", "pix2pix", "generator", 54_409_858, 0, PIX2PIX_G),
    ("featrec", "pix2pix", "discriminator", 2_765_633, 0, PATCHGAN),
    ("featrec", "pix2pix", "features", 0, 1_735_488, "torchvision vgg16().features[:16] (to relu3_3)"),
    ("featrec", "resnet50", "generator", 41_830_276, 0, GORRIZ_G),
    ("featrec", "resnet50", "discriminator", 8_298_825, 0, f"{OURS}: Górriz's multi-scale spectral-norm discriminator"),
    ("featrec", "resnet50", "features", 0, 225_344, f"{OURS}: torchvision resnet50 stem + layer1"),
    ("featrec", "unet", "generator", 41_830_276, 0, GORRIZ_G),
    ("featrec", "unet", "discriminator", 8_298_825, 0, f"{OURS}: Górriz's multi-scale spectral-norm discriminator"),
    ("featrec", "unet", "features", 0, 24_436_224, f"{OURS}: segmentation-models-pytorch Unet('resnet34') features"),
    ("gorriz", "default", "generator", 41_830_276, 0, GORRIZ_G),
    ("gorriz", "default", "discriminator", 8_298_825, 0, f"{OURS}: multi-scale (3) spectral-norm discriminator"),
    ("gorriz", "bn", "generator", 41_830_402, 0, f"{OURS}: Górriz generator with batch norm"),
    ("gorriz", "bn", "discriminator", 2_766_529, 0, f"{OURS}: single-scale batch-norm discriminator"),
    ("gorriz", "no_ibn", "generator", 41_830_402, 0, f"{OURS}: Górriz generator without instance-batch norm"),
    ("gorriz", "no_ibn", "discriminator", 8_299_587, 0, f"{OURS}: multi-scale discriminator without IBN"),
    ("gorriz", "no_sn", "generator", 41_830_276, 0, GORRIZ_G),
    ("gorriz", "no_sn", "discriminator", 8_298_825, 0, f"{OURS}: multi-scale discriminator, plain convs"),
    ("gorriz", "per_channel_in", "generator", 41_830_402, 0, f"{OURS}: Górriz generator, per-channel instance norm"),
    ("gorriz", "per_channel_in", "discriminator", 8_299_587, 0, f"{OURS}: multi-scale, per-channel instance norm"),
    ("gorriz", "single_scale", "generator", 41_830_276, 0, GORRIZ_G),
    ("gorriz", "single_scale", "discriminator", 2_766_275, 0, f"{OURS}: one scale of the Górriz discriminator"),
    ("gray", "default", "-", 0, 0, "no network: L with a = b = 0"),
    ("koalarization", "default", "extractor", 0, 55_843_464, "timm inception_resnet_v2 (1000 logits; TF-slim's: 1001)"),
    ("koalarization", "default", "colornet", 6_573_794, 0, f"{OURS}: encoder, 1000-wide fusion, decoder"),
    ("koalarization", "zhang_bins", "extractor", 0, 23_834_568, "timm inception_v3 (1,000 classes, no aux head)"),
    ("koalarization", "zhang_bins", "colornet", 6_663_673, 0,
     "Baldassarre et al. 2017 layer list; fusion 256 + 1,000; last conv to Zhang et al.'s 313 ab bins (our stand-in)"),
    ("koalarization", "convnext_tiny", "extractor", 0, 28_589_128, "timm convnext_tiny (ImageNet-1k head)"),
    ("koalarization", "convnext_tiny", "colornet", 6_573_794, 0, f"{OURS}: encoder, 1000-wide fusion, decoder"),
    ("koalarization", "fusion256", "extractor", 0, 23_834_568, "timm / torchvision inception_v3 without the aux head"),
    ("koalarization", "fusion256", "colornet", 6_383_330, 0, f"{OURS}: encoder, 256-wide fusion, decoder"),
    ("koalarization", "inception_v3", "extractor", 0, 23_834_568,
     "timm / torchvision inception_v3 without the aux head"),
    ("koalarization", "inception_v3", "colornet", 6_573_794, 0, f"{OURS}: encoder, 1000-wide fusion, decoder"),
    ("mean_color", "default", "-", 0, 0, "no network: the training set's mean ab"),
    ("pix2pix", "default", "generator", 54_409_858, 0, PIX2PIX_G),
    ("pix2pix", "default", "discriminator", 2_765_633, 0, PATCHGAN),
    ("unet_l1", "default", "net", 16_654_722, 0, KTH_UNET),
    ("unet_l1", "code", "net", 16_654_722, 0, KTH_UNET + "; frozen-statistics BN keeps γ, β"),
    ("unet_l1", "tarres", "net", 54_412_674, 0,
     f"{OURS}: KTH blocks at 256², 7 stride-2 levels (Tarrés thesis §4.1.1 'n = 7 downsampling layers')"),
    ("unet_l2", "default", "net", 16_654_722, 0, KTH_UNET),
    ("unet_l2", "code", "net", 16_654_722, 0, KTH_UNET + "; frozen-statistics BN keeps γ, β"),
    ("unet_l2", "tarres", "net", 54_412_674, 0, f"{OURS}: as unet_l1 tarres"),
    ("vacgan", "default", "generator", 16_654_722, 0, KTH_UNET),
    ("vacgan", "default", "discriminator", 2_766_657, 0, f"{OURS}: VAC+GAN discriminator at 32²"),
    ("vacgan", "default", "classifier", 1_748_682, 0, f"{OURS}: VAC+GAN classifier (10 classes)"),
    ("vacgan", "code", "generator", 16_654_722, 0, KTH_UNET + "; reference src/VAC_GAN/models/Generator.py"),
    ("vacgan", "code", "discriminator", 2_764_737, 0, "KTH reference src/VAC_GAN/models/Discriminator.py (no BN)"),
    ("vacgan", "code", "classifier", 1_748_682, 0,
     "KTH reference src/VAC_GAN/models/Classifier.py: 64, 128, 256 s2, 256 s1, linear 4·4·256 -> 10 (CIFAR-10)"),
    ("vacgan", "dcgan", "generator", 16_654_722, 0, KTH_UNET + "; reference src/GAN/models/Generator.py"),
    ("vacgan", "dcgan", "discriminator", 2_766_657, 0,
     "KTH report §4.2 (4×4 stride-2 convs, BN + LeakyReLU on all layers) and reference src/GAN/models/"
     "Discriminator.py (64, 128, 256 s2, 512 s1, 1): convs 2,764,737 + BN 1,920"),
    ("vacgan", "dcgan_code", "generator", 16_654_722, 0, KTH_UNET + "; reference src/GAN/models/Generator.py"),
    ("vacgan", "dcgan_code", "discriminator", 2_764_737, 0, "KTH reference src/GAN/models/Discriminator.py (no BN)"),
]

PINNED: dict[tuple[str, str], dict[str, tuple[int, int, str]]] = {}
for _m, _v, _net, _trainable, _frozen, _source in COUNTS:
    PINNED.setdefault((_m, _v), {})[_net] = (_trainable, _frozen, _source)
REGISTERED = [(m, v) for m in list_methods() for v in sorted(get_method(m).variants)]


def counts(method: nn.Module) -> dict[str, tuple[int, int]]:
    """``{child name: (trainable, frozen)}`` over the method's ``nn.Module`` children that hold parameters."""
    out = {}
    for name, net in method.named_children():
        params = list(net.parameters())
        if params:
            out[name] = (sum(p.numel() for p in params if p.requires_grad),
                         sum(p.numel() for p in params if not p.requires_grad))
    return out


def test_every_pin_names_a_registered_configuration():
    stale = sorted(set(PINNED) - set(REGISTERED))
    assert not stale, f"COUNTS names methods/variants that are not registered: {stale}"
    assert all(source.strip() for *_, source in COUNTS)


UNPINNED = sorted(set(REGISTERED) - set(PINNED))


@pytest.mark.parametrize("method,variant", UNPINNED or [("-", "-")],
                         ids=[f"{m}:{v}" for m, v in UNPINNED] or ["none"])
def test_unpinned_configurations_are_reported(method, variant):
    """A method or variant with no pinned count (a new file in ``methods/``, an installed plugin) passes the suite
    untouched; the skip says how to pin it."""
    if method == "-":
        return  # every registered configuration is pinned
    pytest.skip(f"{method}:{variant} has no pinned parameter count; to pin one, build it, count its networks and "
                "add a line per network to COUNTS in tests/test_paper_counts.py with its source")


# 54M parameters each: initialising them takes 5-7 s on 2 busy cores, so they run in `make test`, not `make test-fast`.
SLOW_BUILDS = {("unet_l1", "tarres"), ("unet_l2", "tarres"),
               ("ddcolor", "default"), ("ddcolor", "large"), ("ddcolor", "tiny")}  # 238M / 65M: 6-16 s


@pytest.mark.parametrize("method,variant", [
    pytest.param(m, v, id=f"{m}:{v}", marks=[pytest.mark.slow] if (m, v) in SLOW_BUILDS else [])
    for m, v in sorted(PINNED)])
def test_paper_configuration_parameter_counts(caches, method, variant):
    cls = get_method(method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no pretrained weights on disk": expected with empty caches
        m = cb.create_method(method, variant=variant, num_classes=10 if cls.needs_labels else None)
    expected = {net: value[:2] for net, value in PINNED[(method, variant)].items() if net != "-"}
    got = counts(m)
    wrong = {net: f"pinned {expected.get(net)}, built {got.get(net)} "
                  f"({PINNED[(method, variant)].get(net, ('',) * 3)[2]})"
             for net in set(expected) | set(got) if expected.get(net) != got.get(net)}
    assert not wrong, f"{method}:{variant} (trainable, frozen) counts changed: {wrong}"

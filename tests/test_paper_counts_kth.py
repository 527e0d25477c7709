"""Pinned parameter counts of the KTH, Tarrés-U-Net and Koalarization variants added for the paper configurations.

One row per network: (method, variant, network attribute, trainable, frozen, source). A change to an architecture
fails here loudly; change a figure only with its source. Networks are built on the meta device (no memory, no
initialisation), on the CPU where a constructor needs real tensors. Same plain-table style as the all-methods
``test_paper_counts.py``, so the two tables can be merged.
"""
from __future__ import annotations

import warnings

import pytest
import torch

from colorbench.registry import build_config, get_method

KTH_UNET = ("KTH report Figure 1 and reference src/UNET/models/UNet.py (stem 64, 128, 256, 512, 512 at 32²); "
            "issue audit 16,654,722")
KTH_D = ("KTH report §4.2 (4×4 stride-2 convs, BN + LeakyReLU on all layers) and reference src/GAN/models/"
         "Discriminator.py (64, 128, 256 s2, 512 s1, 1): convs 2,764,737 + BN 1,920")
ROWS = [
    # method, variant, network, trainable, frozen, source
    ("unet_l1", "code", "net", 16_654_722, 0, KTH_UNET + "; frozen-statistics BN keeps γ, β"),
    ("unet_l2", "code", "net", 16_654_722, 0, KTH_UNET + "; frozen-statistics BN keeps γ, β"),
    ("unet_l1", "tarres", "net", 54_412_674, 0,
     "our derivation: KTH blocks at 256², 7 stride-2 levels (Tarrés thesis §4.1.1 'n = 7 downsampling layers')"),
    ("unet_l2", "tarres", "net", 54_412_674, 0, "as unet_l1 tarres"),
    ("vacgan", "dcgan", "generator", 16_654_722, 0, KTH_UNET + "; reference src/GAN/models/Generator.py"),
    ("vacgan", "dcgan", "discriminator", 2_766_657, 0, KTH_D),
    ("vacgan", "code", "generator", 16_654_722, 0, KTH_UNET + "; reference src/VAC_GAN/models/Generator.py"),
    ("vacgan", "code", "discriminator", 2_764_737, 0, "reference src/VAC_GAN/models/Discriminator.py (no BN)"),
    ("vacgan", "code", "classifier", 1_748_682, 0,
     "reference src/VAC_GAN/models/Classifier.py: 64, 128, 256 s2, 256 s1, linear 4·4·256 -> 10 (CIFAR-10)"),
    ("koalarization", "zhang_bins", "colornet", 6_648_645, 0,
     "Baldassarre et al. 2017 layer list; fusion 256 + 1,000; last conv to 261 in-gamut ab bins (our stand-in)"),
    ("koalarization", "zhang_bins", "extractor", 0, 23_834_568, "timm inception_v3 (1,000 classes, no aux head)"),
]


def _build(method: str, variant: str) -> torch.nn.Module:
    cls = get_method(method)
    config = build_config(cls, {}, variant)
    num_classes = 10 if cls.labels_needed(config) else None  # CIFAR-10's, the KTH papers' data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no local weights: random init, which does not change the counts
        try:
            with torch.device("meta"):
                return cls(config, num_classes=num_classes)
        except Exception:  # noqa: BLE001 - a constructor that reads tensor values
            return cls(config, num_classes=num_classes)


@pytest.mark.parametrize("method,variant,network,trainable,frozen,source", ROWS,
                         ids=[f"{m}:{v}:{n}" for m, v, n, *_ in ROWS])
def test_count(method: str, variant: str, network: str, trainable: int, frozen: int, source: str) -> None:
    net = getattr(_build(method, variant), network)
    got_trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    got_frozen = sum(p.numel() for p in net.parameters()) - got_trainable
    assert (got_trainable, got_frozen) == (trainable, frozen), source


@pytest.mark.parametrize("method,variant", sorted({(m, v) for m, v, *_ in ROWS}))
def test_every_network_is_pinned(method: str, variant: str) -> None:
    """The rows name every network the variant holds, so a network added to it needs a row."""
    pinned = {n for m, v, n, *_ in ROWS if (m, v) == (method, variant)}
    assert {name for name, _ in _build(method, variant).named_children()} == pinned

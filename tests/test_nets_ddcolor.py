"""DDColor's network against its reference code (piddnad/DDColor, ``basicsr/archs/ddcolor_arch.py``).

Fixtures in ``tests/fixtures/ddcolor/``, made by running the reference code outside colorbench (torch and timm, with
``basicsr.utils.registry`` stubbed so that the ``basicsr`` package's ``__init__`` is not run):

* ``released_keys.json``: the reference ``DDColor``'s state-dict keys and shapes at the two released configurations
  (``ddcolor/pipeline.py``: ConvNeXt-L / ConvNeXt-T, 100 queries, 9 decoder layers, 3 scales, spectral last norm,
  2 outputs), and its parameter counts (``sum(p.numel() for p in net.parameters())``).
* ``parity.safetensors``: a reduced reference network (ConvNeXt depths 1,1,2,1 and widths 8,16,16,24; ``nf=16``;
  colour decoder hidden width 16, 2 heads, FFN 32, 6 queries, 3 layers, colour embedding 8), built with
  ``torch.manual_seed(0)``; every float tensor then perturbed by N(0, 0.1) noise (running variances drawn from
  U(0.5, 1.5)) and each spectral norm's ``u``, ``v`` converged by 30 power iterations, so no layer is at its trivial
  initialisation. ``weights/<key>`` are its state dict under the reference's names; ``input`` is a grey image
  ``[2,1,64,64]`` in [0,1] (given to the network as three equal channels), ``output`` the reference's ``[2,2,64,64]``
  ab in eval mode. Metadata ``config`` holds the reduced configuration.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from colorbench.errors import UserError
from colorbench.nets.ddcolor import DDColorNet, map_reference_state_dict, reference_key
from colorbench.nets.convnext_stages import CONVNEXT_SIZES

FIXTURES = Path(__file__).parent / "fixtures" / "ddcolor"


def released() -> dict:
    return json.loads((FIXTURES / "released_keys.json").read_text())


def build_released(size: str) -> DDColorNet:
    depths, dims = CONVNEXT_SIZES[size]
    with torch.device("meta"):  # shapes only: no memory, no initialisation time
        return DDColorNet(depths, dims, nf=512, num_queries=100, dec_layers=9)


def test_parity_with_the_reference_code():
    from safetensors import safe_open

    with safe_open(str(FIXTURES / "parity.safetensors"), "pt") as f:
        cfg = json.loads(f.metadata()["config"])
        t = {k: f.get_tensor(k) for k in f.keys()}
    net = DDColorNet(cfg["depths"], cfg["dims"], nf=cfg["nf"], hidden_dim=cfg["hidden_dim"],
                     num_queries=cfg["num_queries"], nheads=cfg["nheads"], dim_feedforward=cfg["dim_feedforward"],
                     dec_layers=cfg["dec_layers"])
    sd = {k.removeprefix("weights/"): v for k, v in t.items() if k.startswith("weights/")}
    net.load_state_dict(map_reference_state_dict(net, sd), strict=True)
    net.eval()
    with torch.no_grad():
        out = net(t["input"].expand(-1, 3, -1, -1))
    assert out.shape == t["output"].shape == (2, 2, 64, 64)
    assert t["output"].abs().mean() > 0.1  # a real signal, not zeros
    torch.testing.assert_close(out, t["output"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("size", ["large", "tiny"])
def test_mapping_covers_every_released_key(size):
    ref = released()[size]
    net = build_released(size)
    own = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    mapped = {}
    for key, shape in ref["keys"]:
        name = reference_key(key)
        if name is None:
            assert key in ("mean", "std", "encoder.arch.norm.weight", "encoder.arch.norm.bias")
            continue
        assert name in own, f"{key} -> {name}: not in our network"
        assert own[name] == tuple(shape), f"{key} -> {name}: shape {own[name]} != reference {tuple(shape)}"
        assert name not in mapped, f"{key} and {mapped.get(name)} both map to {name}"
        mapped[name] = key
    not_covered = [k for k in own if k not in mapped and not k.endswith("num_batches_tracked")]
    assert not_covered == []


@pytest.mark.parametrize("size", ["large", "tiny"])
def test_parameter_count_equals_the_reference(size):
    """Ours = the reference's ``net.parameters()`` less its unused final ConvNeXt LayerNorm (2·1536 for L, 2·768 for
    T): large 227,869,328 - 3,072 = 227,866,256; tiny 55,006,640 - 1,536 = 55,005,104."""
    ref = released()[size]
    ours = sum(p.numel() for p in build_released(size).parameters())
    assert ours == ref["parameters"] - ref["final_norm"]
    assert ours == {"large": 227_866_256, "tiny": 55_005_104}[size]


def test_a_foreign_or_misshapen_key_is_refused():
    net = DDColorNet((1, 1, 1, 1), (8, 8, 8, 8), nf=8, hidden_dim=8, num_queries=2, nheads=1, dim_feedforward=8,
                     dec_layers=1)
    with pytest.raises(UserError, match="has no place"):
        map_reference_state_dict(net, {"decoder.extra.weight": torch.zeros(1)})
    with pytest.raises(UserError, match="shape"):
        map_reference_state_dict(net, {"refine_net.0.0.bias": torch.zeros(3)})
    with pytest.raises(UserError, match="not in the file"):
        map_reference_state_dict(net, {"refine_net.0.0.bias": torch.zeros(2)})


def test_imagenet_convnext_file_loads_into_the_encoder(tmp_path, monkeypatch):
    """The encoder's ImageNet start goes through :func:`colorbench.pretrained.load_pretrained`: a ConvNeXt file in
    Facebook's layout (``downsample_layers``, ``stages.i.j.dwconv``, a final ``norm`` and ``head``; DDColor's
    ``pretrain/convnext_*_22k_224.pth``) fills timm's trunk with the same tensors as the reference's encoder holds,
    and leaves the per-stage norms (not in such a file) at their initial values, as the reference does."""
    from safetensors import safe_open

    from colorbench.pretrained import load_pretrained

    with safe_open(str(FIXTURES / "parity.safetensors"), "pt") as f:
        cfg = json.loads(f.metadata()["config"])
        ref = {k.removeprefix("weights/"): f.get_tensor(k) for k in f.keys() if k.startswith("weights/encoder.")}
    fb = {k.removeprefix("encoder.arch."): v for k, v in ref.items() if not k.startswith("encoder.arch.norm") or
          k.startswith("encoder.arch.norm.")}
    fb["head.weight"], fb["head.bias"] = torch.zeros(5, cfg["dims"][-1]), torch.zeros(5)
    path = tmp_path / "convnext_fb_layout.pth"
    torch.save({"model": fb}, path)
    net = DDColorNet(cfg["depths"], cfg["dims"], nf=cfg["nf"], hidden_dim=cfg["hidden_dim"],
                     num_queries=cfg["num_queries"], nheads=cfg["nheads"], dim_feedforward=cfg["dim_feedforward"],
                     dec_layers=cfg["dec_layers"])
    assert load_pretrained(net.encoder.body, "convnext_tiny_22k", "true", path=path) is True
    own = net.state_dict()
    for key, value in ref.items():
        name = reference_key(key)
        if name is None:
            continue
        if name.startswith("encoder.norms."):
            assert torch.equal(own[name], torch.ones_like(value) if name.endswith("weight") else
                               torch.zeros_like(value))
        else:
            assert torch.equal(own[name], value), name

"""Pretrained-backbone lookup: local caches only, auto/true/false, and loads that really change the weights."""
from __future__ import annotations

import hashlib
import socket
import warnings
from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import save_file
from torch import nn

from colorbench import pretrained as pt
from colorbench.cli import main
from colorbench.errors import UserError


@pytest.fixture(scope="module")
def resnet18_source() -> nn.Module:
    torch.manual_seed(1)
    return torchvision.models.resnet18(weights=None)


def _smp_encoder(in_channels: int = 3) -> nn.Module:
    import segmentation_models_pytorch as smp

    return smp.encoders.get_encoder("resnet18", in_channels=in_channels, weights=None)


def test_torch_hub_file_is_found_and_loaded_into_an_smp_encoder(caches, resnet18_source):
    hub = pt.torch_hub_dir()
    assert hub == caches / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.save(resnet18_source.state_dict(), hub / "resnet18-f37072fd.pth")  # has fc.*, which the encoder lacks
    assert pt.resolve_weights("resnet18") == hub / "resnet18-f37072fd.pth"
    torch.manual_seed(2)
    enc = _smp_encoder()
    before = enc.layer4[1].conv2.weight.clone()
    assert not torch.equal(before, resnet18_source.layer4[1].conv2.weight)
    assert pt.load_pretrained(enc, "resnet18") is True
    for key, value in enc.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(value, resnet18_source.state_dict()[key]), key


def test_hf_cache_layout_is_found(caches, resnet18_source):
    b = pt.BACKBONES["resnet18"]
    snap = caches / "hf" / "hub" / f"models--{b.hf_repo.replace('/', '--')}" / "snapshots" / b.hf_revision
    snap.mkdir(parents=True)
    sd = {k: v for k, v in resnet18_source.state_dict().items() if not k.startswith("fc.")}
    save_file(sd, str(snap / "model.safetensors"))
    assert pt.resolve_weights("resnet18") == snap / "model.safetensors"
    enc = _smp_encoder()
    assert pt.load_pretrained(enc, "resnet18", "true")
    assert torch.equal(enc.conv1.weight, resnet18_source.conv1.weight)


def test_one_channel_first_conv_is_adapted_by_summing(caches, resnet18_source):
    path = caches / "r18.pth"
    torch.save(resnet18_source.state_dict(), path)
    enc = _smp_encoder(in_channels=1)
    assert pt.load_pretrained(enc, "resnet18", path=path)
    torch.testing.assert_close(enc.conv1.weight[:, 0], resnet18_source.conv1.weight.sum(1))


def test_prefix_mapping_loads_a_truncated_feature_stack(caches):
    """A ``vgg16().features[:k]``-style module reads ``features.<i>.*`` keys of the full file."""
    torch.manual_seed(0)
    full = {"features.0.weight": torch.randn(4, 3, 3, 3), "features.0.bias": torch.randn(4),
            "features.2.weight": torch.randn(5, 4, 3, 3), "features.2.bias": torch.randn(5),
            "classifier.0.weight": torch.randn(7, 5)}
    hub = pt.torch_hub_dir()
    hub.mkdir(parents=True)
    torch.save(full, hub / "vgg16-397923af.pth")
    stack = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 5, 3))
    assert pt.load_pretrained(stack, "vgg16")
    assert torch.equal(stack[2].weight, full["features.2.weight"])
    assert torch.equal(stack[0].bias, full["features.0.bias"])


def test_auto_without_weights_warns_once_and_returns_false(caches):
    net = nn.Conv2d(3, 4, 3)
    before = net.weight.clone()
    with pytest.warns(UserWarning, match="colorbench weights fetch"):
        assert pt.load_pretrained(net, "resnet50") is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pt.load_pretrained(net, "resnet50", "auto") is False  # second time: silent
    assert torch.equal(net.weight, before)


def test_true_without_weights_names_the_expected_path(caches):
    with pytest.raises(UserError) as err:
        pt.load_pretrained(nn.Conv2d(3, 4, 3), "vgg16", pretrained="true")
    expected = str(caches / "torch" / "hub" / "checkpoints" / "vgg16-397923af.pth")
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_false_never_looks(caches, resnet18_source):
    hub = pt.torch_hub_dir()
    hub.mkdir(parents=True)
    torch.save(resnet18_source.state_dict(), hub / "resnet18-f37072fd.pth")
    enc = _smp_encoder()
    before = enc.conv1.weight.clone()
    assert pt.load_pretrained(enc, "resnet18", pretrained=False) is False
    assert torch.equal(enc.conv1.weight, before)


def test_bad_inputs_raise_user_errors(caches):
    with pytest.raises(UserError, match="does not exist"):
        pt.load_pretrained(nn.Conv2d(3, 4, 3), "resnet18", path=caches / "missing.pth")
    with pytest.raises(UserError, match="Did you mean 'vgg16'"):
        pt.load_pretrained(nn.Conv2d(3, 4, 3), "vgg61")
    with pytest.raises(UserError, match="auto, true or false"):
        pt.load_pretrained(nn.Conv2d(3, 4, 3), "vgg16", pretrained="yes")
    wrong = caches / "wrong.pth"
    torch.save({"x.weight": torch.zeros(1)}, wrong)
    with pytest.raises(UserError, match="does not fit"):
        pt.load_pretrained(nn.Conv2d(3, 4, 3), "vgg16", path=wrong)


def test_weights_list_shows_disk_state(caches, resnet18_source, capsys):
    hub = pt.torch_hub_dir()
    hub.mkdir(parents=True)
    torch.save({"fc.weight": torch.zeros(1)}, hub / "resnet18-f37072fd.pth")
    assert main(["weights", "list"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert set(pt.BACKBONES) <= set(lines)
    assert " yes " in lines["resnet18"] and str(hub / "resnet18-f37072fd.pth") in lines["resnet18"]
    assert " no " in lines["vgg16"] and str(hub / "vgg16-397923af.pth") in lines["vgg16"]


def test_weights_fetch_fails_fast_without_network(caches, monkeypatch, capsys):
    calls = []

    def refuse(address, timeout=None, *args, **kwargs):
        calls.append((address, timeout))
        raise OSError("network unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    assert main(["weights", "fetch", "vgg16", "--timeout", "2"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach download.pytorch.org" in err and "weights list" in err
    assert calls == [(("download.pytorch.org", 443), 2.0)]
    assert not (pt.torch_hub_dir() / "vgg16-397923af.pth").exists()


def test_fetch_is_a_no_op_when_the_file_is_there(caches, monkeypatch):
    from colorbench.commands import weights

    hub = pt.torch_hub_dir()
    hub.mkdir(parents=True)
    (hub / "vgg16-397923af.pth").write_bytes(b"x")
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("touched the network"))
    assert weights.fetch("vgg16") == Path(hub / "vgg16-397923af.pth")


def test_timm_weights_in_the_hf_cache_load_into_a_timm_model(caches):
    """koalarization's path: timm.create_model(name, pretrained=False), then the file from the HF cache layout."""
    import timm

    torch.manual_seed(3)
    src = timm.create_model("convnext_tiny", pretrained=False)
    root = caches / "hf" / "hub" / "models--timm--convnext_tiny.fb_in1k"
    (root / "snapshots" / "abc123").mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text("abc123")
    save_file({k: v.contiguous() for k, v in src.state_dict().items()},
              str(root / "snapshots" / "abc123" / "model.safetensors"))
    torch.manual_seed(4)
    dst = timm.create_model("convnext_tiny", pretrained=False)
    assert pt.load_pretrained(dst, "convnext_tiny", "true") is True
    for (k, a), b in zip(src.state_dict().items(), dst.state_dict().values()):
        assert torch.equal(a, b), k


def test_weights_without_a_known_digest_are_recorded_on_download_and_checked_after(tmp_path, monkeypatch):
    """A file with no published sha256 gets its digest written beside it by `weights fetch`; a later change to the
    file is a one-line error naming the fetch command. A known digest (the LPIPS heads) is checked directly."""
    from colorbench.commands.weights import _download

    source = tmp_path / "source.pth"
    source.write_bytes(b"weights v1")
    dest = tmp_path / "hub" / "pt_inception-2015-12-05-6726825d.pth"
    _download(source.as_uri(), dest, timeout=5, name_hash=False)
    record = dest.with_name(dest.name + ".sha256")
    assert record.read_text().split()[0] == hashlib.sha256(b"weights v1").hexdigest()
    pt.verify("inception_fid", dest)  # as recorded
    dest.write_bytes(b"weights v2")
    with pytest.raises(UserError, match="colorbench weights fetch inception_fid"):
        pt.verify("inception_fid", dest)
    heads = tmp_path / "lpips_v0.1_alex.pth"
    heads.write_bytes(b"not the heads")
    with pytest.raises(UserError, match="sha256"):
        pt.verify("lpips_alex_heads", heads)
    with pytest.raises(UserError, match="is not"):
        _download(source.as_uri(), tmp_path / "hub" / "x.pth", timeout=5, sha256="0" * 64)

"""DDColor's released checkpoints in the zoo (``ddcolor:paper``, ``paper_tiny``, ``modelscope``, ``artistic``): the
entries, the key mapping of every entry against the reference's key names and shapes
(``tests/fixtures/ddcolor/released_keys.json``), a random-weight stand-in in the released layout (DDColor-T) loaded
through ``ddcolor:paper_tiny`` and run by ``eval`` and ``colorize``, and the pipeline's resizing (the missing file:
test_zoo.py)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from zoo_support import check_eval_and_colorize, ddcolor_shapes, write_release, zoo_at_working_size

from colorbench import pretrained as pt
from colorbench.errors import UserError
from colorbench.nets.convnext_stages import CONVNEXT_SIZES
from colorbench.nets.ddcolor import DDColorNet, map_reference_state_dict, reference_key

ENTRIES = {"ddcolor:paper": "large", "ddcolor:paper_tiny": "tiny", "ddcolor:modelscope": "large",
           "ddcolor:artistic": "large"}
SMALL = 64  # the working size the CPU tests run at, instead of the released 512


def entry_config(name: str):
    """The method config an entry builds (the entry's overrides on the method's defaults)."""
    from colorbench.registry import get_method

    entry = pt.get_zoo(name)
    cls = get_method(entry.method)
    return cls.Config(**{**cls.variants[entry.variant], **dict(entry.config)})


@pytest.fixture(scope="module")
def tiny_release(tmp_path_factory):
    """A torch hub cache holding a seed-0 DDColor-T stand-in for ``ddcolor:paper_tiny`` (~220 MB, written once) in
    basicsr's ``{"params": state dict}`` layout, and the method loaded from it."""
    root = tmp_path_factory.mktemp("zoo_ddcolor")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TORCH_HOME", str(root / "torch"))
        mp.setenv("HF_HOME", str(root / "hf"))
        path = pt.zoo_path("ddcolor:paper_tiny")
        sd = write_release(path, ddcolor_shapes("tiny"))
        torch.save({"params": sd}, path)
        yield sd, pt.load_zoo("ddcolor:paper_tiny")


def test_the_four_releases_with_source_licence_size_and_the_pipelines_network():
    assert {n for n in pt.zoo_entries() if n.startswith("ddcolor:")} == set(ENTRIES)
    for name, size in ENTRIES.items():
        e = pt.get_zoo(name)
        repo = "piddnad/ddcolor_" + name.split(":")[1]
        assert e.url == f"https://huggingface.co/{repo}/resolve/main/pytorch_model.bin"
        assert e.licence.startswith("Apache-2.0") and repo in e.source and e.file.endswith(".pth")
        assert e.sha256 is None  # not published beside the files: recorded on first use
        assert e.variant == size and e.target == "generator" and e.mapper is map_reference_state_dict
        cfg = entry_config(name)
        assert (cfg.encoder, cfg.num_queries, cfg.dec_layers, cfg.nf, cfg.working_size) == (size, 100, 9, 512, 512)
        assert cfg.pretrained == cfg.pretrained_vgg == "false"  # the release replaces the ImageNet encoder
    assert len({pt.get_zoo(n).file for n in ENTRIES}) == 4
    assert "DDColor-T" in pt.get_zoo("ddcolor:paper_tiny").description
    assert "default" in pt.get_zoo("ddcolor:modelscope").description
    assert "colourfulness loss" in pt.get_zoo("ddcolor:artistic").description


def test_only_the_paper_model_claims_the_papers_figures():
    from colorbench.registry import get_method
    from colorbench.report.published import load_published, shown_beside

    assert pt.get_zoo("ddcolor:paper").published == (("ddcolor", "ddcolor", ""),)
    assert all(not pt.get_zoo(n).published for n in ENTRIES if n != "ddcolor:paper")
    assert get_method("ddcolor").published[("ddcolor", "ddcolor", "")][0] == "zoo:paper"
    rows = shown_beside("imagenet_val5k", [("ddcolor", "zoo:paper")], ["fid_tv", "colorfulness_abs"])
    assert sorted((r.our_metric, r.our_value) for r in rows) == [("colorfulness_abs", 38.26), ("fid_tv", 3.92)]
    assert {(r.source, r.method) for r in load_published() if r in rows} == {("ddcolor", "ddcolor")}


@pytest.mark.parametrize("name", list(ENTRIES))
def test_every_entry_maps_the_released_keys_onto_its_network(name):
    """On the meta device (no memory, no time): the entry's network takes every released tensor by name and shape."""
    cfg = entry_config(name)
    depths, dims = CONVNEXT_SIZES[cfg.encoder]
    with torch.device("meta"):
        net = DDColorNet(depths, dims, nf=cfg.nf, hidden_dim=cfg.hidden_dim, num_queries=cfg.num_queries,
                         nheads=cfg.nheads, dim_feedforward=cfg.dim_feedforward, dec_layers=cfg.dec_layers)
        sd = {k: torch.empty(shape) for k, shape in ddcolor_shapes(ENTRIES[name]).items()}
    mapped = pt.map_released(pt.get_zoo(name), net, sd)
    assert set(mapped) == set(net.state_dict())
    assert len(mapped) == len(sd) - 4  # mean, std and the unused final LayerNorm's two tensors are dropped


def test_a_release_of_the_other_size_is_refused():
    with torch.device("meta"):
        net = DDColorNet(*CONVNEXT_SIZES["tiny"])
        sd = {k: torch.empty(shape) for k, shape in ddcolor_shapes("large").items()}
    with pytest.raises(UserError, match=r"^ddcolor:paper_tiny: DDColor weights: .* has shape"):
        pt.map_released(pt.get_zoo("ddcolor:paper_tiny"), net, sd)


def test_the_stand_in_loads_through_paper_tiny(tiny_release):
    sd, method = tiny_release
    own = method.generator.state_dict()
    used = 0
    for key, value in sd.items():
        ours = reference_key(key)
        if ours is None:
            continue
        assert torch.equal(own[ours], value), key
        used += 1
    assert used == len(own) == len(sd) - 4
    assert method.zoo_name == "ddcolor:paper_tiny" and not method.training
    assert method.weights_sha256 == pt.sha256_of(pt.zoo_path("ddcolor:paper_tiny"))
    record = pt.zoo_path("ddcolor:paper_tiny").with_name("ddcolor_paper_tiny.pth.sha256")
    assert record.read_text().split()[0] == method.weights_sha256  # recorded on first use


def test_predict_resizes_as_the_reference_pipeline(tiny_release, monkeypatch):
    """In: L resized bilinearly without antialiasing (``cv2.resize``'s default) to the working size; out: ab
    resized back by nearest neighbour (``F.interpolate``'s default), at the photo's size."""
    from colorbench.color import normalize_ab

    _, method = tiny_release
    monkeypatch.setattr(method.config, "working_size", SMALL)
    L = torch.rand(1, 1, 40, 70, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        got = method.predict(L)
        small = F.interpolate(L, size=(SMALL, SMALL), mode="bilinear", align_corners=False, antialias=False)
        at_working = normalize_ab(method.generate_lab(small))
    want = F.interpolate(at_working, size=(40, 70), mode="nearest")
    assert got.shape == (1, 2, 40, 70) and at_working.abs().mean() > 1e-3
    torch.testing.assert_close(got, want)
    bilinear = F.interpolate(at_working, size=(40, 70), mode="bilinear", align_corners=False)
    assert (got - bilinear).abs().max() > 1e-4  # the nearest resize, not the bilinear one of Zhang's releases


@pytest.mark.slow  # ~5 s: two CLI runs of DDColor-T
def test_eval_and_colorize_take_paper_tiny(tiny_release, tmp_path, monkeypatch):
    zoo_at_working_size(monkeypatch, "ddcolor:paper_tiny", SMALL)
    monkeypatch.chdir(tmp_path)
    check_eval_and_colorize("ddcolor:paper_tiny", tmp_path)

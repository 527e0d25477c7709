"""Released colourisers (the zoo): key mappings against the reference's key names and shapes, the wrappers'
forward against the reference code's output (random weights, tests/fixtures/zoo), local-first loading, the
recorded hash, and zoo names where a run folder goes."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from zoo_support import check_eval_and_colorize, fixture, write_release, zoo_at_working_size

from colorbench import pretrained as pt
from colorbench.cli import main
from colorbench.errors import UserError

# Entries mapped by key prefixes, with their fixtures in tests/fixtures/zoo; an entry with its own ``mapper`` (DDColor's
# regex renaming) is tested by its method's zoo test against its network's fixture (tests/test_zoo_ddcolor.py).
ZOO = [name for name, entry in pt.zoo_entries().items() if entry.mapper is None]


def _replace(name: str) -> dict[str, torch.Tensor]:
    """Fixed released tensors the stand-in must hold as the release does (eccv16's bin centres / 110)."""
    if name == "cic:eccv16":
        from colorbench import ab_bins

        return {"model_out.weight": (ab_bins.bin_centres() / 110).T.reshape(2, 313, 1, 1)}
    return {}


def _install(name: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random-weight stand-in for ``name``'s released file, written where the lookup expects it."""
    shapes = fixture(name.replace(":", "-") + ".keys")["keys"]
    return write_release(pt.zoo_path(name), shapes, seed, _replace(name))


@pytest.fixture(scope="module")
def zoo_cache(tmp_path_factory):
    """A torch hub cache holding a seed-0 stand-in for every zoo entry (written once: the files are ~130 MB)."""
    root = tmp_path_factory.mktemp("zoo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TORCH_HOME", str(root / "torch"))
        mp.setenv("HF_HOME", str(root / "hf"))
        yield {name: _install(name) for name in ZOO}


@pytest.fixture(scope="module")
def loaded(zoo_cache):
    """Every zoo entry loaded once from its stand-in (``pretrained.load_zoo``)."""
    return {name: pt.load_zoo(name) for name in ZOO}


@pytest.fixture
def zoo(zoo_cache):
    """The module's zoo cache, for one test."""
    return zoo_cache


def test_the_zoo_holds_the_zhang_models_with_source_and_licence():
    assert {"cic:eccv16", "ideepcolor:siggraph17"} <= set(ZOO)
    for name in ZOO:
        e = pt.get_zoo(name)
        assert e.url.startswith("https://") and e.licence and e.source and e.file
        assert e.name == name


@pytest.mark.parametrize("name", ZOO)
def test_every_entry_maps_the_reference_keys_onto_its_network(name, zoo, loaded):
    released = zoo[name]
    method = loaded[name]
    entry = pt.get_zoo(name)
    own = getattr(method, entry.target).state_dict()
    used = 0
    for key, value in released.items():
        if key.startswith(entry.ignore) if entry.ignore else False:
            continue
        ours = next(o + key[len(t):] for t, o in entry.keymap if key.startswith(t))
        assert torch.equal(own[ours], value.to(own[ours].dtype)), (key, ours)
        used += 1
    assert used == len(own)  # every tensor of the network came from the file
    assert method.weights_sha256 == pt.sha256_of(pt.zoo_path(name))
    assert not method.training


def test_eccv16_mapping_is_layer_for_layer(zoo, loaded):
    released = zoo["cic:eccv16"]
    net = loaded["cic:eccv16"].net
    assert torch.equal(net.head.weight, released["model8.6.weight"])
    assert torch.equal(net.blocks[0][0].weight, released["model1.0.weight"])
    assert torch.equal(net.blocks[7][0].weight, released["model8.0.weight"])  # the transposed conv
    assert torch.equal(net.blocks[6][6].running_var, released["model7.6.running_var"])


@pytest.mark.parametrize("name", ["cic:eccv16", "ideepcolor:siggraph17"])
def test_forward_matches_the_reference_code(name, loaded, monkeypatch):
    ref = fixture(name.replace(":", "-") + ".forward")
    assert ref["seed"] == 0  # the stand-in the module fixture wrote
    method = loaded[name]
    assert method.config.working_size == 256  # as released: the photo is resized to 256² before the network
    n = ref["working_size"]
    monkeypatch.setattr(method.config, "working_size", n)  # the fixture's reference ran at 16² to stay small
    l_small = torch.tensor(ref["l_resized"]).reshape(1, 1, n, n)
    want = torch.tensor(ref["ab_working"]).reshape(1, 2, n, n)
    got = method.colorize(l_small / 50 - 1) * 110  # at the working size itself: the network alone
    assert want.abs().mean() > 1.0  # the stand-in's output is not trivially zero
    torch.testing.assert_close(got, want, atol=2e-3 * want.abs().max().item(), rtol=1e-3)

    h, w = ref["image_shape"][:2]
    l_full = torch.tensor(ref["l_orig"]).reshape(1, 1, h, w)
    want_full = torch.tensor(ref["ab_full"]).reshape(1, 2, h, w)
    from colorbench.nets.resample import predict_at

    up = predict_at(lambda x: want / 110, l_full / 50 - 1, n) * 110  # the upsampling back to the photo's size
    torch.testing.assert_close(up, want_full, atol=1e-4, rtol=1e-4)
    small = F.interpolate(l_full, size=(n, n), mode="bicubic", align_corners=False, antialias=True)
    # resizing L instead of the photo before its conversion: within 4 L units (of 100) on average on this noise
    # image, the worst case (every pixel an edge); on photos the two agree far more closely
    assert (small - l_small).abs().mean() < 4.0
    full = method.colorize(l_full / 50 - 1) * 110
    assert full.shape == (1, 2, h, w) and torch.isfinite(full).all()


@pytest.mark.parametrize("name", ["cic:eccv16", "ddcolor:paper_tiny"])
def test_a_missing_file_is_one_line_naming_the_fetch_command(caches, capsys, name):
    with pytest.raises(UserError, match=rf"run `colorbench weights fetch {name}`"):
        pt.load_zoo(name)
    assert main(["eval", name, "--dataset", "synthetic"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"colorbench weights fetch {name}" in err and "\n" not in err


def test_an_unknown_zoo_name_lists_the_known_ones(caches):
    with pytest.raises(UserError, match="cic:eccv16"):
        pt.load_zoo("cic:eccv61")


def test_the_hash_is_recorded_on_first_use_and_a_changed_file_is_refused(tmp_path):
    import dataclasses
    import hashlib

    entry = pt.get_zoo("ideepcolor:siggraph17")
    assert entry.sha256 is None  # the publisher gives only the name's 8-hex prefix
    path = tmp_path / entry.file
    path.write_bytes(b"first download")
    assert pt.checked_sha256(entry, path) == hashlib.sha256(b"first download").hexdigest()
    record = path.with_name(path.name + ".sha256")
    assert record.read_text().split()[0] == hashlib.sha256(b"first download").hexdigest()
    assert pt.checked_sha256(entry, path)  # the same file again: fine
    path.write_bytes(b"another file")
    with pytest.raises(UserError, match="sha256"):
        pt.checked_sha256(entry, path)
    known = dataclasses.replace(entry, sha256=hashlib.sha256(b"published").hexdigest())
    with pytest.raises(UserError, match="by its publisher"):
        pt.checked_sha256(known, path)


def test_a_mapping_that_does_not_fit_is_refused(loaded):
    entry, net = pt.get_zoo("cic:eccv16"), loaded["cic:eccv16"].net
    sd = {k: torch.zeros(v.shape) for k, v in net.state_dict().items()}  # our names: not the released ones
    with pytest.raises(UserError, match=r"tensors missing"):
        pt.map_released(entry, net, sd)
    released = {f"model1.{k[len('blocks.0.'):]}": v for k, v in sd.items() if k.startswith("blocks.0.")}
    released["model1.0.weight"] = torch.zeros(64, 1, 5, 5)
    with pytest.raises(UserError, match=r"model1\.0\.weight has shape"):
        pt.map_released(entry, net, released)


def test_weights_list_shows_the_zoo_with_what_is_on_disk(caches, capsys):
    pt.zoo_path("cic:eccv16").parent.mkdir(parents=True)
    pt.zoo_path("cic:eccv16").write_bytes(b"stand-in")
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    line = next(s for s in out.splitlines() if s.startswith("cic:eccv16"))
    assert " yes " in line and "BSD-2-Clause" in line and str(pt.zoo_path("cic:eccv16")) in line
    line = next(s for s in out.splitlines() if s.startswith("ideepcolor:siggraph17"))
    assert " no " in line


def test_eval_and_colorize_take_a_zoo_name(zoo, tmp_path, monkeypatch, capsys):
    zoo_at_working_size(monkeypatch, "cic:eccv16", 32)
    monkeypatch.chdir(tmp_path)
    check_eval_and_colorize("cic:eccv16", tmp_path)


def test_compare_builds_one_table_from_two_runs_and_a_zoo_model(zoo, tiny, tmp_path, monkeypatch, capsys):
    zoo_at_working_size(monkeypatch, "cic:eccv16", 32)
    monkeypatch.chdir(tmp_path)
    fast = ["--dataset", "synthetic", "--size", "16", "--batch-size", "8", "--no-progress", "--val-every", "0"]
    for seed in ("0", "1"):
        assert main(["train", "test_tiny", *fast, "--steps", "2", "--seed", seed]) == 0
    runs = [str(tmp_path / "runs" / f"test_tiny-default-synthetic-s{s}") for s in (0, 1)]
    capsys.readouterr()
    args = ["compare", *runs, "cic:eccv16", "--protocol", "synthetic", "--max-images", "8", "--out", "t.md"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.count(": scored 8 images on synthetic-first8") == 3
    table = (tmp_path / "t.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| method | seeds | psnr ↑ (dB) |")  # the results layer's header
    labels = [r.split(" | ")[0][2:] for r in rows[1:]]
    assert labels == ["cic [zoo:eccv16]", "test_tiny [default (test_tiny-default-synthetic-s0)]",
                      "test_tiny [default (test_tiny-default-synthetic-s1)]"]
    assert all("[" in r.split(" | ")[2] for r in rows[1:])  # every PSNR cell has its interval over images
    stored = tmp_path / "runs" / "zoo" / "cic-eccv16" / "compare" / "synthetic-first8"
    assert (stored / "per_image.csv").is_file()
    first = json.loads((stored / "row.json").read_text())
    assert first["weights"] == "sha256:" + pt.sha256_of(pt.zoo_path("cic:eccv16"))
    assert main(args) == 0  # everything was scored on this protocol already: read back, the same table
    out = capsys.readouterr().out
    assert out.count(": reused 8 images") == 3
    assert (tmp_path / "t.md").read_text() == table


def test_study_create_takes_a_zoo_name(zoo):
    from colorbench.study.create import methods_from_checkpoints

    methods, sources = methods_from_checkpoints(["ideepcolor:siggraph17"])
    assert list(methods) == ["ideepcolor"] and sources["ideepcolor"] == {"checkpoint": "ideepcolor:siggraph17"}
    assert methods["ideepcolor"].weights_sha256 == pt.sha256_of(pt.zoo_path("ideepcolor:siggraph17"))


class _Response:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def __enter__(self):
        import io

        return io.BytesIO(self.data)

    def __exit__(self, *exc):
        return False


def test_fetch_checks_the_published_hash_prefix_and_records_the_full_hash(caches, monkeypatch, capsys):
    import hashlib
    import urllib.request

    from colorbench.commands import weights

    monkeypatch.setattr(weights, "check_reachable", lambda url, timeout: None)
    entry = pt.get_zoo("ideepcolor:siggraph17")
    served = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: served.append(url) or _Response(b"corrupt"))
    assert main(["weights", "fetch", "ideepcolor:siggraph17"]) == 2  # its name promises sha256 df00044c...
    assert "does not start with df00044c" in capsys.readouterr().err
    assert served == [entry.url] and not pt.zoo_path("ideepcolor:siggraph17").exists()  # nothing left behind

    good = b"the released bytes"  # a download that passed _download's prefix check
    monkeypatch.setattr(weights, "_download", lambda url, dest, timeout: dest.write_bytes(good) and dest)
    assert main(["weights", "fetch", "ideepcolor:siggraph17"]) == 0
    path = pt.zoo_path("ideepcolor:siggraph17")
    assert path.read_bytes() == good
    assert path.with_name(path.name + ".sha256").read_text().split()[0] == hashlib.sha256(good).hexdigest()


def test_eccv16_whose_decode_layer_is_not_our_bins_is_refused(caches):
    from colorbench import ab_bins

    shapes = fixture("cic-eccv16.keys")["keys"]
    shuffled = (ab_bins.bin_centres().flip(0) / 110).T.reshape(2, 313, 1, 1)  # the bins in another order
    write_release(pt.zoo_path("cic:eccv16"), shapes, replace={"model_out.weight": shuffled})
    with pytest.raises(UserError, match="bin centres differ from ours"):
        pt.load_zoo("cic:eccv16")

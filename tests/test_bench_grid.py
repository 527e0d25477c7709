"""Profiles, grid expansion, cell hashing and shards of `colorbench bench` (fake methods, no training)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from colorbench import registry
from colorbench import _atomic as atomic
from colorbench.bench import grid, profiles
from colorbench.errors import UserError
from colorbench.method import Method


@dataclasses.dataclass
class _Cfg:
    lr: float = 1e-3
    depth: int = 5


class _Fake(Method):
    Config = _Cfg
    variants = {"default": {}, "deep": {"depth": 10}}


@pytest.fixture
def fakes(monkeypatch):
    """Two registered fake methods, removed again after the test (the registry is global)."""
    registry.discover()
    for name in ("fake_a", "fake_b"):
        cls = type(f"Fake_{name}", (_Fake,), {})
        cls.name, cls.description, cls.source = name, "fake", "test"
        monkeypatch.setitem(registry._REGISTRY, name, cls)
    return ["fake_a", "fake_b"]


def profile(**kw):
    raw = {"datasets": ["synthetic"], "methods": ["fake_a", "fake_b"], "baselines": [], "seeds": 2,
           "train": {"steps": 3}}
    raw.update(kw)
    return profiles.parse_profile(raw, name="t")


def test_shipped_profiles_parse():
    for name in ("smoke", "quick", "ablations", "runtime", "paper"):
        p = profiles.load_profile(name)
        assert p.name == name and p.description
    q = profiles.load_profile("quick")
    assert q.datasets == ["openphotos"] and q.methods == ["*"] and q.seeds == 5 and q.jobs == 2
    assert q["train"]["flops"] > 0  # equal training compute: every trained method the same FLOPs
    assert q["runtime"]["sizes"] == ["256x256", "750x500"] and q["runtime"]["repeats"] >= 5
    assert profiles.load_profile("runtime")["runtime"]["sizes"][-1] == "6000x4000"


def test_profile_errors_name_the_key():
    with pytest.raises(UserError, match="unknown key.*stepz"):
        profiles.parse_profile({"train": {"stepz": 3}}, name="x")
    with pytest.raises(UserError, match="unknown profile 'nope'.*quick"):
        profiles.load_profile("nope")


def test_set_splits_profile_and_method_values():
    p, glob, per = profiles.apply_profile_sets(profile(), ["train.steps=7", "fake_a.lr=0.5", "depth=3",
                                                         "per_method.fake_b.steps=2"])
    assert p.per_method == {"fake_b": {"steps": 2}}
    assert p["train"]["steps"] == 7 and glob == {"depth": "3"} and per == {"fake_a": {"lr": "0.5"}}
    with pytest.raises(UserError, match=r"\[train\] has no key 'stepz'"):
        profiles.apply_profile_sets(profile(), ["train.stepz=1"])


def test_grid_is_methods_x_variants_x_datasets_x_seeds(fakes):
    cells = [c for c in grid.expand(profile(variants={"fake_a": "*"})) if c.kind == "train"]
    got = sorted((c.method, c.variant, c.seed) for c in cells)
    assert got == sorted([("fake_a", "deep", 0), ("fake_a", "deep", 1), ("fake_a", "default", 0),
                          ("fake_a", "default", 1), ("fake_b", "default", 0), ("fake_b", "default", 1)])
    assert len({c.key for c in cells}) == len(cells)
    deep = next(c for c in cells if c.variant == "deep")
    assert deep.settings["run"]["config"]["depth"] == 10


def test_a_variant_has_its_own_budget_data_and_config(fakes):
    """per_method.NAME.variants.VARIANT overrides the method's settings for that variant only (a paper's variant
    trained on another dataset, at another crop and length), its config merged into the method's."""
    pm = {"fake_a": {"steps": 4, "size": 32, "datasets": ["synthetic"], "config": {"lr": 0.5},
                     "variants": {"deep": {"steps": 9, "size": 16, "datasets": ["sample"], "config": {"depth": 7}}}}}
    cells = [c for c in grid.expand(profile(datasets=["synthetic", "sample"], methods=["fake_a"], seeds=1,
                                            variants={"fake_a": "*"}, per_method=pm)) if c.kind == "train"]
    got = {(c.variant, c.dataset): c.settings for c in cells}
    assert sorted(got) == [("deep", "sample"), ("default", "synthetic")]
    default, deep = got["default", "synthetic"], got["deep", "sample"]
    assert (default["train"]["steps"], default["data"]["size"]) == (4, 32)
    assert (default["run"]["config"]["lr"], default["run"]["config"]["depth"]) == (0.5, 5)
    assert (deep["train"]["steps"], deep["data"]["size"]) == (9, 16)
    assert (deep["run"]["config"]["lr"], deep["run"]["config"]["depth"]) == (0.5, 7)
    with pytest.raises(UserError, match=r"per_method.fake_a.variants.deep: unknown key\(s\) stepz"):
        profiles.check_profile(profile(per_method={"fake_a": {"variants": {"deep": {"stepz": 1}}}}))
    with pytest.raises(UserError, match=r"per_method.fake_a: unknown key\(s\) epoch;"):
        profiles.check_profile(profile(per_method={"fake_a": {"epoch": 1}}))


def test_set_reaches_variant_tables_and_a_misspelt_variant_is_refused(fakes):
    pm = {"fake_a": {"steps": 4, "variants": {"deep": {"steps": 9}}}}
    p, _, _ = profiles.apply_profile_sets(profile(methods=["fake_a"], seeds=1, variants={"fake_a": "*"},
                                                  per_method=pm), ["per_method.fake_a.steps=2"])
    steps = {c.variant: c.settings["train"]["steps"] for c in grid.expand(p) if c.kind == "train"}
    assert steps == {"default": 2, "deep": 2}  # the command line wins over the profile's variant table
    p, _, _ = profiles.apply_profile_sets(p, ["per_method.fake_a.variants.deep.steps=7"])
    steps = {c.variant: c.settings["train"]["steps"] for c in grid.expand(p) if c.kind == "train"}
    assert steps == {"default": 2, "deep": 7}
    with pytest.raises(UserError, match="expected per_method.METHOD.KEY=VALUE"):
        profiles.apply_profile_sets(p, ["per_method.fake_a.variants.steps=7"])
    typo = profile(methods=["fake_a"], per_method={"fake_a": {"variants": {"depp": {"steps": 1}}}})
    with pytest.raises(UserError, match=r"per_method.fake_a.variants.depp: fake_a declares no variant 'depp'"):
        grid.expand(typo)


def test_paper_grid_pairs_tarres_unet_with_her_data():
    cells = {c.label: c for c in grid.expand(profiles.load_profile("paper")) if c.kind == "train"}
    kth, tarres = cells["unet_l1[code] on cifar10_kth seed 0"], cells["unet_l1[tarres] on imagenet_val_subset seed 0"]
    assert (kth.settings["data"]["size"], kth.settings["train"]["batch_size"]) == (32, 128)
    assert (tarres.settings["data"]["size"], tarres.settings["train"]["batch_size"]) == (256, 16)
    assert not any(label.startswith("unet_l1[tarres] on cifar10") for label in cells)


def test_paper_grid_runs_the_configurations_behind_the_published_rows():
    """The reference code's settings where it differs from the text (C2F's generator target, the KTH code's 300
    GAN epochs); pix2pix at the 23 epochs of the other rows of Tarrés' tables (71,875 steps of batch 16)."""
    cells = {c.label: c for c in grid.expand(profiles.load_profile("paper")) if c.kind == "train"}
    c2f, text = cells["c2f on coco_sample seed 0"], cells["c2f[paper_target] on coco_sample seed 0"]
    assert c2f.settings["run"]["config"]["gan_target"] == "fake"
    assert text.settings["run"]["config"]["gan_target"] == "real"
    assert cells["vacgan[code] on cifar10_kth seed 0"].settings["train"]["epochs"] == 300
    assert cells["vacgan[dcgan_code] on cifar10_kth seed 0"].settings["train"]["epochs"] == 300
    assert cells["vacgan[dcgan] on cifar10_kth seed 0"].settings["train"]["epochs"] == 200
    p2p = cells["pix2pix on imagenet_val_subset seed 0"]
    assert p2p.settings["train"]["epochs"] == cells["gorriz on imagenet_val_subset seed 0"].settings["train"]["epochs"]
    config = p2p.settings["run"]["config"]
    assert config["lr_constant_steps"] + config["lr_decay_steps"] == 23 * 50_000 // 16
    assert cells["cic[code] on imagenet_val_subset seed 0"].settings["data"]["size"] == 176


def test_an_unknown_variant_or_method_in_a_profile_is_an_error_naming_the_closest(fakes):
    # a typo must not shrink the grid quietly: a variant, a method, and both in runtime.extra
    with pytest.raises(UserError, match=r"profile .*: unknown variant of fake_a 'defualt'\. Did you mean 'default'"):
        grid.expand(profile(methods=["fake_a"], variants={"fake_a": ["default", "defualt"]}, seeds=1))
    with pytest.raises(UserError, match=r"profile .*: unknown method 'fake_aa'\. Did you mean 'fake_a'"):
        grid.expand(profile(methods=["fake_a", "fake_aa"], seeds=1))
    with pytest.raises(UserError, match=r"runtime\.extra: unknown variant of fake_a 'nope'"):
        grid.expand(profile(methods=["fake_a"], seeds=1,
                            runtime={"extra": [{"method": "fake_a", "variants": ["nope"]}]}))
    with pytest.raises(UserError, match=r"runtime\.extra: unknown method 'fake_b_'\. Did you mean 'fake_b'"):
        grid.expand(profile(methods=["fake_a"], seeds=1, runtime={"extra": [{"method": "fake_b_"}]}))


def test_key_is_stable_and_changes_with_what_makes_the_result(fakes):
    def keys(cells):
        return {c.label: c.key for c in cells if c.kind == "train"}

    base = keys(grid.expand(profile()))
    assert base == keys(grid.expand(profile()))
    more_steps = keys(grid.expand(profile(train={"steps": 4})))
    other_cfg = keys(grid.expand(profile(), global_cfg={"lr": "0.1"}))
    for other in (more_steps, other_cfg):
        assert set(other) == set(base) and not set(other.values()) & set(base.values())
    only_a = grid.expand(profile(), per_method_cfg={"fake_a": {"depth": "2"}})
    changed = {c.label for c in only_a if c.kind == "train" and base[c.label] != c.key}
    assert changed == {lab for lab in base if lab.startswith("fake_a")}


def test_key_changes_with_the_method_source(fakes, monkeypatch, tmp_path):
    from colorbench import fingerprint

    fingerprint.clear_caches()
    before = grid.expand(profile(seeds=1))[0].key
    src = tmp_path / "m.py"
    src.write_text("SCALE = 1\n")
    monkeypatch.setattr(fingerprint, "code_files", lambda name: {name: src})
    fingerprint.clear_caches()
    first = grid.expand(profile(seeds=1))[0].key
    src.write_text("SCALE = 1  # a comment changes nothing\n")
    fingerprint.clear_caches()
    assert first != before and grid.expand(profile(seeds=1))[0].key == first
    src.write_text("SCALE = 2\n")
    fingerprint.clear_caches()
    assert grid.expand(profile(seeds=1))[0].key != first
    fingerprint.clear_caches()


def test_shards_partition_the_grid(fakes):
    cells = grid.expand(profile(seeds=3, variants={"fake_a": "*"}))
    parts = [grid.shard(cells, f"{i}/3") for i in (1, 2, 3)]
    keys = [c.key for part in parts for c in part]
    assert sorted(keys) == sorted(c.key for c in cells) and len(set(keys)) == len(keys)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    for bad in ("0/3", "4/3", "a/b"):
        with pytest.raises(UserError):
            grid.shard(cells, bad)


def test_unknown_set_key_is_a_user_error(fakes):
    with pytest.raises(UserError, match="no selected method has a config field 'lrr'"):
        grid.expand(profile(), global_cfg={"lrr": "1"})


def test_atomic_writes_leave_no_temp_files(tmp_path):
    atomic.write_json(tmp_path / "a" / "row.json", {"x": 1.5, "p": Path("q")})
    atomic.write_csv(tmp_path / "a" / "m.csv", [{"a": 1, "b": [1, 2]}, {"a": 2, "c": "z"}])
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["m.csv", "row.json"]
    assert json.loads((tmp_path / "a" / "row.json").read_text()) == {"p": "q", "x": 1.5}
    assert (tmp_path / "a" / "m.csv").read_text().splitlines() == ["a,b,c", '1,"[1, 2]",', "2,,z"]


def test_cli_user_errors_are_one_line_exit_2(capsys):
    from colorbench.cli import main

    assert main(["bench", "--profile", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown profile 'nope'" in err[0]
    assert main(["bench", "--profile", "smoke", "--shard", "3/2"]) == 2
    assert "--shard '3/2'" in capsys.readouterr().err


def test_training_set_config_enters_the_cell_key(monkeypatch):
    """Method.data_config (cic's cached prior) is merged into each cell's config, so its hash is in the key."""
    from colorbench import ab_bins

    q = profiles.load_profile("quick")
    cells = [c for c in grid.expand(q, methods=["cic"], seeds=1) if c.kind == "train" and c.method == "cic"]
    assert len(cells) == 1
    prior = ab_bins.prior_config(q.datasets[0], int(cells[0].settings["data"]["size"]))
    cfg = cells[0].settings["run"]["config"]
    assert (cfg["prior"], cfg["prior_sha"]) == (prior["prior"], prior["prior_sha"])
    monkeypatch.setattr(ab_bins, "prior_config", lambda *a, **k: {**prior, "prior_sha": "0" * 16})
    other = [c for c in grid.expand(q, methods=["cic"], seeds=1) if c.kind == "train" and c.method == "cic"]
    assert other[0].key != cells[0].key  # another prior, another cell

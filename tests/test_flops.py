"""Training compute (colorbench.train.flops): FLOP counts against hand counts, the per-phase step cost, its cache,
and the run lengths a FLOP budget gives a bench grid."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from torch import nn

from colorbench.bench import grid, profiles
from colorbench.errors import UserError
from colorbench.train import flops, resolve
from colorbench.train.flops import StepCost, count_flops, step_cost, step_flops


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """An empty FLOP cache (on disk and in this process)."""
    monkeypatch.setattr(flops, "FLOPS_DIR", tmp_path / "flops")
    monkeypatch.setattr(flops, "_MEMO", {})
    return tmp_path / "flops"


# ------------------------------------------------------------------------------------------ hand counts
def test_a_small_conv_net_step_counts_what_a_hand_count_gives():
    """Conv 1->4 (3x3, 'same') then Linear 256->3, batch 2 at 8x8; FLOPs are 2 per multiply-add."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3))
    x = torch.randn(2, 1, 8, 8)
    conv = 2 * 2 * 8 * 8 * 4 * 1 * 9  # batch x pixels x out x in x kernel
    linear = 2 * 2 * 256 * 3
    assert count_flops(net, x) == conv + linear == 12_288

    def step() -> None:
        net(x).square().mean().backward()

    # backward: the conv's weight gradient only (its input needs none), the linear's input and weight gradients
    assert count_flops(step) == (conv + linear) + conv + 2 * linear == 27_648


def test_matrix_vector_products_count_too():
    """FlopCounterMode has no formula for mv/dot; spectral norm's power iteration runs on them (one iteration in
    training mode: W^T u, W v, then sigma = u . (W v))."""
    assert count_flops(torch.mv, torch.randn(5, 7), torch.randn(7)) == 2 * 5 * 7
    assert count_flops(torch.dot, torch.randn(7), torch.randn(7)) == 2 * 7
    layer = nn.utils.parametrizations.spectral_norm(nn.Linear(7, 5))
    assert count_flops(layer, torch.randn(1, 7)) == 2 * 7 * 5 + 3 * (2 * 5 * 7) + 2 * 5 == 290


def test_step_flops_of_the_tiny_method_is_its_hand_count_and_cached(tiny, fresh):
    """The trainer tests' tiny method: conv 1->8 then conv 8->2 (3x3, 'same'), batch 4 at 16 px, one step."""
    spec = resolve("test_tiny", "synthetic", steps=5, size=16, batch_size=4)
    first = 2 * 4 * 16 * 16 * 8 * 1 * 9   # conv 1: forward; its backward is the weight gradient alone (the same)
    second = 2 * 4 * 16 * 16 * 2 * 8 * 9  # conv 2: forward, input gradient, weight gradient (each the same)
    rng = torch.get_rng_state()
    assert step_flops(spec) == 2 * first + 3 * second == 1_179_648
    assert torch.equal(torch.get_rng_state(), rng)  # the measurement leaves the caller's RNG alone
    files = list(fresh.glob("test_tiny-*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["phases"] == [[0, 1_179_648]]
    flops._MEMO.clear()
    files[0].write_text(json.dumps({"phases": [[0, 7]]}))  # read back from disk, not measured again
    assert step_flops(spec.replace(seed=3, steps=99)) == 7  # neither the seed nor the length is in the key
    assert step_flops(resolve("test_tiny", "synthetic", steps=5, size=16, batch_size=8)) == 2 * 1_179_648


@pytest.mark.parametrize("name", ["unet_l1", "pix2pix"])
def test_step_flops_of_real_methods_is_positive_and_the_same_measured_twice(name, fresh):
    from colorbench.registry import get_method

    spec = resolve(name, "synthetic", overrides=get_method(name).test_overrides, steps=3, size=16, batch_size=2)
    once = step_flops(spec)
    flops._MEMO.clear()
    for f in fresh.iterdir():
        f.unlink()
    assert once > 0 and step_flops(spec.replace(seed=7)) == once
    assert step_flops(resolve(name, "synthetic", overrides=get_method(name).test_overrides, steps=3, size=16,
                              batch_size=4)) == 2 * once  # every op here is linear in the batch


def test_c2f_steps_cost_more_once_its_gan_phase_starts(fresh):
    from colorbench.registry import get_method

    cls = get_method("c2f")
    spec = resolve("c2f", "synthetic", overrides={**cls.test_overrides, "pretrain_steps": 3}, steps=6, size=32,
                   batch_size=2)
    cost = step_cost(spec)
    assert [s for s, _ in cost.phases] == [0, 3]
    pre, gan = cost.at(0), cost.at(3)
    assert 0 < pre < gan and cost.at(2) == pre and cost.at(100) == gan
    assert cost.total(6) == 3 * pre + 3 * gan


# --------------------------------------------------------------------------------------------- StepCost
def test_a_budget_gives_round_budget_over_step_flops_steps():
    cost = StepCost(((0, 1000),))
    assert [cost.steps_for(b) for b in (10, 499, 501, 2_400, 1e6)] == [1, 1, 1, 2, 1000]
    assert cost.curve_steps(10, 4) == [3, 5, 8, 10] and cost.curve_steps(2, 4) == [1, 2]


def test_a_two_phase_cost_spends_its_budget_phase_by_phase():
    cost = StepCost(((0, 10), (5, 30)))  # 5 cheap steps, then dear ones
    assert cost.total(3) == 30 and cost.total(8) == 5 * 10 + 3 * 30 == 140
    assert cost.steps_for(140) == 8 and cost.steps_for(30) == 3 and cost.steps_for(50) == 5
    assert cost.curve_steps(8, 4) == [4, 6, 7, 8]  # first step counts reaching 35, 70, 105, 140 FLOPs


def test_free_steps_cannot_spend_a_budget():
    free = StepCost(((0, 0),))
    assert free.steps_for(1e12) is None and free.curve_steps(9, 3) == [3, 6, 9]


# ------------------------------------------------------------------------------------------------- grid
def _profile(**train):
    raw = {"datasets": ["synthetic"], "methods": ["unet_l1", "pix2pix"], "baselines": ["gray", "mean_color"],
           "seeds": 2, "data": {"size": 16}, "eval": {"curve_points": 3},
           "train": {"batch_size": 2, "use_test_overrides": True, **train}}
    p = profiles.parse_profile(raw, name="t")
    profiles.check_profile(p)
    return p


def _steps(cells):
    return {(c.method, c.seed): c.settings["run"]["steps"] for c in cells if c.kind == "train"}


def test_a_flops_profile_derives_each_methods_steps_from_its_step_flops(fresh):
    budget = 5e8
    cells = grid.expand(_profile(flops=budget, steps=4), threads=1)
    steps = _steps(cells)
    for c in cells:
        if c.kind == "train" and c.method in ("unet_l1", "pix2pix"):
            f = step_flops(c.spec())
            assert c.settings["run"]["steps"] == max(1, round(budget / f)) and c.settings["train"]["flops"] == budget
    assert steps[("unet_l1", 0)] == steps[("unet_l1", 1)] != steps[("pix2pix", 0)]
    assert steps[("mean_color", 0)] == 4  # its running sum counts no FLOPs: the profile's steps, no budget
    assert next(c for c in cells if c.method == "mean_color").settings["train"]["flops"] is None
    assert steps[("gray", 0)] == 0
    again = grid.expand(_profile(flops=budget, steps=4), threads=1)
    assert [c.key for c in again] == [c.key for c in cells]


def test_per_method_length_or_budget_wins_over_the_profiles(fresh):
    p = _profile(flops=5e8)
    p.per_method = {"unet_l1": {"steps": 7}, "pix2pix": {"flops": 1e9}}
    profiles.check_profile(p)
    cells = grid.expand(p, threads=1)
    pix = next(c for c in cells if c.method == "pix2pix" and c.kind == "train")
    assert _steps(cells)[("unet_l1", 0)] == 7
    assert pix.settings["run"]["steps"] == max(1, round(1e9 / step_flops(pix.spec())))
    p.per_method = {"unet_l1": {"steps": 7, "flops": 1e9}}
    with pytest.raises(UserError, match="per_method.unet_l1: steps and flops: give one length"):
        profiles.check_profile(p)


def test_a_steps_profile_trains_its_steps_and_measures_nothing(monkeypatch, fresh):
    def refuse(spec):
        raise AssertionError("a steps profile measured FLOPs")

    monkeypatch.setattr(flops, "step_cost", refuse)
    cells = grid.expand(_profile(steps=4), threads=1)
    assert set(_steps(cells).values()) == {0, 4}
    assert all(c.settings["train"]["flops"] is None for c in cells if c.kind == "train")


def test_flops_are_checked_and_a_command_line_length_replaces_them():
    with pytest.raises(UserError, match=r"train.flops -3: expected a number above 0"):
        _profile(flops=-3)
    with pytest.raises(UserError, match=r"train.flops 'lots'"):
        _profile(flops="lots")
    p, _, _ = profiles.apply_profile_sets(_profile(flops=5e8), ["train.steps=9"])
    assert p["train"]["flops"] is None and p["train"]["steps"] == 9
    q = _profile(flops=5e8)
    q.per_method = {"unet_l1": {"flops": 1e9}}
    q, _, _ = profiles.apply_profile_sets(q, ["per_method.unet_l1.steps=3"])
    assert q.per_method["unet_l1"] == {"steps": 3}


def test_cell_keys_are_the_same_in_another_process_with_or_without_the_disk_cache(fresh, tmp_path):
    """The FLOP figure behind a derived length is an integer of the spec and the code: a process that measures it
    and one that reads it from disk make the same keys."""
    code = f"""
import json, sys
from pathlib import Path
from colorbench import numeric
try:
    numeric.apply("portable")
except numeric.UnsupportedCPU:  # a non-Intel CPU without a C compiler for MKL's vendor shim
    numeric.relax()
from colorbench.bench import grid, profiles
from colorbench.train import flops
flops.FLOPS_DIR = Path({str(fresh)!r})
raw = {{"datasets": ["synthetic"], "methods": ["unet_l1"], "baselines": ["mean_color"], "seeds": 1,
       "data": {{"size": 16}}, "train": {{"batch_size": 2, "use_test_overrides": True, "flops": 5e8}}}}
cells = grid.expand(profiles.parse_profile(raw, name="t"), threads=1)
print(json.dumps(sorted((c.label, c.key) for c in cells)))
"""
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert runs[0] == runs[1] and len(json.loads(runs[0])) == 4  # measured (empty cache), then read from disk
    assert len(list(fresh.glob("unet_l1-*.json"))) == 1

"""A run resolved once (colorbench.train.resolve -> RunSpec): the registry once, the size rule once, the config once,
the training-set hook once; train() looks nothing up by name; a bench cell runs from its spec."""
from __future__ import annotations

import dataclasses

import pytest

from colorbench import registry
from colorbench.bench import grid
from colorbench.bench.profiles import load_profile
from colorbench.errors import UserError
from colorbench.train import RunSpec, resolve, train
from colorbench.train import spec as spec_module


@dataclasses.dataclass
class _Config:
    image_size: int = 64
    batch_size: int = 32
    width: int = 8
    prior: str = ""


class _Hooked(registry.Method):
    Config = _Config
    variants = {"default": {}, "wide": {"width": 16}}
    calls: list[tuple[str, int]] = []

    @classmethod
    def data_config(cls, config, dataset, *, size, data_options=None):
        cls.calls.append((dataset, size))
        return {"prior": f"prior-of-{dataset}-{size}"}

    def train_step(self, batch, step):
        return {}

    def predict(self, L):
        return L.repeat(1, 2, 1, 1) * 0


@pytest.fixture
def hooked(clean_registry):
    _Hooked.calls = []
    registry.register_method("spec_hooked", description="a method with a training-set hook", source="tests")(_Hooked)
    return _Hooked


def test_resolve_applies_the_size_rule_and_the_hook_once(hooked):
    run = resolve("spec_hooked", "synthetic", variant="wide", size=32, batch_size=4, seed=3)
    assert (run.method, run.size, run.batch_size, run.seed) == (hooked, 32, 4, 3)
    assert (run.config.image_size, run.config.batch_size, run.config.width) == (32, 4, 16)
    assert run.config.prior == "prior-of-synthetic-32" and hooked.calls == [("synthetic", 32)]
    assert run.overrides == {"prior": "prior-of-synthetic-32", "image_size": 32, "batch_size": 4}
    # a value the caller set wins over the hook's; the config's own crop and batch when none is given
    own = resolve(hooked, "synthetic", overrides={"prior": "mine", "image_size": 48})
    assert (own.config.prior, own.size, own.batch_size) == ("mine", 48, 32)
    assert resolve(hooked).size == 64 and len(hooked.calls) == 2  # no dataset: no hook


def test_spec_round_trips_and_refuses_to_change_what_shaped_its_config(hooked):
    run = resolve("spec_hooked", "synthetic", size=32, steps=5)
    again = RunSpec.from_dict(run.as_dict())
    assert again == run and len(hooked.calls) == 1  # rebuilt, not resolved again
    assert run.replace(seed=7, steps=9).settings.seed == 7
    with pytest.raises(UserError, match="size shaped the resolved config"):
        run.replace(size=16)
    with pytest.raises(TypeError, match="RunSpec"):
        train("spec_hooked", "synthetic", steps=1)


def test_a_cell_visits_the_registry_once_and_builds_no_config(monkeypatch, tmp_path):
    """A cell sent to another process (its spec rebuilt from settings['run']) looks its method up once and builds no
    config: the resolved one travels with it."""
    from colorbench.bench.cell import run_cell
    from colorbench.train.distributed import resolve_device

    cell = next(c for c in grid.expand(load_profile("smoke"), methods=["unet_l1"]) if c.method == "unet_l1")
    grid._SPECS.clear()  # as in a spawned process
    lookups, builds = [], []
    real_get = registry.get_method
    monkeypatch.setattr(registry, "get_method", lambda name: lookups.append(name) or real_get(name))
    monkeypatch.setattr(spec_module, "build_config", lambda *a, **k: builds.append(a) or None)
    row, computed = run_cell(cell, tmp_path, resolve_device("cpu"), progress=False)
    assert computed and row["status"] == "ok", row.get("error")
    assert lookups == ["unet_l1"] and builds == []

"""The registry: discovery by folder and entry point, broken files reported, names suggested, --set coercion."""
from __future__ import annotations

import dataclasses
import importlib.metadata
import textwrap
from typing import Literal

import pytest

import colorbench
from colorbench import registry
from colorbench.errors import UserError
from colorbench.method import Method

GOOD = textwrap.dedent('''
    import dataclasses
    import torch
    from colorbench.method import Method
    from colorbench.registry import register_method

    @dataclasses.dataclass
    class Config:
        width: int = 4

    @register_method("{name}", description="dropped-in test method", source="tests")
    class Dropped(Method):
        Config = Config

        def predict(self, L):
            return torch.zeros(L.shape[0], 2, *L.shape[-2:])
''')


def test_file_dropped_into_methods_path_is_found(clean_registry, tmp_path, monkeypatch):
    (tmp_path / "dropped.py").write_text(GOOD.format(name="dropped_in"))
    monkeypatch.setenv("COLORBENCH_METHODS_PATH", str(tmp_path))
    registry.discover(force=True)
    assert "dropped_in" in colorbench.list_methods()
    m = colorbench.create_method("dropped_in", width=7)
    assert m.config.width == 7 and m.name == "dropped_in" and m.source == "tests"


def test_broken_file_is_reported_and_the_others_still_load(clean_registry, tmp_path, monkeypatch):
    (tmp_path / "a_broken.py").write_text("import colorbench\nraise ImportError('needs a package that is missing')\n")
    (tmp_path / "b_good.py").write_text(GOOD.format(name="still_loads"))
    monkeypatch.setenv("COLORBENCH_METHODS_PATH", str(tmp_path))
    with pytest.warns(UserWarning, match="a_broken.py"):
        registry.discover(force=True)
    errors = registry.load_errors()
    assert any(k.endswith("a_broken.py") and "needs a package that is missing" in v for k, v in errors.items())
    assert "still_loads" in registry.list_methods()


def test_entry_point_group_is_loaded(clean_registry, tmp_path, monkeypatch):
    (tmp_path / "cb_ep_pkg.py").write_text(GOOD.format(name="from_entry_point"))
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [importlib.metadata.EntryPoint(name="mine", value="cb_ep_pkg:Dropped", group="colorbench.methods"),
           importlib.metadata.EntryPoint(name="gone", value="cb_ep_missing:X", group="colorbench.methods")]
    real = importlib.metadata.entry_points

    def fake(**kw):
        return eps if kw.get("group") == "colorbench.methods" else real(**kw)

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)
    with pytest.warns(UserWarning, match="entry point gone"):
        registry.discover(force=True)
    assert "from_entry_point" in registry.list_methods()
    assert any(k.startswith("entry point gone") for k in registry.load_errors())


@dataclasses.dataclass
class _Cfg:
    lr: float = 1e-3
    flag: bool = True
    betas: tuple[float, float] = (0.5, 0.999)
    norm: Literal["batch", "instance"] = "batch"
    levels: int | None = None


class _M(Method):
    Config = _Cfg
    variants = {"default": {}, "inst": {"norm": "instance"}}

    def predict(self, L):
        return L.new_zeros(L.shape[0], 2, *L.shape[-2:])


def test_set_strings_are_coerced_to_field_types():
    cfg = registry.build_config(_M, {"lr": "2e-4", "flag": "off", "betas": "0.9,0.99", "levels": "none"}, "inst")
    assert cfg == _Cfg(lr=2e-4, flag=False, betas=(0.9, 0.99), norm="instance", levels=None)
    assert registry.build_config(_M, {"levels": "3"}).levels == 3
    with pytest.raises(ValueError, match="must be one of batch, instance"):
        registry.build_config(_M, {"norm": "group"})
    with pytest.raises(ValueError, match="expected true or false"):
        registry.build_config(_M, {"flag": "maybe"})


def test_typo_in_a_key_or_variant_lists_the_valid_ones():
    _M.name = "m"
    with pytest.raises(UserError) as err:
        registry.build_config(_M, {"lrr": "1"})
    assert "Did you mean 'lr'" in str(err.value) and "betas, flag, levels, lr, norm" in str(err.value)
    with pytest.raises(UserError, match="'inst'"):
        registry.build_config(_M, {}, variant="insta")


def test_register_checks_what_it_decorates(clean_registry):
    with pytest.raises(TypeError, match="subclass of colorbench.Method"):
        registry.register_method("x_not_method", description="", source="")(object)

    class Other(_M):
        pass

    registry.register_method("x_twice", description="", source="")(_M)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register_method("x_twice", description="", source="")(Other)


def test_unknown_method_suggests_the_closest(clean_registry):
    registry.register_method("dropped_in", description="", source="")(_M)
    with pytest.raises(UserError) as err:
        registry.get_method("droped_in")
    assert "Did you mean 'dropped_in'" in str(err.value) and "Valid: " in str(err.value)
    assert isinstance(err.value, KeyError)  # callers catching KeyError keep working


def test_methods_path_rules_several_folders_no_sub_folders_unique_names(clean_registry, tmp_path, monkeypatch):
    """COLORBENCH_METHODS_PATH as docs/adding-a-method.md states it: folders joined by os.pathsep, top-level .py files
    only, `_` files and empty entries skipped, a repeated file name skipped with a warning."""
    import os

    a, b, deep = tmp_path / "a", tmp_path / "b", tmp_path / "b" / "sub"
    deep.mkdir(parents=True)
    a.mkdir()
    (a / "one.py").write_text(GOOD.format(name="rule_one"))
    (a / "_private.py").write_text(GOOD.format(name="rule_private"))
    (b / "two.py").write_text(GOOD.format(name="rule_two"))
    (b / "one.py").write_text(GOOD.format(name="rule_one_again"))
    (deep / "three.py").write_text(GOOD.format(name="rule_three"))
    monkeypatch.setenv("COLORBENCH_METHODS_PATH", os.pathsep.join([str(a), "", str(b), str(tmp_path / "missing")]))
    with pytest.warns(UserWarning, match="same file name"):
        registry.discover(force=True)
    names = set(registry.list_methods())
    assert {"rule_one", "rule_two"} <= names
    assert not names & {"rule_private", "rule_three", "rule_one_again"}
    assert registry.method_origin("rule_two")["folder"] == str(b.resolve())

"""The contract owns inference mode: ``Method.colorize`` (no gradients, eval mode, the method's device) wraps every
method's ``predict`` and leaves the module exactly as it found it; registration refuses a class that breaks the
contract, with one line naming the fix."""
from __future__ import annotations

import dataclasses

import pytest
import torch

import colorbench
from colorbench import registry
from colorbench.conformance import colorize_changes_nothing
from colorbench.method import Method
from colorbench.registry import MethodContractError, build_config, get_method

METHODS = colorbench.list_methods()
pytestmark = pytest.mark.timeout(300)


def _build(name: str) -> Method:
    cls = get_method(name)
    torch.manual_seed(0)
    return cls(build_config(cls, cls.test_overrides), num_classes=10)


def _L(seed: int = 0) -> torch.Tensor:
    return torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("mode", ["train", "mixed"])
def test_colorize_leaves_buffers_parameters_and_modes_as_they_were(name, mode):
    """Untrained, in train mode or a mix (first child in eval): the conformance check, which names what changed."""
    colorize_changes_nothing(_build(name), mode)


@pytest.mark.parametrize("name", METHODS)
def test_colorize_is_the_same_whatever_mode_the_caller_left(name):
    method = _build(name)
    torch.manual_seed(0)  # a method may sample noise in predict
    in_eval = method.eval().colorize(_L(1))
    torch.manual_seed(0)
    in_train = method.train().colorize(_L(1))
    assert torch.equal(in_eval, in_train), f"{name}: colorize depends on the caller's train/eval mode"


def test_c2f_batch_statistics_at_inference_still_use_the_batch():
    """C2F's declared exception (inference_norm = "batch"): a photo's output depends on the batch it is in, and the
    running buffers stay unchanged; with "running" it does not depend on the batch."""
    if "c2f" not in METHODS:
        pytest.skip("c2f is not registered")
    method = _build("c2f")
    assert method.inference_norm == "batch"
    L = _L(2)
    alone, together = method.colorize(L[:1]), method.colorize(torch.cat([L[:1], -L[1:]]))[:1]
    assert not torch.allclose(alone, together)
    method.config = dataclasses.replace(method.config, inference_norm="running")
    alone, together = method.colorize(L[:1]), method.colorize(torch.cat([L[:1], -L[1:]]))[:1]
    torch.testing.assert_close(alone, together, rtol=1e-4, atol=1e-5)


@dataclasses.dataclass
class _Cfg:
    width: int = 4


def _zeros(self, L):
    return torch.zeros(L.shape[0], 2, *L.shape[-2:])


@pytest.mark.parametrize("body, message", [
    ({"Config": _Cfg, "variants": {"paper": {}}, "predict": _zeros}, "no 'default' entry"),
    ({"Config": type("NotADataclass", (), {}), "predict": _zeros}, "Config must be a dataclass"),
    ({"Config": _Cfg, "variants": {"default": {"widht": 2}}, "predict": _zeros}, "sets widht, not fields"),
    ({"Config": _Cfg, "colorize": _zeros}, "overrides colorize; rename it to predict"),
    ({"Config": _Cfg}, "has no predict"),
])
def test_registration_checks_the_contract_in_one_line(body, message):
    cls = type("Broken", (Method,), body)
    with pytest.raises(MethodContractError, match=message) as err:
        registry.register_method("x_broken", description="", source="")(cls)
    assert "\n" not in str(err.value) and "x_broken" in str(err.value)
    assert "x_broken" not in registry._REGISTRY


class _WrongSize(Method):
    Config = _Cfg
    test_overrides = {"width": 2}

    def train_step(self, batch, step):
        return {"loss": 0.0}

    def predict(self, L):
        return torch.zeros(L.shape[0], 2, 8, 8)  # breaks the contract: not the input's H×W


def test_check_method_names_the_failing_check_and_exits_1(capsys, tmp_path, monkeypatch):
    from colorbench import cli

    monkeypatch.chdir(tmp_path)
    registry.register_method("x_wrong_size", description="", source="tests")(_WrongSize)
    try:
        code = cli.main(["check-method", "x_wrong_size", "--checks", "colorize_keeps_size", "five_steps_without_nan"])
    finally:
        registry._REGISTRY.pop("x_wrong_size", None)
    out = capsys.readouterr()
    assert code == 1 and "1 check(s) failed" in out.err
    line = next(x for x in out.out.splitlines() if "colorize_keeps_size" in x)
    assert line.split()[0] == "failed" and "(1, 2, 8, 8)" in line
    assert next(x for x in out.out.splitlines() if "five_steps_without_nan" in x).split()[0] == "passed"
    assert list(tmp_path.iterdir()) == []  # nothing written where it ran (no pytest cache, no runs)
    assert cli.main(["check-method", "x_no_such_method"]) == 2
    assert "unknown method 'x_no_such_method'" in capsys.readouterr().err

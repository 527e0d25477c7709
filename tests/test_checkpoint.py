"""Checkpoints: round trip, config rebuild, atomic replacement, weights_only loading, one-line errors."""
from __future__ import annotations

import json
import os

import pytest
import torch

from colorbench import checkpoint as ckpt
from colorbench.errors import UserError
from colorbench.registry import create_method
from trainer_support import TinyData, max_diff, weights


def _trained(steps: int = 3, **overrides):
    torch.manual_seed(0)
    m = create_method("test_tiny", **overrides)
    data = TinyData()
    batch = {k: torch.stack([data[i][k] for i in range(8)]) if k != "index" else torch.arange(8) for k in ("L", "ab")}
    for s in range(steps):
        m.train_step(batch, s)
    return m


def test_round_trip_rebuilds_method_config_and_outputs(tiny, tmp_path):
    m = _trained(width=6, kernel=(3, 1))
    path = ckpt.save_checkpoint(tmp_path / "c", m, 3, info={"variant": "default", "dataset": "tiny", "seed": 0})
    loaded = ckpt.load_method(path)
    assert loaded.config == m.config and isinstance(loaded.config.kernel, tuple)  # JSON lists back to tuples
    assert max_diff(weights(m), weights(loaded)) == 0.0
    L = torch.rand(1, 1, 37, 53) * 2 - 1
    assert torch.equal(m.eval().colorize(L), loaded.colorize(L))
    # the optimiser state came back too
    a, b = m.opt.state_dict(), loaded.opt.state_dict()
    assert all(torch.equal(a["state"][k]["exp_avg"], b["state"][k]["exp_avg"]) for k in a["state"])
    record = json.loads((path / "config.json").read_text())
    assert record["method"] == "test_tiny" and record["step"] == 3 and record["dataset"] == "tiny"
    assert record["config"]["width"] == 6 and record["versions"]["torch"] == torch.__version__
    assert "git_commit" in record and "pretrained" in record


def test_training_state_reads_with_weights_only(tiny, tmp_path):
    m = _trained()
    path = ckpt.save_checkpoint(tmp_path / "c", m, 3, rng=torch.get_rng_state(), train_seconds=1.5)
    state = torch.load(path / "train_state.pt", weights_only=True)
    assert state["step"] == 3 and state["train_seconds"] == 1.5 and "opt" in state["optimizers"]


def test_overwrite_is_whole_and_leaves_no_temporaries(tiny, tmp_path):
    m = _trained(1)
    ckpt.save_checkpoint(tmp_path / "c", m, 1)
    m2 = _trained(4)
    ckpt.save_checkpoint(tmp_path / "c", m2, 4)
    assert ckpt.read_config(tmp_path / "c")["step"] == 4
    assert max_diff(weights(ckpt.load_method(tmp_path / "c")), weights(m2)) == 0.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]


def test_resolve_accepts_run_folder_checkpoint_folder_or_file(tiny, tmp_path):
    m = _trained(1)
    path = ckpt.save_checkpoint(tmp_path / "checkpoints" / "step_0000001", m, 1)
    ckpt.mark_last(tmp_path, path)
    assert ckpt.resolve(tmp_path) == path
    assert ckpt.resolve(path) == path
    assert ckpt.resolve(path / "weights.safetensors") == path


@pytest.mark.parametrize("damage", ["missing", "empty_run", "truncated_weights", "garbled_config", "garbled_state"])
def test_missing_or_corrupt_checkpoint_is_one_line_user_error(tiny, tmp_path, damage):
    path = ckpt.save_checkpoint(tmp_path / "c", _trained(1), 1)
    target = tmp_path / "c"
    if damage == "missing":
        target = tmp_path / "nope"
    elif damage == "empty_run":
        target = tmp_path / "run"
        target.mkdir()
    elif damage == "truncated_weights":
        data = (path / "weights.safetensors").read_bytes()
        (path / "weights.safetensors").write_bytes(data[: len(data) // 2])
    elif damage == "garbled_config":
        (path / "config.json").write_text("{not json")
    else:
        (path / "train_state.pt").write_bytes(b"\x00garbage")
    with pytest.raises(UserError) as err:
        ckpt.load_method(target)
    assert "\n" not in str(err.value) and ("corrupt" in str(err.value) or "does not exist" in str(err.value)
                                           or "no checkpoint" in str(err.value))


def test_unknown_method_in_checkpoint_suggests_the_closest(tiny, tmp_path):
    path = ckpt.save_checkpoint(tmp_path / "c", _trained(1), 1)
    record = json.loads((path / "config.json").read_text())
    record["method"] = "test_tiyn"
    (path / "config.json").write_text(json.dumps(record))
    with pytest.raises(UserError, match="test_tiny"):
        ckpt.load_method(path)


def test_config_key_the_method_no_longer_has(tiny, tmp_path):
    path = ckpt.save_checkpoint(tmp_path / "c", _trained(1), 1)
    record = json.loads((path / "config.json").read_text())
    record["config"]["depth"] = 3
    (path / "config.json").write_text(json.dumps(record))
    with pytest.raises(UserError, match="depth"):
        ckpt.load_method(path)


@pytest.mark.slow
def test_weights_file_bytes_do_not_depend_on_the_process(tmp_path):
    """safetensors writes its metadata map in hash order (a resumed DDP run's final checkpoint differed from the
    uninterrupted one's in those bytes alone); the header is rewritten sorted, and the file still loads."""
    import subprocess
    import sys

    from safetensors import safe_open

    from colorbench.checkpoint import write_safetensors

    code = ("import sys, torch; from colorbench.checkpoint import write_safetensors; "
            "write_safetensors({'b': torch.arange(3.0), 'a': torch.ones(2, 2)}, sys.argv[1], "
            "metadata={'step': '6', 'method': 'x', 'zeta': '1', 'alpha': '2'})")
    files = []
    for i, seed in enumerate(("1", "2", "3", "4")):
        path = tmp_path / f"w{i}.safetensors"
        subprocess.run([sys.executable, "-c", code, str(path)], check=True, env={**os.environ, "PYTHONHASHSEED": seed})
        files.append(path.read_bytes())
    assert len(set(files)) == 1
    write_safetensors({"b": torch.arange(3.0)}, tmp_path / "x.safetensors", metadata={"step": "1", "method": "m"})
    with safe_open(str(tmp_path / "w0.safetensors"), "pt") as f:
        assert f.metadata() == {"step": "6", "method": "x", "zeta": "1", "alpha": "2"}
        torch.testing.assert_close(f.get_tensor("a"), torch.ones(2, 2))

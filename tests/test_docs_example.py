"""docs/adding-a-method.md: its example method file runs exactly as printed, and works as a dropped-in file."""
from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest
import torch

from colorbench import registry
from trainer_support import one_thread

DOC = Path(__file__).resolve().parent.parent / "docs" / "adding-a-method.md"
pytestmark = pytest.mark.timeout(120)


def example_code() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 1, f"{DOC} should hold exactly one python block (the example method); found {len(blocks)}"
    return blocks[0]


@pytest.fixture
def restore_registry(clean_registry):
    with one_thread():
        yield


def test_example_runs_as_printed(restore_registry, tmp_path, capsys):
    script = tmp_path / "tiny_l1.py"
    script.write_text(example_code())
    runpy.run_path(str(script), run_name="__main__")  # registers, trains 8 steps, reloads, colourises
    out = capsys.readouterr().out
    assert re.search(r"trained 8 steps, last l1 \d\.\d{3}", out) and "colourised (1, 3, 37, 53)" in out


def test_example_file_dropped_into_a_methods_folder_is_a_method(restore_registry, tmp_path, monkeypatch):
    (tmp_path / "tiny_l1.py").write_text(example_code())
    monkeypatch.setenv("COLORBENCH_METHODS_PATH", str(tmp_path))
    registry.discover(force=True)
    cls = registry.get_method("tiny_l1")
    assert cls.description.startswith("three conv layers") and cls.watch_loss == "l1"
    method = registry.create_method("tiny_l1", variant="narrow")
    assert method.config.width == 8 and method.config.lr == 1e-3
    assert method.colorize(torch.zeros(1, 1, 37, 53)).shape == (1, 2, 37, 53)

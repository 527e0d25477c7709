"""Opt-in step speed-ups: ``--compile`` matches eager losses; ``--cuda-graphs`` is refused on the CPU with why."""
from __future__ import annotations

import shutil

import pytest

from colorbench.cli import main
from colorbench.data import build_dataset
from colorbench.errors import UserError
from colorbench.train import resolve, train

pytestmark = pytest.mark.timeout(300)
COMPILE_RTOL = 1e-4  # compiled kernels fuse and reorder float sums: equal to eager within float32 rounding


def _run(name: str, **kw):
    data = build_dataset("synthetic", "train", size=16, seed=0, length=16)
    return train(resolve(name, batch_size=4, size=16), data, steps=3, seed=0, device="cpu", progress=False, **kw)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("cc") is None,
                    reason="torch.compile on the CPU needs a C++ compiler (.ci/run installs g++)")
def test_compile_keeps_losses_equal_to_eager(tiny):
    eager = _run("test_tiny")
    compiled = _run("test_tiny", compile=True)
    assert eager.history and len(eager.history) == len(compiled.history) == 3
    for a, b in zip(eager.history, compiled.history):
        for key in eager.losses:
            assert b[key] == pytest.approx(a[key], rel=COMPILE_RTOL), (key, a, b)
    assert all(not hasattr(net, "_orig_mod") for net in compiled.method.networks().values())  # state_dict keys kept
    assert compiled.method.state_dict().keys() == eager.method.state_dict().keys()


def test_cuda_graphs_refused_on_cpu_in_one_line(tiny, tmp_path, capsys):
    with pytest.raises(UserError, match="--cuda-graphs needs a CUDA device; this run is on cpu") as err:
        _run("test_tiny", cuda_graphs=True)
    assert "\n" not in str(err.value)
    assert main(["train", "test_tiny", "--dataset", "synthetic", "--size", "16", "--batch-size", "4", "--steps", "1",
                 "--no-progress", "--val-every", "0", "--cuda-graphs", "--out", str(tmp_path / "r")]) != 0
    assert "--cuda-graphs needs a CUDA device" in capsys.readouterr().err

"""Reliability round three (issue 31): nothing overwritten, nothing lost, no exit 0 with garbage, one-line errors.
One test per failure class; each failed on the code before its fix."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest



# ------------------------------------------------------------------------------------- 3. nothing lost
HOLD_LOCK = """
import fcntl, json, os, sys, time
lock, row, ready = sys.argv[1:4]
os.makedirs(os.path.dirname(lock), exist_ok=True)
fd = os.open(lock, os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
open(ready, "w").close()
time.sleep(1.5)
os.makedirs(os.path.dirname(row), exist_ok=True)
with open(row, "w") as f:
    json.dump({"status": "ok", "by": "the other process"}, f)
"""


def test_a_cell_locked_by_another_process_is_waited_for_not_trained_again(tmp_path, capsys):
    pytest.importorskip("fcntl")
    import torch

    from colorbench.bench import grid
    from colorbench.bench.cell import run_cell
    from colorbench.bench.profiles import load_profile

    cell = next(c for c in grid.expand(load_profile("smoke"), methods=["gray"], device="cpu") if c.kind == "train")
    cache = tmp_path / "cache"
    ready = tmp_path / "ready"
    other = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(cache / ".locks" / f"{cell.key}.lock"),
                              str(cache / cell.key / "row.json"), str(ready)])
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert other.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        row, computed = run_cell(cell, cache, torch.device("cpu"), progress=False)
    finally:
        other.wait(timeout=30)
    assert (row, computed) == ({"status": "ok", "by": "the other process"}, False)
    err = capsys.readouterr().err
    assert f"cell {cell.label} is being computed by another process" in err and "waiting" in err


APPEND_UNDER_LIMIT = """
import resource, sys
from pathlib import Path
from colorbench.cli import _one_line_io
from colorbench.commands.evaluate import append_row
from colorbench.errors import os_error_line
path = Path(sys.argv[1])
limit = path.stat().st_size + 40
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # CPython ignores SIGXFSZ: the write fails with EFBIG
_one_line_io()  # what the command line does first: no .pyc written under the limit
try:
    append_row(path, {"method": "x" * 200, "psnr": 1.0})
except OSError as exc:
    print(exc.errno)
    print(os_error_line(exc, "--csv"))
print(sys.dont_write_bytecode)
"""


def test_eval_csv_append_past_the_file_size_limit_keeps_every_earlier_row(tmp_path):
    from colorbench.commands.evaluate import append_row

    path = tmp_path / "scores.csv"
    for i in range(129):
        append_row(path, {"method": f"m{i}", "psnr": 20.0 + i})
    before = path.read_bytes()
    done = subprocess.run([sys.executable, "-c", APPEND_UNDER_LIMIT, str(path)], capture_output=True, text=True,
                          timeout=120)
    errno, line, *_ = done.stdout.strip().splitlines() + ["", ""]
    assert errno == "27", done.stderr[-2000:]  # EFBIG reached the caller
    assert line == f"--csv {path}: File too large (over the file-size limit (ulimit -f): raise it or write elsewhere)"
    assert done.stdout.strip().splitlines()[-1] == "True"  # no truncated .pyc under the limit
    assert path.read_bytes() == before  # not one row cut
    append_row(path, {"method": "last", "psnr": 3.5, "ssim": 0.5})  # a new column: the header grows
    rows = path.read_text().splitlines()
    assert rows[0] == "method,psnr,ssim" and rows[1] == "m0,20.0," and rows[-1] == "last,3.5,0.5" and len(rows) == 131


# ------------------------------------------------------------------------- 4. no exit 0 with garbage
def test_float_and_16_bit_grey_images_are_read_on_their_own_range(tmp_path):
    import numpy as np
    from PIL import Image

    from colorbench.data.images import read_rgb

    ramp = np.linspace(0.11, 0.89, 32 * 32, dtype=np.float32).reshape(32, 32)
    Image.fromarray(ramp).save(tmp_path / "f.tif")  # mode F, values in [0, 1]: light, not black
    Image.fromarray((ramp * 65535).astype(np.uint16)).save(tmp_path / "g.png")  # I;16
    for name in ("f.tif", "g.png"):
        grey = read_rgb(tmp_path / name, allow_grey=True)[..., 0]
        assert (int(grey.min()), int(grey.max())) == (28, 227), name


def test_metrics_refuse_and_the_lab_layer_warns_once_about_values_outside_the_unit_range(monkeypatch):
    import torch

    from colorbench import color, metrics

    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    y = (x + 0.05).clamp(0, 1)
    with pytest.raises(ValueError, match=r"psnr: pred holds values in \[.*\], outside \[0, 1\].*data_range=255"):
        metrics.psnr(x * 255, y * 255)
    with pytest.raises(ValueError, match=r"ssim: pred holds values in .* outside \[0, 1\]"):
        metrics.ssim(x * 255, y * 255)
    torch.testing.assert_close(metrics.psnr(x * 255, y * 255, data_range=255), metrics.psnr(x, y))  # right range
    assert float(metrics.psnr(x, (x + 1e-6).clamp_max(1 + 1e-6))[0]) > 100  # float rounding passes
    monkeypatch.setattr(color, "_warned_range", False)
    with pytest.warns(UserWarning, match=r"rgb_to_lab: rgb holds values in \[.*, 1\.5\], outside sRGB's \[0, 1\]"):
        color.rgb_to_lab(torch.ones(1, 3, 4, 4) * 1.5)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        color.rgb_to_lab(torch.ones(1, 3, 4, 4) * 1.5)  # once per process


# ---------------------------------------------------------------------------- 5. signals: save, then stop
def _train_tiny(out, steps, on_step=None):
    from colorbench.train import resolve, train
    from trainer_support import TinyData

    return train(resolve("test_tiny", batch_size=8), TinyData(), steps=steps, seed=3, out_dir=out, progress=False,
                 ckpt_every=10, on_step=on_step)


@pytest.mark.parametrize("name", ["SIGTERM", "SIGUSR1"])
def test_sigterm_and_a_configured_stop_signal_save_a_checkpoint_like_ctrl_c(tiny, tmp_path, monkeypatch, name):
    import os
    import signal

    from colorbench import checkpoint as ckpt

    sig = getattr(signal, name)
    monkeypatch.setenv("COLORBENCH_STOP_SIGNALS", "USR1")
    previous = signal.signal(sig, lambda *a: None)  # before the fix: ignored, so training ran on (not killed pytest)
    try:
        with pytest.raises(KeyboardInterrupt) as stopped:
            _train_tiny(tmp_path, 20, on_step=lambda done, _: done == 4 and os.kill(os.getpid(), sig))
    finally:
        signal.signal(sig, previous)
    assert stopped.value.signum == sig
    assert (tmp_path / "checkpoints" / "LAST").read_text().strip() == "step_0000004"  # not the step-0 redo
    assert ckpt.load_checkpoint(tmp_path)["state"]["step"] == 4
    assert _train_tiny(tmp_path, 20).start_step == 4

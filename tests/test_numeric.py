"""colorbench.numeric: the modes' variables, what apply() puts in force, refusal when too late, and the point of it
all: under "portable" the weights do not depend on the oneDNN ISA ceiling or the caller's MKL branch.

Each check runs in a fresh subprocess: the settings are read at a process's first tensor op."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from colorbench import numeric
from colorbench.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "tests" / "cross_cpu" / "probe.py"
_PINNED = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _env(**set_: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _PINNED}
    env.update(set_)
    return env


def _py(code: str, **set_: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=_env(**set_), cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_environ_names_the_pins():
    env = numeric.environ("portable")
    assert env["ATEN_CPU_CAPABILITY"] == "avx2" and env["MKL_CBWR"] == "COMPATIBLE" and env["OMP_NUM_THREADS"] == "1"
    assert numeric.environ("native") == {}
    env["MKL_CBWR"] = "AVX2"
    assert numeric.environ("portable")["MKL_CBWR"] == "COMPATIBLE"  # a copy
    assert numeric.DEFAULT == "portable" and set(numeric.MODES) == {"portable", "native"}
    with pytest.raises(UserError, match="unknown numeric mode 'fast'"):
        numeric.environ("fast")


def test_import_is_torch_free_and_cpu_isa_reads_cpuinfo():
    r = _py("import sys, colorbench.numeric as n; print('torch' in sys.modules, n.cpu_isa(), 'torch' in sys.modules)")
    loaded, isa, vendor, loaded_after = (r.stdout.split() + ["", "", "", ""])[:4]
    assert r.returncode == 0, r.stderr
    assert loaded == "False" and isa in ("amx", "avx512", "avx2", "pre-avx2", "unknown")
    if Path("/proc/cpuinfo").exists():
        assert vendor in Path("/proc/cpuinfo").read_text() and loaded_after == "False"


def test_portable_puts_the_pins_in_force_over_the_callers_environment():
    # the caller's own MKL branch and ATen width are overridden, the mode recorded
    r = _py("import json, colorbench.numeric as n; print(json.dumps(n.apply('portable')))",
            MKL_CBWR="AVX2", ATEN_CPU_CAPABILITY="default")
    assert r.returncode == 0, r.stderr
    now = json.loads(r.stdout)
    assert now["mode"] == "portable" and now["aten_cpu_capability"] == "AVX2" and now["mkl_cbwr"] == "COMPATIBLE"
    assert (now["mkldnn"], now["nnpack"], now["threads"], now["deterministic"]) == (False, False, 1, True)


def test_native_is_recorded_as_native():
    r = _py("import json, colorbench.numeric as n; print(json.dumps(n.apply('native')))")
    assert r.returncode == 0, r.stderr
    now = json.loads(r.stdout)
    assert now["mode"] == "native" and now["mkldnn"] is True and now["mkl_cbwr"] in ("OFF", "AUTO", None)


def test_apply_after_the_first_tensor_op_is_refused():
    code = ("import torch, colorbench.numeric as n\n"
            "a = torch.ones(64, 64); (a @ a).sum()\n"     # MKL (and ATen) have read their variables
            "try:\n    n.apply('portable')\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    r = _py(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("UserError numeric mode 'portable' cannot be applied: ")
    assert "mkl_cbwr is OFF, not COMPATIBLE" in r.stdout and len(r.stdout.strip().splitlines()) == 1


@pytest.mark.slow
def test_portable_weights_do_not_depend_on_the_onednn_ceiling_or_the_callers_mkl_branch():
    """Two trainings (unet_l1, 3 steps) under "portable": one with a different oneDNN ceiling and MKL branch in
    its environment. Same weights, prediction and metrics, bit for bit."""
    cmd = [sys.executable, str(PROBE), "--numeric", "portable", "--method", "unet_l1", "--steps", "3"]
    envs = [_env(ONEDNN_MAX_CPU_ISA="AVX2", MKL_CBWR="AVX512"), _env(ONEDNN_MAX_CPU_ISA="AVX512_CORE_AMX")]
    procs = [subprocess.Popen(cmd, env=e, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for e in envs]
    rows = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        rows.append(json.loads(out.strip().splitlines()[-1]))
    a, b = rows
    assert a["in_force"]["mode"] == b["in_force"]["mode"] == "portable"
    assert (a["weights"], a["eval"], a["metrics"]) == (b["weights"], b["eval"], b["metrics"])

"""colorbench.numeric: the modes' variables, what apply() puts in force, refusal when too late, and the point of it
all: under "portable" the weights do not depend on the oneDNN ISA ceiling or the caller's MKL branch.

Each check runs in a fresh subprocess: the settings are read at a process's first tensor op."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from colorbench import numeric
from colorbench.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "tests" / "cross_cpu" / "probe.py"
CROSS_CPU = os.environ.get("COLORBENCH_CROSS_CPU") == "1"
"""The emulated-CPU tests take minutes each (qemu-user): run them with COLORBENCH_CROSS_CPU=1."""
_PINNED = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _env(**set_: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _PINNED}
    env.update(set_)
    return env


def _py(code: str, **set_: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=_env(**set_), cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


_APPLY = "import json, colorbench.numeric as n\ntry:\n    print(json.dumps({mode!r} and n.apply({mode!r})))\n" \
         "except Exception as e:\n    print(type(e).__name__, e)\n"
_CASES = {  # name: (code, environment): each a fresh process, started together (each loads torch)
    "portable": (_APPLY.format(mode="portable"), {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "default"}),
    "native": (_APPLY.format(mode="native"), {}),
    "late": ("import torch\na = torch.ones(64, 64); (a @ a).sum()\n"   # MKL and ATen read their variables here
             + _APPLY.format(mode="portable"), {}),
}


@pytest.fixture(scope="module")
def runs() -> dict[str, str]:
    procs = {name: subprocess.Popen([sys.executable, "-c", code], env=_env(**env), cwd=ROOT, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for name, (code, env) in _CASES.items()}
    out = {}
    for name, p in procs.items():
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr
        out[name] = stdout.strip()
    return out


def _portable_or_skip(text: str) -> dict:
    if "MKL refused its AVX2 branch" in text:
        pytest.skip(f"not an Intel CPU with AVX2: {text}")
    return json.loads(text)


def test_environ_names_the_pins():
    env = numeric.environ("portable")
    assert env["ATEN_CPU_CAPABILITY"] == "avx2" and env["MKL_CBWR"] == "AVX2" and env["OMP_NUM_THREADS"] == "1"
    assert numeric.environ("native") == {}
    env["MKL_CBWR"] = "COMPATIBLE"
    assert numeric.environ("portable")["MKL_CBWR"] == "AVX2"  # a copy
    assert numeric.DEFAULT == "portable" and set(numeric.MODES) == {"portable", "native"}
    with pytest.raises(UserError, match="unknown numeric mode 'fast'"):
        numeric.environ("fast")


def test_import_is_torch_free():
    r = _py("import sys, colorbench.numeric; print('torch' in sys.modules)")
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr


def test_cpu_isa_is_what_the_cpu_has_not_what_the_mode_uses():
    isa = numeric.cpu_isa()
    assert isa.split()[0] in ("amx", "avx512", "avx2", "pre-avx2", "unknown")
    import torch

    want = torch.cpu.get_capabilities()
    if want.get("avx512_f") and want.get("avx512_bw") and want.get("avx512_vl") and want.get("avx512_dq"):
        assert isa.split()[0] in ("amx", "avx512")  # even in this process, whose ATen may be pinned to AVX2


def test_portable_puts_the_pins_in_force_over_the_callers_environment(runs):
    # the caller's own MKL branch and ATen width are overridden, the mode recorded
    now = _portable_or_skip(runs["portable"])
    assert now["mode"] == "portable" and now["aten_cpu_capability"] == "AVX2" and now["mkl_cbwr"] == "AVX2"
    assert (now["mkldnn"], now["nnpack"], now["threads"], now["deterministic"]) == (False, False, 1, True)


def test_native_is_recorded_as_native(runs):
    now = json.loads(runs["native"])
    assert now["mode"] == "native" and now["mkldnn"] is True and now["mkl_cbwr"] in ("OFF", "AUTO", None)


def test_apply_after_the_first_tensor_op_is_refused(runs):
    text = runs["late"]
    assert text.startswith("TooLate numeric mode 'portable' cannot be applied: ") and len(text.splitlines()) == 1
    assert "too late" in text and "MKL the OFF branch" in text


COMMITTED = {"weights": "62fffe1282c833d3", "eval": "3c8c955417e20dee", "metrics": "7cf504acf6e097f0"}
"""The probe's hashes (unet_l1 at its test_overrides, 16 px, batch 4, seed 0, 3 steps, portable) as made on an Intel
Xeon with AVX-512 and AMX: every Intel CPU with AVX2 must give them, whatever its oneDNN ceiling (torch 2.14.1)."""
CEILINGS = {"AVX2": ("avx2",), "AVX512_CORE": ("avx512_f", "avx512_bw", "avx512_vl", "avx512_dq"),
            "AVX512_CORE_AMX": ("avx512_f", "amx_tile")}


@pytest.mark.slow
def test_portable_weights_are_the_committed_ones_under_every_onednn_ceiling_and_mkl_branch():
    """One tiny cell (unet_l1, 3 steps) trained under "portable" once per oneDNN ISA ceiling this CPU offers (the
    others skipped), one run with another MKL branch in its environment: every run gives the same weights,
    prediction and metrics, and they are the committed hashes (on an Intel CPU; elsewhere the mode refuses)."""
    import torch

    caps = torch.cpu.get_capabilities()
    ceilings = [c for c, need in CEILINGS.items() if all(caps.get(k) for k in need)]
    cmd = [sys.executable, str(PROBE), "--numeric", "portable", "--method", "unet_l1", "--steps", "3"]
    envs = [_env(ONEDNN_MAX_CPU_ISA=c) for c in ceilings] + [_env(MKL_CBWR="COMPATIBLE")]
    procs = [subprocess.Popen(cmd, env=e, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for e in envs]
    rows = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        if "MKL refused its AVX2 branch" in out + err:
            pytest.skip("not an Intel CPU with AVX2: the portable mode refuses it")
        assert p.returncode == 0, err
        rows.append(json.loads(out.strip().splitlines()[-1]))
    assert ceilings and all(r["in_force"]["mode"] == "portable" for r in rows)
    got = [{k: r[k] for k in COMMITTED} for r in rows]
    assert all(g == COMMITTED for g in got), (ceilings, got)


@pytest.mark.slow
@pytest.mark.skipif(not CROSS_CPU or shutil.which("qemu-x86_64") is None,
                    reason="emulates an AMD CPU for a minute: set COLORBENCH_CROSS_CPU=1 and install qemu-user")
def test_portable_is_refused_on_an_amd_cpu():
    """Under an emulated AMD EPYC (Rome), MKL ignores MKL_CBWR=AVX2 (AUTO is in force), so the portable mode, whose
    bits match Intel CPUs only, refuses to start rather than record numbers that no Intel machine gives. ~1 min."""
    code = ("import colorbench.numeric as n\n"
            "try:\n    n.apply('portable')\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    r = subprocess.run(["qemu-x86_64", "-cpu", "EPYC-Rome", sys.executable, "-c", code], env=_env(), cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("UnsupportedCPU numeric mode 'portable' cannot be applied: MKL refused its AVX2 "
                               "branch")
    assert "AMD EPYC" in r.stdout


@pytest.mark.slow
@pytest.mark.skipif(not CROSS_CPU or shutil.which("qemu-x86_64") is None or shutil.which("cc") is None,
                    reason="emulates an AMD CPU for minutes: set COLORBENCH_CROSS_CPU=1, install qemu-user and a C "
                    "compiler")
def test_amd_with_the_mkl_vendor_shim_gives_the_intel_bits(tmp_path):
    """An emulated AMD EPYC (Rome) with colorbench.mkl_shim's library preloaded runs MKL's AVX2 branch, and the
    portable mode then trains the same weights as this (Intel) host. A few minutes under emulation."""
    from colorbench import mkl_shim

    shim = mkl_shim.build(tmp_path)
    cmd = [sys.executable, str(PROBE), "--numeric", "portable", "--method", "unet_l1", "--steps", "2"]
    amd = subprocess.Popen(["qemu-x86_64", "-E", f"LD_PRELOAD={shim}", "-cpu", "EPYC-Rome", *cmd], env=_env(),
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    here = subprocess.run(cmd, env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=300)
    out, err = amd.communicate(timeout=900)
    assert here.returncode == 0 and amd.returncode == 0, (here.stderr + err)[-2000:]
    a, b = (json.loads(o.strip().splitlines()[-1]) for o in (here.stdout, out))
    if "Intel" not in a["in_force"]["cpu_isa"]:
        pytest.skip(f"compares with an Intel host; this one is {a['in_force']['cpu_isa']}")
    assert "AMD" in b["in_force"]["cpu_isa"] and b["in_force"]["mkl_cbwr"] == "AVX2" and b["in_force"]["mkl_sees_intel"]
    assert (a["weights"], a["eval"], a["metrics"]) == (b["weights"], b["eval"], b["metrics"])

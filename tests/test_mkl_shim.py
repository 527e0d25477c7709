"""colorbench.mkl_shim: the one-line library that makes MKL run its AVX2 branch on a non-Intel CPU, built with the
system C compiler and loaded before torch, so the portable numeric mode holds on AMD CPUs too.

The numbers themselves (an AMD EPYC giving the Intel machines' weights) are checked by tests/test_numeric.py's
committed hashes, which now run on such a CPU instead of being skipped."""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from colorbench import mkl_shim, numeric

ROOT = Path(__file__).resolve().parents[1]
HAS_CC = shutil.which(os.environ.get("CC") or "cc") is not None or shutil.which("gcc") is not None
x86_linux = sys.platform.startswith("linux") and numeric.cpu_isa().split()[0] in ("amx", "avx512", "avx2")


@pytest.mark.skipif(not HAS_CC, reason="needs a C compiler (cc or gcc)")
def test_build_makes_a_library_that_answers_intel_and_reuses_it(tmp_path):
    path = mkl_shim.build(tmp_path)
    assert path.parent == tmp_path and path.name.startswith("libmkl_intel_shim-") and path.suffix == ".so"
    assert ctypes.CDLL(str(path)).mkl_serv_intel_cpu_true() == 1
    stamp = path.stat().st_mtime_ns
    assert mkl_shim.build(tmp_path) == path and path.stat().st_mtime_ns == stamp  # built once
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # nothing half-written left beside it


def test_no_compiler_is_a_one_line_error_naming_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(OSError, match=r"^no C compiler to build MKL's vendor shim \(install one, e\.g\. "):
        mkl_shim.build(tmp_path / "cache")


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("COLORBENCH_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mkl_shim.cache_dir() == tmp_path / "xdg" / "colorbench"
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "mine"))
    assert mkl_shim.cache_dir() == tmp_path / "mine"


def test_after_torch_is_imported_it_is_too_late_and_says_so(monkeypatch):
    import torch  # noqa: F401  (this process imported it long ago)

    monkeypatch.setattr(mkl_shim, "needed", lambda: True)
    monkeypatch.setattr(mkl_shim, "_loaded", None)
    monkeypatch.setattr(mkl_shim, "why_not", "")
    monkeypatch.setenv("LD_PRELOAD", "")
    assert mkl_shim.prepare() is None
    assert mkl_shim.why_not == "torch was imported before the MKL vendor shim could be loaded"


def _fresh(code: str, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", *numeric.environ("portable"))}
    r = subprocess.run([sys.executable, "-c", code], env={**base, **env}, cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.strip()


@pytest.mark.skipif(not (x86_linux and HAS_CC), reason="an x86-64 Linux CPU with AVX2 and a C compiler")
def test_portable_runs_mkls_avx2_branch_on_this_cpu_whatever_its_vendor(tmp_path):
    """On an Intel CPU the shim is not needed; on an AMD one apply() loads it (before torch) and MKL runs AVX2,
    where it refused the mode before the shim was loaded here (an AMD EPYC: UnsupportedCPU)."""
    now = json.loads(_fresh("import json, colorbench.numeric as n; print(json.dumps(n.apply('portable')))",
                            COLORBENCH_CACHE=str(tmp_path)))
    assert now["mode"] == "portable" and now["mkl_cbwr"] == "AVX2" and now["mkl_sees_intel"] is True
    assert any(tmp_path.iterdir()) == mkl_shim.needed()  # built only where the vendor needs it


@pytest.mark.skipif(not (x86_linux and mkl_shim.needed()), reason="a non-Intel x86-64 CPU (the shim's case)")
def test_without_a_compiler_a_non_intel_cpu_is_refused_naming_why(tmp_path):
    out = _fresh("import colorbench.numeric as n\ntry:\n    n.apply('portable')\nexcept n.UnsupportedCPU as e:\n"
                 "    print(e)\n", CC=str(tmp_path / "no-cc"), PATH=str(tmp_path), COLORBENCH_CACHE=str(tmp_path))
    assert out.startswith("numeric mode 'portable' cannot be applied: MKL refused its AVX2 branch (it runs it on "
                          "Intel CPUs with AVX2 only), and MKL's vendor shim is not loaded: no C compiler")
    assert len(out.splitlines()) == 1

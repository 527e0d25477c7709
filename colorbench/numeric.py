"""Numeric modes: which CPU code paths a cell's process may take, so its numbers can be reproduced elsewhere.

A trained row's bits depend on the kernels torch picks, and those are chosen per machine: ATen's vector width
(``ATEN_CPU_CAPABILITY``), MKL's code branch (``MKL_CBWR``), oneDNN's ISA and blocking (``ONEDNN_MAX_CPU_ISA``,
``torch.backends.mkldnn``), NNPACK, the thread count. Each of these is fixed at the process's first tensor op that
uses it, not at ``import torch``, so a mode must be applied before the first tensor op.

* ``"portable"``: the same bits on any x86-64 CPU with AVX2, Intel or AMD (see docs/reproducibility.md for the
  experiments): ATen's AVX2 kernels, MKL's ``COMPATIBLE`` branch, oneDNN and NNPACK off (their kernels and
  blockings follow the CPU model and its cache sizes), one thread, deterministic algorithms.
* ``"native"``: nothing pinned; the fastest kernels this CPU has. Bits match only on the same CPU model.

API: :data:`MODES`, :data:`DEFAULT`, :func:`environ` (the variables a cell process needs in its environment),
:func:`apply` (sets them and torch's flags in this process, refusing when it is too late), :func:`in_force` (what is
actually in force, to check at cell start and to record) and :func:`cpu_isa` (this CPU's best vector ISA).

Importing this module does not import torch.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Final

from colorbench.errors import UserError

MODES: Final[tuple[str, ...]] = ("portable", "native")
DEFAULT: Final[str] = "portable"

# Variables read once, at the first op that needs them. "portable" pins each; "native" leaves the process's own.
_ENV: Final[dict[str, dict[str, str]]] = {
    "portable": {
        "ATEN_CPU_CAPABILITY": "avx2",     # ATen's vector kernels: 8 float lanes (avx512 has 16: other sum orders)
        "MKL_CBWR": "COMPATIBLE",          # MKL's one branch that Intel documents as equal on Intel and non-Intel CPUs
        "OMP_NUM_THREADS": "1",            # one thread: reductions split by thread count otherwise
        "MKL_NUM_THREADS": "1",
    },
    "native": {},
}
_THREADS: Final[dict[str, int | None]] = {"portable": 1, "native": None}   # None: leave torch's default

# MKL's mkl_cbwr_get(MKL_CBWR_BRANCH) codes (mkl_service.h) and their MKL_CBWR spellings.
_CBWR_CODES: Final[dict[int, str]] = {0: "OFF", 1: "OFF", 2: "AUTO", 3: "COMPATIBLE", 4: "SSE2", 6: "SSSE3",
                                      7: "SSE4_1", 8: "SSE4_2", 9: "AVX", 10: "AVX2", 11: "AVX512_MIC",
                                      12: "AVX512", 13: "AVX512_MIC_E1", 14: "AVX512_E1"}


def _check(mode: str) -> str:
    if mode not in MODES:
        raise UserError(f"unknown numeric mode {mode!r}; use one of {', '.join(MODES)}")
    return mode


def environ(mode: str = DEFAULT) -> dict[str, str]:
    """The environment variables a cell process running under ``mode`` needs before its first tensor op (a copy;
    empty for ``"native"``). Put them in a child process's environment, or call :func:`apply` in the process."""
    return dict(_ENV[_check(mode)])


def _cpuinfo() -> tuple[str, set[str]]:
    """(vendor id, flag set) of the first CPU in /proc/cpuinfo; ("", empty set) where it cannot be read."""
    vendor, flags = "", set()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "vendor_id" and not vendor:
                    vendor = value.strip()
                elif key == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    return vendor, flags


def cpu_isa() -> str:
    """This CPU's best vector ISA and vendor, e.g. ``"avx512 GenuineIntel"``, ``"avx2 AuthenticAMD"``, from the
    /proc/cpuinfo flags (``"amx"``: AMX tiles on top of AVX-512; ``"unknown"`` where there are none, e.g. not
    Linux, and torch is not loaded). Independent of the mode: it is what the hardware has, not what is used."""
    vendor, flags = _cpuinfo()
    if flags:
        if {"amx_tile", "avx512f"} <= flags:
            isa = "amx"
        elif {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
            isa = "avx512"
        elif {"avx2", "fma"} <= flags:
            isa = "avx2"
        else:
            isa = "pre-avx2"
    elif "torch" in sys.modules:  # no /proc/cpuinfo: the best ATen dispatch torch reports (fixes it: see apply)
        isa = str(sys.modules["torch"].backends.cpu.get_cpu_capability()).lower()
    else:
        isa = "unknown"
    return f"{isa} {vendor}".strip()


def _mkl_branch() -> str | None:
    """MKL's code branch in force (an ``MKL_CBWR`` spelling; this call fixes it), or None without MKL."""
    import ctypes

    import torch

    try:
        lib = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
        get = lib.mkl_serv_cbwr_get
    except (OSError, AttributeError):
        return None
    get.restype, get.argtypes = ctypes.c_int, [ctypes.c_int]
    code = int(get(1))  # MKL_CBWR_BRANCH
    return _CBWR_CODES.get(code, str(code))


def apply(mode: str = DEFAULT) -> dict[str, Any]:
    """Put this process under ``mode``: its :func:`environ` variables into ``os.environ``, then torch's flags
    (oneDNN and NNPACK off, one thread, deterministic algorithms for ``"portable"``). Returns :func:`in_force`.

    Valid only before the process's first tensor op: ATen and MKL read their variables once. Raises a one-line
    :class:`UserError` when a pinned value is not the one in force (too late, or a CPU without AVX2)."""
    env = environ(mode)
    os.environ.update(env)
    if mode == "native":
        return in_force()
    import torch

    torch.backends.mkldnn.enabled = False
    torch.backends.nnpack.set_flags(False)
    torch.set_num_threads(_THREADS[mode] or torch.get_num_threads())
    torch.use_deterministic_algorithms(True)
    now = in_force()
    want = {"aten_cpu_capability": env["ATEN_CPU_CAPABILITY"].upper(), "mkl_cbwr": env["MKL_CBWR"]}
    wrong = [f"{k} is {now[k]}, not {v}" for k, v in want.items() if now[k] is not None and now[k] != v]
    if wrong:
        raise UserError(f"numeric mode {mode!r} cannot be applied: {'; '.join(wrong)} (apply it before the first "
                        f"tensor op, or start the process with colorbench.numeric.environ({mode!r}); "
                        f"this CPU: {cpu_isa()})")
    return now


def in_force() -> dict[str, Any]:
    """The numeric settings actually in force in this process, to check at cell start and to record with a row.

    Keys: ``mode`` (the mode whose pins all hold, else ``"native"``), ``aten_cpu_capability`` (e.g. ``"AVX2"``),
    ``mkl_cbwr`` (MKL's branch, e.g. ``"COMPATIBLE"``; ``"OFF"``: MKL picks per CPU), ``onednn_max_cpu_isa`` (the
    variable, ``""`` unset), ``mkldnn``, ``nnpack``, ``threads``, ``deterministic``, ``cpu_isa``, ``torch``. Imports
    torch and fixes ATen's and MKL's choices (they are read now if no op has run yet)."""
    import torch

    now: dict[str, Any] = {
        "aten_cpu_capability": str(torch.backends.cpu.get_cpu_capability()),
        "mkl_cbwr": _mkl_branch(),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
        "mkldnn": bool(torch.backends.mkldnn.enabled),
        "nnpack": bool(torch._nnpack_available() and torch._C._get_nnpack_enabled()),
        "threads": int(torch.get_num_threads()),
        "deterministic": bool(torch.are_deterministic_algorithms_enabled()),
        "cpu_isa": cpu_isa(),
        "torch": str(torch.__version__),
    }
    env = _ENV["portable"]
    portable = (now["aten_cpu_capability"] == env["ATEN_CPU_CAPABILITY"].upper()
                and now["mkl_cbwr"] in (env["MKL_CBWR"], None) and not now["mkldnn"] and not now["nnpack"]
                and now["threads"] == _THREADS["portable"] and now["deterministic"])
    return {"mode": "portable" if portable else "native", **now}

"""Numeric modes: which CPU code paths a cell's process may take, so its numbers can be reproduced elsewhere.

A trained row's bits depend on the kernels torch picks, and those are chosen per machine: ATen's vector width
(``ATEN_CPU_CAPABILITY``), MKL's code branch (``MKL_CBWR``), oneDNN's ISA and blocking (``ONEDNN_MAX_CPU_ISA``,
``torch.backends.mkldnn``), NNPACK, the thread count. Each of these is fixed at the process's first tensor op that
uses it, not at ``import torch``, so a mode must be applied before the first tensor op.

* ``"portable"``: the same bits on any x86-64 CPU with AVX2 (Intel ones with AVX-512 and AMX included, whatever their
  oneDNN ceiling; AMD ones through MKL's vendor shim): ATen's AVX2 kernels, MKL's ``AVX2`` branch, oneDNN and NNPACK
  off (their kernels and blockings are chosen per CPU), one thread, deterministic algorithms. MKL runs its AVX2 branch
  on Intel CPUs only, and its one cross-vendor branch (``COMPATIBLE``) computes float32 ``sqrt`` with the ``rsqrtps``
  estimate, which Intel and AMD silicon round differently; so :func:`apply` refuses ``"portable"`` where MKL does not
  run the AVX2 branch, i.e. on AMD unless MKL's vendor shim is loaded: :func:`apply` loads it
  (:mod:`colorbench.mkl_shim`, built with the system C compiler) when it runs before torch is imported, and a real AMD
  EPYC then gave the Intel machines' bits. docs/reproducibility.md has the experiments and the cost.
* ``"native"``: nothing pinned; the fastest kernels this CPU has. Bits match only on the same CPU model.

API: :data:`MODES`, :data:`DEFAULT`, :func:`environ` (the variables a cell process needs in its environment),
:func:`apply` (sets them and torch's flags in this process, refusing when it is too late), :func:`in_force` (what is
actually in force, to check at cell start and to record) and :func:`cpu_isa` (this CPU's best vector ISA).

Importing this module does not import torch.
"""
from __future__ import annotations

import os
from typing import Any, Final

from colorbench.errors import UserError

MODES: Final[tuple[str, ...]] = ("portable", "native")
DEFAULT: Final[str] = "portable"

# Variables read once, at the first op that needs them. "portable" pins each; "native" leaves the process's own.
_ENV: Final[dict[str, dict[str, str]]] = {
    "portable": {
        "ATEN_CPU_CAPABILITY": "avx2",     # ATen's vector kernels: 8 float lanes (avx512 has 16: other sum orders)
        "MKL_CBWR": "AVX2",                # MKL's AVX2 branch: Intel CPUs only; float32 sqrt correctly rounded
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


class UnsupportedCPU(UserError):
    """The portable mode cannot hold on this CPU (no AVX2, or MKL refuses its AVX2 branch: a non-Intel CPU)."""


class TooLate(UserError):
    """A tensor op ran before :func:`apply`: ATen and MKL already chose their kernels for this process."""


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


def _best(flags: set[str], amx: str, avx512: tuple[str, ...], avx2: tuple[str, ...]) -> str:
    if amx in flags and avx512[0] in flags:
        return "amx"
    if set(avx512) <= flags:
        return "avx512"
    return "avx2" if set(avx2) <= flags else "pre-avx2"


def cpu_isa() -> str:
    """This CPU's best vector ISA and its name, e.g. ``"amx Intel Xeon"``, ``"avx2 AMD EPYC 7742"`` (``amx``: AMX
    tiles on top of AVX-512; ``avx512``: F, BW, VL, DQ; ``avx2``: AVX2 and FMA; else ``pre-avx2``).

    From CPUID as torch's cpuinfo reads it (``torch.cpu.get_capabilities()``, which fixes none of the choices
    :func:`apply` pins), else from /proc/cpuinfo (the host's, even under an emulator), else ``"unknown"``. What the
    hardware has, not what the mode lets the kernels use (that is ``in_force()["aten_cpu_capability"]``)."""
    try:
        import torch.cpu

        caps = torch.cpu.get_capabilities()
        flags = {k for k, v in caps.items() if v is True}
        isa = _best(flags, "amx_tile", ("avx512_f", "avx512_bw", "avx512_vl", "avx512_dq"), ("avx2", "fma3"))
        return f"{isa} {caps.get('cpu_name', '')}".strip()
    except (ImportError, AttributeError, RuntimeError):
        pass
    vendor, flags = _cpuinfo()
    if not flags:
        return "unknown"
    isa = _best(flags, "amx_tile", ("avx512f", "avx512bw", "avx512vl", "avx512dq"), ("avx2", "fma"))
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


def _mkl_sees_intel() -> bool | None:
    """Whether MKL takes this CPU for an Intel one (it runs its AVX2 branch only then), None without MKL. Looked up
    in the global scope first, where a preloaded shim's definition (the one MKL's calls reach) comes before MKL's."""
    import ctypes

    import torch

    for name in (None, os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")):
        try:
            return bool(ctypes.CDLL(name).mkl_serv_intel_cpu_true())
        except (OSError, AttributeError):
            continue
    return None


def apply(mode: str = DEFAULT) -> dict[str, Any]:
    """Put this process under ``mode``: its :func:`environ` variables into ``os.environ``, then torch's flags
    (oneDNN and NNPACK off, one thread, deterministic algorithms for ``"portable"``). Returns :func:`in_force`.

    Valid only before the process's first tensor op: ATen and MKL read their variables once. Raises a one-line
    :class:`UserError` when a pinned value is not the one in force: a CPU without AVX2, a non-Intel CPU where MKL's
    vendor shim (:mod:`colorbench.mkl_shim`, loaded here before torch when possible) is not loaded, or too late."""
    env = environ(mode)
    os.environ.update(env)
    if mode == "native":
        return in_force()
    from colorbench import mkl_shim

    mkl_shim.prepare()  # a non-Intel CPU: MKL's vendor shim, before torch is imported (else why_not says why not)
    import torch

    torch.backends.mkldnn.enabled = False
    torch.backends.nnpack.set_flags(False)
    torch.set_num_threads(_THREADS[mode] or torch.get_num_threads())
    torch.use_deterministic_algorithms(True)
    now = in_force()
    aten, mkl = env["ATEN_CPU_CAPABILITY"].upper(), env["MKL_CBWR"]
    why, error = "", UnsupportedCPU
    if now["aten_cpu_capability"] == "DEFAULT" != aten:
        why = "ATen runs its DEFAULT (no AVX2) kernels: this CPU has no AVX2, or a tensor op ran under them"
    elif now["mkl_cbwr"] == "AUTO":
        shim = f", and MKL's vendor shim is not loaded: {mkl_shim.why_not}" if mkl_shim.why_not else ""
        why = (f"MKL refused its {mkl} branch (it runs it on Intel CPUs with AVX2 only){shim}; use the 'native' mode "
               f"here, or let the portable mode load the shim (docs/reproducibility.md)")
    elif now["aten_cpu_capability"] != aten or now["mkl_cbwr"] not in (mkl, None):
        error = TooLate
        why = (f"ATen runs {now['aten_cpu_capability']}, MKL the {now['mkl_cbwr']} branch: too late, a tensor op "
               f"already ran (apply it first, or start the process with colorbench.numeric.environ({mode!r}))")
    if why:
        raise error(f"numeric mode {mode!r} cannot be applied: {why} (this CPU: {cpu_isa()})")
    return now


def unpin(saved: dict[str, str | None] | None = None) -> None:
    """Undo :func:`apply`'s variables in ``os.environ`` (``saved``: their values before, None = unset; no ``saved``:
    drop each variable that holds the portable pin, e.g. in a process that inherited them), so that a child process
    started from here, or this one before its first tensor op, runs native kernels."""
    for key, pin in _ENV["portable"].items():
        before = saved.get(key) if saved is not None else (None if os.environ.get(key) == pin else os.environ.get(key))
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = str(before)


def relax() -> None:
    """Torch's own defaults for the flags :func:`apply` sets (oneDNN, NNPACK, non-deterministic algorithms), e.g.
    after :class:`UnsupportedCPU`, when a run falls back to the native mode."""
    import torch

    torch.backends.mkldnn.enabled = True
    torch.backends.nnpack.set_flags(True)
    torch.use_deterministic_algorithms(False)


def pinned_environ() -> dict[str, str | None]:
    """The current values of every variable a mode pins (None = unset), for :func:`unpin`."""
    return {key: os.environ.get(key) for key in _ENV["portable"]}


def in_force() -> dict[str, Any]:
    """The numeric settings actually in force in this process, to check at cell start and to record with a row.

    Keys: ``mode`` (the mode whose pins all hold, else ``"native"``), ``aten_cpu_capability`` (e.g. ``"AVX2"``),
    ``mkl_cbwr`` (MKL's branch, e.g. ``"AVX2"``; ``"OFF"``: MKL picks per CPU; ``"AUTO"``: it refused the branch
    asked for; None: no MKL), ``mkl_sees_intel`` (MKL takes the CPU for an Intel one; on an AMD CPU only with
    :mod:`colorbench.mkl_shim` loaded), ``onednn_max_cpu_isa`` (the variable, ``""`` unset),
    ``mkldnn``, ``nnpack``, ``threads``, ``deterministic``, ``cpu_isa``, ``torch``. Imports torch and fixes ATen's
    and MKL's choices (they are read now if no op has run yet)."""
    import torch

    now: dict[str, Any] = {
        "aten_cpu_capability": str(torch.backends.cpu.get_cpu_capability()),
        "mkl_cbwr": _mkl_branch(),
        "mkl_sees_intel": _mkl_sees_intel(),
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

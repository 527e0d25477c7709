"""MKL's vendor shim: MKL's AVX2 branch on a non-Intel x86-64 CPU, so the portable numeric mode holds there too.

torch's CPU library carries MKL, which runs the code branch ``MKL_CBWR`` names only where its own
``mkl_serv_intel_cpu_true()`` answers "Intel"; on an AMD CPU it silently runs ``AUTO`` instead, whose float32
``sqrt`` (Adam's denominator) rounds otherwise, so :func:`colorbench.numeric.apply` refuses ``"portable"`` there. A
one-line C definition of that function answering yes, put in the process's global symbol scope before torch is
imported, is the one torch's library binds to; MKL then runs the AVX2 branch. On a real AMD EPYC (Zen, AVX-512) the
portable mode so gave the Intel machines' weights, predictions and metrics bit for bit for four methods
(docs/reproducibility.md). Intel does not support it, and a torch build that binds the call internally would ignore
it; :func:`colorbench.numeric.apply` checks the branch actually in force either way and refuses otherwise.

:func:`prepare` builds the shim on first use with the system C compiler (``$CC``, else ``cc`` or ``gcc``) into the
user cache (``$XDG_CACHE_HOME/colorbench``, else ``~/.cache/colorbench``; ``$COLORBENCH_CACHE`` overrides it), loads
it (``ctypes``, ``RTLD_GLOBAL``) and adds it to ``LD_PRELOAD`` for the child processes (spawned cells, cluster
jobs). It does nothing on Intel CPUs, on non-x86 machines, and once torch is imported (too late: say so through
:data:`why_not`). Importing this module does not import torch.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = "int mkl_serv_intel_cpu_true(void) { return 1; }\n"
"""The whole shim: MKL asks this function whether the CPU is an Intel one."""

why_not: str = ""
"""Why the shim is not loaded where this CPU needs it ("" when loaded or not needed): for the refusal's message."""
_loaded: Path | None = None


def needed() -> bool:
    """Whether this CPU needs the shim for MKL's AVX2 branch: an x86-64 CPU whose vendor is not Intel (Linux)."""
    from colorbench.numeric import _cpuinfo

    vendor, _ = _cpuinfo()
    return sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64") and vendor not in (
        "", "GenuineIntel")


def cache_dir() -> Path:
    """Where the built shim is kept (``$COLORBENCH_CACHE``, else ``$XDG_CACHE_HOME/colorbench``, else
    ``~/.cache/colorbench``)."""
    if os.environ.get("COLORBENCH_CACHE"):
        return Path(os.environ["COLORBENCH_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "colorbench"


def build(folder: Path | None = None) -> Path:
    """The shim's shared library, compiled once into ``folder`` (default :func:`cache_dir`), named by its source's
    hash. Raises ``OSError`` naming the fix when no C compiler is found or the compile fails."""
    folder = folder or cache_dir()
    target = folder / f"libmkl_intel_shim-{hashlib.sha256(SOURCE.encode()).hexdigest()[:12]}.so"
    if target.is_file():
        return target
    compiler = shutil.which(os.environ.get("CC") or "cc") or shutil.which("gcc")
    if not compiler:
        raise OSError("no C compiler to build MKL's vendor shim (install one, e.g. `apt-get install gcc`, or set CC)")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        src, out = Path(tmp) / "shim.c", Path(tmp) / target.name
        src.write_text(SOURCE)
        r = subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(out), str(src)], capture_output=True,
                           text=True)
        if r.returncode != 0:
            raise OSError(f"{compiler} could not build MKL's vendor shim: {r.stderr.strip()[-300:]}")
        os.replace(out, target)  # atomic: a concurrent build leaves one whole file
    return target


def prepare() -> Path | None:
    """Load the shim into this process where this CPU needs it and torch is not imported yet, and put it in
    ``LD_PRELOAD`` for child processes. Returns the library's path (None where not needed or not possible: then
    :data:`why_not` says why). Safe to call more than once."""
    global _loaded, why_not
    if _loaded is not None or not needed():
        return _loaded
    if "torch" in sys.modules and not _preloaded():
        why_not = "torch was imported before the MKL vendor shim could be loaded"
        return None
    try:
        path = build()
        ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    except OSError as exc:
        why_not = str(exc)
        return None
    preload = [p for p in os.environ.get("LD_PRELOAD", "").split() if p]
    if str(path) not in preload:
        os.environ["LD_PRELOAD"] = " ".join([*preload, str(path)])
    _loaded, why_not = path, ""
    return path


def _preloaded() -> bool:
    """Whether a shim came with this process's start (``LD_PRELOAD``)."""
    return "mkl_intel_shim" in os.environ.get("LD_PRELOAD", "")

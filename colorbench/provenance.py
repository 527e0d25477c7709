"""Provenance: what produced a number or a checkpoint (library versions, the source tree's git commit).

Recorded in every checkpoint's ``config.json`` and every bench row, so a figure can be traced to the code and the
libraries that made it. Reading the commit starts no process that could lock a checkout (see :func:`git_commit`).
"""
from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path


def versions() -> dict[str, str]:
    """Versions of what shapes the numbers: python, torch, numpy, colorbench, CUDA (if any)."""
    import numpy
    import torch

    import colorbench

    out = {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
           "colorbench": colorbench.__version__}
    if torch.version.cuda:
        out["cuda"] = str(torch.version.cuda)
    return out


def _git_dir(root: Path) -> Path | None:
    """The git directory of a checkout at ``root`` (``.git`` may be a folder, or a file naming a worktree's)."""
    dot = root / ".git"
    if dot.is_dir():
        return dot
    if dot.is_file():
        text = dot.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            gitdir = Path(text[len("gitdir:"):].strip())
            return gitdir if gitdir.is_absolute() else (root / gitdir).resolve()
    return None


def _head_commit(git_dir: Path) -> str | None:
    """The commit HEAD names, read from the files (``HEAD``, the ref, ``packed-refs``): no process, no lock."""
    head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    if not head.startswith("ref:"):
        return head or None
    ref = head[len("ref:"):].strip()
    common = git_dir
    if (git_dir / "commondir").is_file():
        common = (git_dir / (git_dir / "commondir").read_text(encoding="utf-8").strip()).resolve()
    for folder in (git_dir, common):
        if (folder / ref).is_file():
            return (folder / ref).read_text(encoding="utf-8").strip() or None
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8").splitlines():
            sha, _, name = line.partition(" ")
            if name.strip() == ref:
                return sha
    return None


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the colorbench source tree (``+dirty`` when tracked files have local edits), or None outside
    git. Computed once per process: HEAD is read from ``.git`` directly, and the dirty check runs ``git status``
    with ``GIT_OPTIONAL_LOCKS=0``, so it never takes ``.git/index.lock`` in a checkout someone is working in."""
    root = Path(__file__).resolve().parent.parent
    try:
        git_dir = _git_dir(root)
        sha = _head_commit(git_dir) if git_dir is not None else None
    except OSError:
        return None
    if sha is None:
        return None
    try:
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5,
                               env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
        return sha + ("+dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return sha

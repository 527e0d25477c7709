"""What a bench cell's numbers depend on, as hashes: the code, the environment and the data.

A cell's cache key (:func:`colorbench.bench.grid.cell_key`) hashes its resolved settings together with

* :func:`code_hash`: every Python source file of the ``colorbench`` core package (the trainer, the evaluator, the
  metrics, the data layer, the shared networks: everything but the built-in methods folder), the method's own
  module, and every module of the method's own project that it imports (followed transitively, through ``import``
  statements read with :mod:`ast`; third-party imports are covered by :func:`environment`). The hash is of the files'
  bytes in the working tree, so an uncommitted edit changes it as a commit does, and a README edit does not;
* :func:`environment`: the versions of the libraries that shape the numbers and the torch thread count;
* :func:`data_fingerprint`: for a dataset on disk, the relative path, size and modification time of every file
  under its folder (the embedded ``sample`` and the generated ``synthetic`` sets are code, and so in the code hash).

So a finished cell is reused exactly when none of these changed: a stale cell is impossible, not merely unlikely.
Each row records ``code_hash``, ``environment`` and ``data_fingerprint``; a test checks that every committed row's
``code_hash`` is what the code at HEAD computes.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

HASH_CHARS = 16
LIBRARIES = ("torch", "torchvision", "numpy", "pillow", "scikit-image", "timm", "segmentation-models-pytorch",
             "scipy")
"""Distributions whose versions enter every cell key (scipy: the reference computations of some figures)."""
MAX_DATA_FILES = 500_000


def _core_dir() -> Path:
    import colorbench

    return Path(colorbench.__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def core_files() -> tuple[Path, ...]:
    """Every ``.py`` file of the colorbench core, sorted (the built-in methods live in another folder)."""
    return tuple(sorted(_core_dir().rglob("*.py")))


@functools.lru_cache(maxsize=1)
def core_hash() -> str:
    """sha256 of the core's sources (relative path and bytes of each file)."""
    root = _core_dir()
    h = hashlib.sha256()
    for path in core_files():
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def _imported_names(path: Path, package: str) -> set[str]:
    """Module names ``path`` imports (absolute, relative imports resolved against ``package``)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1]) if node.level <= len(parts) else ""
                base = f"{parent}.{base}".strip(".") if base else parent
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
    return {n for n in names if n}


def _module_file(name: str) -> Path | None:
    module = sys.modules.get(name)
    origin = getattr(module, "__file__", None) if module is not None else None
    if origin is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError, AttributeError):
            return None
        origin = spec.origin if spec is not None else None
    if not origin or not origin.endswith(".py"):
        return None
    return Path(origin).resolve()


def project_files(module_name: str) -> tuple[Path, ...]:
    """The source file of ``module_name`` and of every module of the same top-level package it imports,
    transitively (``colorbench.*`` core modules are left to :func:`core_hash`; other methods are never followed:
    a method does not import another)."""
    top = module_name.split(".")[0]
    core = _core_dir()
    seen: dict[str, Path] = {}
    todo = [module_name]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            continue
        if top == "colorbench" and core in path.parents and name != module_name:
            continue  # in the core hash already
        seen[name] = path
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for imported in _imported_names(path, package):
            if imported.split(".")[0] == top and imported not in seen:
                if top == "colorbench" and not imported.startswith("colorbench.methods."):
                    continue
                todo.append(imported)
    return tuple(sorted(set(seen.values())))


@functools.lru_cache(maxsize=None)
def _method_hash(module_name: str, qualname: str) -> str:
    h = hashlib.sha256(core_hash().encode())
    files = project_files(module_name)
    if not files:
        h.update(qualname.encode())
    for path in files:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:HASH_CHARS]


def code_hash(method_cls: type) -> str:
    """The hash of the code a method's cell runs: the colorbench core plus the method's module and its project's
    modules that it imports (see the module docstring)."""
    return _method_hash(method_cls.__module__, method_cls.__qualname__)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def environment(threads: int | None = None) -> dict[str, Any]:
    """``{"versions": {library: version}, "python": "3.11.7", "threads": n}``: what else shapes the numbers."""
    import platform

    if threads is None:
        import torch

        threads = torch.get_num_threads()
    return {"versions": {d: _version(d) for d in LIBRARIES}, "python": platform.python_version(),
            "threads": int(threads)}


def data_fingerprint(data_dir: str | os.PathLike | None) -> str | None:
    """sha256 over (relative path, size, mtime in ns) of every file under ``data_dir``; None when the dataset has
    no folder (built in or generated). A folder that does not exist fingerprints as its path (the cell then fails
    with the data layer's own message)."""
    if not data_dir:
        return None
    root = Path(data_dir).expanduser()
    h = hashlib.sha256(str(root.resolve()).encode())
    if not root.exists():
        return h.hexdigest()[:HASH_CHARS]
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    if len(files) > MAX_DATA_FILES:
        files = files[:MAX_DATA_FILES]
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(root) if root.is_dir() else p.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:HASH_CHARS]

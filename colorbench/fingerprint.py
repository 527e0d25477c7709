"""What a bench cell's numbers depend on, as hashes: the code, the environment and the data.

A cell's cache key (:func:`colorbench.bench.grid.cell_key`) hashes its resolved settings together with

* :func:`code_hash`: the code that computes the cell's numbers and nothing else. That is the static import closure
  (:func:`closure`, read with :mod:`ast`, never imported) of the cell runner (:mod:`colorbench.bench.cell`: the
  data layer, the trainer, the evaluator, the metrics, the Lab layer, configs, checkpoints, ...) and of the
  method's own module (its shared networks under ``colorbench.nets`` and, for a plugin, the modules of its own
  package that it imports). Each module counts as its :mod:`ast` dump without docstrings
  (:func:`normalised_source`), so comments, formatting and docstrings never re-key a cell, and an edit to code that
  no cell runs (the report, the commands, the study, the GPU check) re-keys nothing; an edit to a function body a
  cell runs re-keys the cells whose closure holds its module. Third-party code is covered by :func:`environment`.
  The hash is of the working tree, so an uncommitted edit counts as a commit does;
* :func:`environment`: the versions of the libraries that shape the numbers and the torch thread count;
* :func:`data_fingerprint`: for a dataset on disk, the relative path, size and modification time of every file
  under its folder (the embedded ``sample`` set comes from scikit-image, whose version is in the environment, and
  the generated ``synthetic`` set is code, and so in the code hash).

So a finished cell is reused exactly when none of these changed. Each row records ``code_hash``, ``environment``
and ``data_fingerprint``; a test checks that every committed row's ``code_hash`` is what the code at HEAD computes.
Where the boundary runs (what computes, what shows) is drawn in ``docs/architecture.md``.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import re
import sys
from pathlib import Path
from typing import Any

HASH_CHARS = 16
LIBRARIES = ("torch", "torchvision", "numpy", "pillow", "scikit-image", "timm", "segmentation-models-pytorch",
             "scipy")
"""Distributions whose versions enter every cell key (scipy: the reference computations of some figures)."""
MAX_DATA_FILES = 500_000


_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")
CELL_RUNNER = "colorbench.bench.cell"
"""The module that runs a cell: the root of the static import closure every code hash covers."""


def _module_file(name: str) -> Path | None:
    """The ``.py`` file of module ``name`` (a package: its ``__init__.py``), or None (not Python source, not found)."""
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


def _imports(path: Path, module_name: str, tops: frozenset[str]) -> set[str]:
    """The modules ``path`` (module ``module_name``) imports anywhere in its body, function-level imports included:
    ``import a.b`` gives ``a.b``; ``from a import b`` gives ``a.b`` when that is a module, else ``a`` (the package's
    ``__init__`` defines ``b``). Parent packages are not added: their ``__init__`` runs at import time, but what it
    pulls in is not what the importing module computes with (see :func:`closure`). A string constant that names a
    module (``"colorbench.data.synthetic"`` in the dataset registry's lazy table) counts as an import of it. Only
    names under ``tops``."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    package = module_name if path.name == "__init__.py" else module_name.rpartition(".")[0]
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
            if not _followed(base, tops):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                names.add(sub if alias.name != "*" and _module_file(sub) is not None else base)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_NAME.fullmatch(node.value) \
                and _followed(node.value, tops) and _module_file(node.value) is not None:
            names.add(node.value)  # a module named in a lazy table (importlib.import_module(name) at run time)
    return {n for n in names if n and _followed(n, tops)}


def _followed(name: str, tops: frozenset[str]) -> bool:
    return bool(name) and name.split(".")[0] in tops


@functools.lru_cache(maxsize=None)
def closure(roots: tuple[str, ...], tops: frozenset[str] = frozenset({"colorbench"})) -> dict[str, Path]:
    """``{module: file}``: the modules ``roots`` import statically, transitively, within the top-level packages
    ``tops`` (third-party code is covered by :func:`environment`). Read with :mod:`ast`, never imported.

    A package's ``__init__`` is followed only where a module imports the package itself (``from colorbench.data
    import build_dataset``), not because a submodule of it is imported: so ``colorbench/bench/__init__.py``, which
    lazily re-exports the runner, adds nothing to a cell's closure."""
    seen: dict[str, Path] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or not _followed(name, tops):
            continue
        path = _module_file(name)
        if path is None:
            continue
        seen[name] = path
        todo.extend(n for n in _imports(path, name, tops) if n not in seen)
    return dict(sorted(seen.items()))


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


@functools.lru_cache(maxsize=None)
def normalised_source(path: Path) -> str:
    """The module at ``path`` as :func:`ast.dump` prints it without docstrings: comments, formatting, line numbers
    and docstrings do not count, every statement and expression does."""
    return ast.dump(_strip_docstrings(ast.parse(path.read_bytes(), filename=str(path))))


def code_files(module_name: str) -> dict[str, Path]:
    """The modules whose code a cell of the method defined in ``module_name`` runs: the closure of the cell runner
    and of the method's module (within colorbench and the method's own top-level package, for a plugin)."""
    tops = frozenset({"colorbench", module_name.split(".")[0]})
    return {**closure((CELL_RUNNER,)), **closure((module_name,), tops)}


def _files_hash(files: dict[str, Path], extra: str = "") -> str:
    h = hashlib.sha256(extra.encode() + b"\0")
    for name, path in sorted(files.items()):
        h.update(name.encode() + b"\0" + normalised_source(path).encode() + b"\0")
    return h.hexdigest()[:HASH_CHARS]


def modules_hash(*roots: str) -> str:
    """The hash of the normalised sources of ``roots`` and the colorbench modules they import (:func:`closure`),
    e.g. of the code behind a cached intermediate file such as a colour prior."""
    return _files_hash(closure(tuple(sorted(roots))))


@functools.lru_cache(maxsize=None)
def _method_hash(module_name: str, qualname: str) -> str:
    files = code_files(module_name)
    # a class defined outside a source file (e.g. in a test): its name stands for its code
    return _files_hash(files, "" if module_name in files else f"{module_name}.{qualname}")


def clear_caches() -> None:
    """Forget every file read (for a process that edits sources, e.g. a test)."""
    for cached in (closure, normalised_source, _method_hash):
        cached.cache_clear()


def code_hash(method_cls: type) -> str:
    """The hash of the code a cell of ``method_cls`` runs (see :func:`code_files`), each module normalised by
    :func:`normalised_source`."""
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

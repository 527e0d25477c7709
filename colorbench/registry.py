"""Method registry: register by decorator, discover by file, create by name.

Discovery (no edit to core code for a new method):

1. every module in ``colorbench.methods`` (the repository's ``methods/`` folder);
2. every ``*.py`` file directly in the folders named by ``COLORBENCH_METHODS_PATH`` (several folders joined by
   ``os.pathsep``, ``:`` on Linux and macOS, ``;`` on Windows; sub-folders are not searched; files whose name starts
   with ``_`` are skipped; empty entries are ignored);
3. every entry point in the group :data:`ENTRY_POINT_GROUP` (an installed package's module or class).

A method file that fails to import is reported (name and error) through :func:`load_errors` and a warning; the
others still load. Where each method came from is :func:`method_origin` (recorded in ``run.json`` and every
checkpoint's ``config.json``); :func:`get_method` given that record names the install or the variable that loads
a method it does not find, and never imports anything the record names.
"""
from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.metadata
import importlib.util
import os
import pkgutil
import shlex
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from colorbench.config import build_config, follow_size  # noqa: F401  (re-exported: the registry's callers use them)
from colorbench.errors import UnknownNameError, UserError, unknown_name
from colorbench.method import Method

ENTRY_POINT_GROUP = "colorbench.methods"
PATH_VARIABLE = "COLORBENCH_METHODS_PATH"

_REGISTRY: dict[str, type[Method]] = {}
_LOAD_ERRORS: dict[str, str] = {}
_PATH_MODULES: dict[str, str] = {}  # module name -> the COLORBENCH_METHODS_PATH file it was loaded from
_ENTRY_MODULES: dict[str, dict[str, Any]] = {}  # module name -> the entry point (and distribution) that loaded it
_DISCOVERED = False
M = TypeVar("M", bound=type[Method])


class MethodContractError(UserError, TypeError):
    """A class that ``@register_method`` refuses: the message names the method, what is missing and the fix."""


def register_method(name: str, *, description: str, source: str) -> Callable[[M], M]:
    """Class decorator: ``@register_method("pix2pix", description="...", source="Isola et al. 2017 ...")``."""

    def wrap(cls: M) -> M:
        check_contract(name, cls)
        previous = _REGISTRY.get(name)
        if previous is not None and (previous.__module__, previous.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ValueError(f"method name {name!r} is registered twice: {previous.__module__} and {cls.__module__}")
        cls.name, cls.description, cls.source = name, description, source
        _REGISTRY[name] = cls
        return cls

    return wrap


def check_contract(name: str, cls: Any) -> None:
    """Raise a one-line :class:`MethodContractError` if ``cls`` cannot be registered as method ``name``: a
    ``Method`` subclass with a ``Config`` dataclass, a ``"default"`` variant, variants and ``test_overrides`` that
    name ``Config`` fields, a ``predict`` hook, and ``colorize`` left to the base class (which owns eval mode)."""
    where = f"@register_method({name!r})"
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise MethodContractError(f"{where} must decorate a subclass of colorbench.Method, not {cls!r}")
    if not (isinstance(cls.Config, type) and dataclasses.is_dataclass(cls.Config)):
        raise MethodContractError(f"method {name!r}: {cls.__name__}.Config must be a dataclass (decorate it with "
                                  "@dataclasses.dataclass); its defaults are the paper's settings")
    if not isinstance(cls.variants, Mapping) or "default" not in cls.variants:
        raise MethodContractError(f"method {name!r}: {cls.__name__}.variants has no 'default' entry; add "
                                  "\"default\": {} (the paper configuration) to its variants")
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    for label, values in [*((f"variant {v!r}", o) for v, o in cls.variants.items()),
                          ("test_overrides", cls.test_overrides)]:
        unknown = sorted(set(values) - fields)
        if unknown:
            raise MethodContractError(f"method {name!r}: {label} sets {', '.join(unknown)}, not fields of "
                                      f"{cls.__name__}.Config ({', '.join(sorted(fields)) or 'none'})")
    if cls.colorize is not Method.colorize:
        raise MethodContractError(f"method {name!r}: {cls.__name__} overrides colorize; rename it to predict(L) "
                                  "and drop any eval()/no_grad in it (Method.colorize runs predict without "
                                  "gradients in eval mode)")
    if cls.predict is Method.predict:
        raise MethodContractError(f"method {name!r}: {cls.__name__} has no predict(L) method; add one returning "
                                  "[B,2,H,W] ab/110 for [B,1,H,W] L/50-1")


def method_origin(name_or_cls: str | type[Method]) -> dict[str, Any]:
    """Where a method's code came from, JSON-ready, for ``run.json`` / ``config.json``:

    ``{"kind": "builtin", "module": ...}``, ``{"kind": "entry_point", "entry_point": "NAME = module:attr",
    "distribution": ..., "version": ...}``, ``{"kind": "path", "file": ..., "folder": ...}`` (found through
    ``COLORBENCH_METHODS_PATH``) or ``{"kind": "module", "module": ..., "file": ...}`` (registered by importing a
    module or running a script)."""
    cls = get_method(name_or_cls) if isinstance(name_or_cls, str) else name_or_cls
    module = cls.__module__
    if module in _ENTRY_MODULES:
        return {"kind": "entry_point", "module": module, **_ENTRY_MODULES[module]}
    if module in _PATH_MODULES:
        file = _PATH_MODULES[module]
        return {"kind": "path", "module": module, "file": file, "folder": str(Path(file).parent)}
    if module.startswith("colorbench.methods."):
        return {"kind": "builtin", "module": module}
    file = getattr(sys.modules.get(module), "__file__", None)
    return {"kind": "module", "module": module, "file": str(Path(file).resolve()) if file else None}


def how_to_load(origin: Mapping[str, Any] | None) -> str:
    """One sentence: where a method recorded by :func:`method_origin` came from and what makes it loadable here.
    Only text: nothing the record names is imported."""
    if not isinstance(origin, Mapping):
        return ("the run records no origin (made before colorbench recorded one): install the package that "
                f"provides it, or set {PATH_VARIABLE} to the folder holding its .py file")
    kind = origin.get("kind")
    if kind == "entry_point":
        dist, version = origin.get("distribution"), origin.get("version")
        install = f"pip install '{dist}=={version}'" if dist and version else (f"pip install {dist}" if dist else
                                                                              "pip install the package")
        return (f"it came from the entry point `{origin.get('entry_point')}` (group {ENTRY_POINT_GROUP}) of "
                f"{dist or 'an installed package'} {version or ''}".rstrip() +
                f": install that package (`{install}`, or `pip install -e` its source folder)")
    if kind == "path":
        return (f"it came from the file {origin.get('file')}: if you trust that file, run with "
                f"{PATH_VARIABLE}={shlex.quote(str(origin.get('folder')))} (colorbench never imports a path named "
                "by a run folder)")
    if kind == "builtin":
        return (f"it was built into colorbench ({origin.get('module')}) and this colorbench has no such method: "
                "install the colorbench version named in the checkpoint's config.json")
    file = origin.get("file")
    folder = str(Path(file).parent) if file else "the folder holding its file"
    return (f"it was registered by importing {origin.get('module')}" + (f" ({file})" if file else "") +
            f": import it first, or put the file in a folder and run with {PATH_VARIABLE}={shlex.quote(folder)}, "
            "or package it "
            f"with a {ENTRY_POINT_GROUP} entry point (docs/adding-a-method.md)")


def _record_error(where: str) -> None:
    err = traceback.format_exc(limit=-1).strip().splitlines()[-1]
    _LOAD_ERRORS[where] = err
    warnings.warn(f"colorbench: could not load method file {where}: {err}", stacklevel=3)


def discover(force: bool = False) -> None:
    """Import every method source once (see the module docstring)."""
    global _DISCOVERED
    if _DISCOVERED and not force:
        return
    _DISCOVERED = True
    import colorbench.methods as builtin

    for info in sorted(pkgutil.iter_modules(builtin.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"colorbench.methods.{info.name}")
        except Exception:  # a broken method file must not take the others down
            _record_error(str(Path(builtin.__path__[0]) / f"{info.name}.py"))

    for folder in filter(None, os.environ.get(PATH_VARIABLE, "").split(os.pathsep)):
        for path in sorted(Path(folder).expanduser().glob("*.py")):
            if path.name.startswith("_"):
                continue
            mod_name = f"colorbench_user_methods.{path.stem}"
            if mod_name in sys.modules:
                first = _PATH_MODULES.get(mod_name)
                if first is not None and first != str(path.resolve()):
                    warnings.warn(f"colorbench: {path} is skipped: {first} (earlier on {PATH_VARIABLE}) has the "
                                  "same file name; rename one of them", stacklevel=2)
                continue
            try:
                spec = importlib.util.spec_from_file_location(mod_name, path)
                assert spec is not None and spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                sys.modules[mod_name] = module
                _PATH_MODULES[mod_name] = str(path.resolve())
                spec.loader.exec_module(module)
            except Exception:
                sys.modules.pop(mod_name, None)
                _record_error(str(path))

    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        _ENTRY_MODULES[ep.module] = {"entry_point": f"{ep.name} = {ep.value}",
                                     "distribution": getattr(dist, "name", None),
                                     "version": getattr(dist, "version", None)}
        try:
            ep.load()
        except Exception:
            _record_error(f"entry point {ep.name} = {ep.value}")


def load_errors() -> dict[str, str]:
    """Method files that failed to import: ``{file: error}``."""
    discover()
    return dict(_LOAD_ERRORS)


def list_methods() -> list[str]:
    """Registered method names, sorted."""
    discover()
    return sorted(_REGISTRY)


def get_method(name: str, origin: Mapping[str, Any] | None = None, *, where: str = "") -> type[Method]:
    """The registered class called ``name``; an unknown name raises with the closest matches. ``origin`` (a
    :func:`method_origin` record read from a run folder, and ``where``, that file) makes the error say how to load
    the method; nothing it names is imported."""
    discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        if origin is None and not where:
            raise unknown_name("method", name, sorted(_REGISTRY)) from None
        close = difflib.get_close_matches(name, sorted(_REGISTRY), n=3, cutoff=0.5)
        hint = f" (registered names close to it: {', '.join(map(repr, close))})" if close else ""
        raise UnknownNameError(f"{where + ': ' if where else ''}method {name!r} is not registered here{hint}; "
                               f"{how_to_load(origin)}") from None


def create_method(
    name: str,
    config: Any = None,
    *,
    variant: str = "default",
    num_classes: int | None = None,
    **overrides: Any,
) -> Method:
    """Instantiate method ``name`` with its paper defaults, a named ``variant`` and keyword ``overrides``."""
    cls = get_method(name)
    if config is None:
        config = build_config(cls, overrides, variant)
    elif overrides:
        config = dataclasses.replace(config, **overrides)
    return cls(config, num_classes=num_classes)

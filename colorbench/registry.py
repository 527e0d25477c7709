"""Method registry: register by decorator, discover by file, create by name.

Discovery (no edit to core code for a new method):

1. every module in ``colorbench.methods`` (the repository's ``methods/`` folder);
2. every ``*.py`` file in the folders named by ``COLORBENCH_METHODS_PATH`` (``os.pathsep``-separated);
3. every entry point in the group ``colorbench.methods`` (an installed package's module or class).

A method file that fails to import is reported (name and error) through :func:`load_errors` and a warning; the
others still load.
"""
from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.metadata
import importlib.util
import os
import pkgutil
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from colorbench.checks import config_values
from colorbench.errors import UserError
from colorbench.method import Method

_REGISTRY: dict[str, type[Method]] = {}
_LOAD_ERRORS: dict[str, str] = {}
_DISCOVERED = False
M = TypeVar("M", bound=type[Method])


class UnknownNameError(UserError, KeyError):
    """An unknown method or config key; the message names the closest matches."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def register_method(name: str, *, description: str, source: str) -> Callable[[M], M]:
    """Class decorator: ``@register_method("pix2pix", description="...", source="Isola et al. 2017 ...")``."""

    def wrap(cls: M) -> M:
        if not (isinstance(cls, type) and issubclass(cls, Method)):
            raise TypeError(f"@register_method({name!r}) must decorate a subclass of colorbench.Method")
        if not dataclasses.is_dataclass(cls.Config):
            raise TypeError(f"method {name!r}: {cls.__name__}.Config must be a dataclass")
        previous = _REGISTRY.get(name)
        if previous is not None and (previous.__module__, previous.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ValueError(f"method name {name!r} is registered twice: {previous.__module__} and {cls.__module__}")
        cls.name, cls.description, cls.source = name, description, source
        _REGISTRY[name] = cls
        return cls

    return wrap


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

    for folder in filter(None, os.environ.get("COLORBENCH_METHODS_PATH", "").split(os.pathsep)):
        for path in sorted(Path(folder).glob("*.py")):
            if path.name.startswith("_"):
                continue
            mod_name = f"colorbench_user_methods.{path.stem}"
            if mod_name in sys.modules:
                continue
            try:
                spec = importlib.util.spec_from_file_location(mod_name, path)
                assert spec is not None and spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                sys.modules[mod_name] = module
                spec.loader.exec_module(module)
            except Exception:
                sys.modules.pop(mod_name, None)
                _record_error(str(path))

    for ep in importlib.metadata.entry_points(group="colorbench.methods"):
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


def _unknown(kind: str, name: str, valid: list[str]) -> UnknownNameError:
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return UnknownNameError(f"unknown {kind} {name!r}.{hint} Valid: {', '.join(valid) or '(none)'}")


def get_method(name: str) -> type[Method]:
    """The registered class called ``name``; an unknown name raises with the closest matches."""
    discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise _unknown("method", name, sorted(_REGISTRY)) from None


def follow_size(cls: type[Method], overrides: Mapping[str, Any] | None, size: int | None,
                batch: int | None = None) -> dict[str, Any]:
    """The one rule that ties a method's config to the trainer's crop and batch (a copy of ``overrides``):
    ``image_size = size`` when the config has that field and ``overrides`` do not set it (depth follows the crop);
    ``batch_size = batch`` when the config has that field, over any override (the field is only the trainer's
    default: the batch a run uses is the one its config records). ``None`` leaves that field alone."""
    out = dict(overrides or {})
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    if size is not None and "image_size" in fields and "image_size" not in out:
        out["image_size"] = int(size)
    if batch is not None and "batch_size" in fields:
        out["batch_size"] = int(batch)
    return out


def build_config(cls: type[Method], overrides: Mapping[str, Any] | None = None, variant: str = "default",
                 where: str = "--set") -> Any:
    """``cls.Config`` with ``variant``'s overrides, then ``overrides`` applied (strings coerced to field types).

    An unknown key or variant raises with the valid names and the closest match; a value that does not fit its
    field (type, finite, sign: see :func:`colorbench.checks.config_values`) raises a one-line ``UserError`` that
    names the key after ``where``.
    """
    if variant not in cls.variants:
        raise _unknown(f"variant of {cls.name}", variant, sorted(cls.variants))
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    merged = {**cls.variants[variant], **(overrides or {})}
    for key in merged:
        if key not in fields:
            raise _unknown(f"config key of {cls.name}", key, sorted(fields))
    return cls.Config(**config_values(cls, merged, where))


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

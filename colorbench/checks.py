"""One validation of every user-supplied value, before any work starts.

Command-line flags, ``--set`` overrides, the ``[train]`` table of a config TOML, bench profile values and the
``config.json`` of a run folder all pass through these functions. Each bad value raises a
:class:`~colorbench.errors.UserError` whose one line names the value (``--steps -5``), says why it is wrong and
how to fix it; the command line prints it and exits with status 2.

Method configs are checked generically (the core never names a method): a field's value must have the field's type,
a float must be finite, and a number whose paper default is not negative must not be negative.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any, Mapping

from colorbench.errors import UserError
from colorbench.metrics.structural import WIN_SIZE

MIN_SIZE = WIN_SIZE  # px: SSIM's Gaussian window; a smaller crop trains but can never be evaluated


class ConfigValueError(UserError, ValueError):
    """A config value that does not fit its field (a ``UserError``, and a ``ValueError`` for older callers)."""


def integer(value: Any, name: str, *, minimum: int | None = None, fix: str = "") -> int:
    """``value`` as an int (an int, or a string of one), at least ``minimum``; else a UserError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise UserError(f"{name} {value!r}: expected a whole number{_fix(fix)}")
    try:
        number = int(value)
    except ValueError:
        raise UserError(f"{name} {value!r}: expected a whole number{_fix(fix)}") from None
    if minimum is not None and number < minimum:
        raise UserError(f"{name} {number}: must be at least {minimum}{_fix(fix)}")
    return number


def optional_integer(value: Any, name: str, *, minimum: int | None = None, fix: str = "") -> int | None:
    """None stays None; anything else as :func:`integer`."""
    return None if value is None else integer(value, name, minimum=minimum, fix=fix)


def _fix(fix: str) -> str:
    return f"; {fix}" if fix else ""


# ---------------------------------------------------------------------------------------- trainer settings
# setting -> (minimum, what the value is): trainer settings and the counts other commands take; None = the default
RULES: dict[str, tuple[int, str]] = {
    "steps": (1, "training steps in total"),
    "epochs": (1, "epochs to train"),
    "batch_size": (1, "images per step"),
    "size": (MIN_SIZE, f"the square training crop in px; at least {MIN_SIZE}, the SSIM window that eval needs"),
    "seed": (0, "the seed"),
    "val_every": (0, "steps between validations; 0 = never"),
    "ckpt_every": (0, "steps between checkpoints; 0 = only at the end"),
    "keep": (1, "how many step checkpoints to keep, at least 1"),
    "grid_every": (0, "steps between validation image grids; 0 = never"),
    "num_workers": (0, "data-loader worker processes"),
    "nonfinite_patience": (1, "consecutive non-finite losses that stop training"),
    "max_pixels": (1, "the largest image in pixels"),
}


def setting(key: str, value: Any, where: str) -> int | None:
    """Check one setting (see ``RULES``); ``where`` names it as the user wrote it (``--steps``)."""
    if value is None:
        return None
    minimum, what = RULES[key]
    return integer(value, where, minimum=minimum, fix=f"give {what}")


def train_settings(values: Mapping[str, Any], names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Check every known key of ``values``; ``names[key]`` is how the user wrote it (default ``--key``)."""
    names = names or {}
    out = dict(values)
    for key, value in values.items():
        if key in RULES:
            out[key] = setting(key, value, names.get(key, "--" + key.replace("_", "-")))
    return out


# ------------------------------------------------------------------------------------------- method configs
def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def coerce(value: Any, annotation: Any, name: str) -> Any:
    """``value`` (a ``--set`` string, or a TOML/JSON value) as the field type ``annotation`` (bool, int, float, str,
    Literal, tuple, list, Optional); a value that does not fit raises :class:`ConfigValueError` naming ``name``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return coerce(value, inner[0], name)
        for option in inner:  # the first member the value fits
            try:
                return coerce(value, option, name)
            except ConfigValueError:
                continue
        raise ConfigValueError(f"{name}={_show(value)}: expected one of {', '.join(map(_type_name, inner))}")
    if origin is typing.Literal:
        for choice in args:
            if choice == value or str(choice) == str(value):
                return choice
        raise ConfigValueError(f"{name}={_show(value)}: must be one of {', '.join(map(str, args))}")
    if annotation is bool:
        if isinstance(value, bool):
            return value
        low = str(value).lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ConfigValueError(f"{name}={_show(value)}: expected true or false")
    if origin in (tuple, list) or annotation in (tuple, list):
        container = origin or annotation
        if isinstance(value, str):
            value = [p.strip() for p in value.strip("()[] ").split(",") if p.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigValueError(f"{name}={_show(value)}: expected a list of values, e.g. {name}=1,2")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],)
        if origin is tuple and len(args) > 1:
            if len(value) != len(args):
                raise ConfigValueError(f"{name}={_show(value)}: expected {len(args)} values, got {len(value)}")
            return tuple(coerce(v, a, name) for v, a in zip(value, args))
        inner = args[0] if args else Any
        return container(coerce(v, inner, name) for v in value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)) or (
                isinstance(value, str) and not _is_int(value)):
            raise ConfigValueError(f"{name}={_show(value)}: expected a whole number")
        return int(value)
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigValueError(f"{name}={_show(value)}: expected a number")
        try:
            number = float(value)
        except ValueError:
            raise ConfigValueError(f"{name}={_show(value)}: expected a number") from None
        if not math.isfinite(number):
            raise ConfigValueError(f"{name}={_show(value)}: must be a finite number")
        return number
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigValueError(f"{name}={_show(value)}: expected text")
        return value
    return value


def _show(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def config_values(cls: type, values: Mapping[str, Any], where: str = "--set") -> dict[str, Any]:
    """``values`` for ``cls.Config`` coerced to the field types and range-checked; ``where`` prefixes each name
    (``--set lr=abc``, ``run/config.json: width``). Unknown keys are the caller's to report."""
    config_cls = cls.Config
    hints = typing.get_type_hints(config_cls)
    defaults = {f.name: f.default for f in dataclasses.fields(config_cls)}
    out = {}
    for key, value in values.items():
        name = f"{where}{key}" if where.endswith(".") else f"{where} {key}" if where else key
        default = defaults.get(key, dataclasses.MISSING)
        hint = "" if default is dataclasses.MISSING else f" (the default is {default!r})"
        try:
            coerced = coerce(value, hints.get(key, Any), name)
        except ConfigValueError as exc:
            raise ConfigValueError(f"{exc}{hint}") from None
        if _negative(coerced) and default is not dataclasses.MISSING and not _negative(default):
            raise ConfigValueError(f"{name}={_show(value)}: must not be negative{hint}")
        out[key] = coerced
    return out


def _negative(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value < 0
    if isinstance(value, (tuple, list)):
        return any(_negative(v) for v in value)
    return False

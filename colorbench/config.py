"""Method configs: coercion, validation and serialisation, in one place.

A method's ``Config`` is a dataclass whose defaults are its paper's settings. Values reach it from ``--set KEY=VALUE``
strings, TOML profiles and recipes, and the ``config.json`` of a run folder; all of them pass through
:func:`config_values` (each value coerced to its field's type, a float finite, a number whose default is not
negative not negative), so a bad value fails as one line naming it. :func:`build_config` applies a variant and
overrides, :func:`follow_size` is the one rule that ties ``image_size``/``batch_size`` to the trainer's crop and
batch, and :func:`config_dict` / :func:`config_from_dict` write a config to JSON and read it back.

Torch-free (the command line checks values before it imports torch); the core never names a method here.
"""
from __future__ import annotations

import dataclasses
import json
import math
import typing
from typing import TYPE_CHECKING, Any, Mapping

from colorbench.errors import UserError, unknown_name

if TYPE_CHECKING:
    from colorbench.method import Method


class ConfigValueError(UserError, ValueError):
    """A config value that does not fit its field (a ``UserError``, and a ``ValueError`` for older callers)."""



# ------------------------------------------------------------------------------------------------ coercion
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


# ------------------------------------------------------------------------------------- variants, overrides
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
    field (type, finite, sign: see :func:`config_values`) raises a one-line ``UserError`` that
    names the key after ``where``.
    """
    if variant not in cls.variants:
        raise unknown_name(f"variant of {cls.name}", variant, sorted(cls.variants))
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    merged = {**cls.variants[variant], **(overrides or {})}
    for key in merged:
        if key not in fields:
            raise unknown_name(f"config key of {cls.name}", key, sorted(fields))
    return cls.Config(**config_values(cls, merged, where))


# ------------------------------------------------------------------------------------------- serialisation
def config_dict(config: Any) -> dict[str, Any]:
    """A method config as JSON-ready data (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def config_from_dict(cls: type[Method], values: dict[str, Any], where: str = "config.json") -> Any:
    """Rebuild ``cls.Config`` from :func:`config_dict` output, each value checked and coerced to its field's type
    (lists go back to tuples) by :func:`config_values`; ``where`` names the file in errors."""
    if not isinstance(values, dict):
        raise UserError(f"{where}: 'config' must be a JSON object of config values, not {type(values).__name__}; "
                        "the checkpoint is corrupt")
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise UserError(f"{where}: config keys {unknown} are not fields of method {cls.name!r}; it was saved by "
                        f"another version of {cls.name!r} (valid keys: {sorted(fields)})")
    return cls.Config(**config_values(cls, values, where=f"{where}: config"))

"""One validation of every user-supplied number, before any work starts.

Command-line flags, the ``[train]`` table of a config TOML and bench profile values pass through these functions
(method config values, from ``--set`` or a run folder's ``config.json``, go through :mod:`colorbench.config`). Each
bad value raises a :class:`~colorbench.errors.UserError` whose one line names the value (``--steps -5``), says why
it is wrong and how to fix it; the command line prints it and exits with status 2.
"""
from __future__ import annotations

from typing import Any

from colorbench.errors import UserError
from colorbench.ssim_window import WIN_SIZE

MIN_SIZE = WIN_SIZE  # px: SSIM's Gaussian window; a smaller crop trains but can never be evaluated
MAX_SIZE = 16384  # px: a square crop this large is 3 GiB per float32 RGB image; 100000 asked for 149 GiB at once
MAX_SEED = 2**63 - 1  # torch, NumPy and the trainer's SplitMix64 all take it; a 23-digit seed overflowed


def integer(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None, fix: str = "") -> int:
    """``value`` as an int (an int, or a string of one), in ``minimum..maximum``; else a UserError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise UserError(f"{name} {value!r}: expected a whole number{_fix(fix)}")
    try:
        number = int(value)
    except ValueError:
        raise UserError(f"{name} {value!r}: expected a whole number{_fix(fix)}") from None
    if minimum is not None and number < minimum:
        raise UserError(f"{name} {number}: must be at least {minimum}{_fix(fix)}")
    if maximum is not None and number > maximum:
        raise UserError(f"{name} {number}: must be at most {maximum}{_fix(fix)}")
    return number


def optional_integer(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None,
                     fix: str = "") -> int | None:
    """None stays None; anything else as :func:`integer`."""
    return None if value is None else integer(value, name, minimum=minimum, maximum=maximum, fix=fix)


def positive_number(value: Any, name: str, *, fix: str = "") -> float:
    """``value`` as a finite float above 0 (an int or a float; ``3e12``); else a UserError naming ``name``."""
    import math

    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise UserError(f"{name} {value!r}: expected a number above 0{_fix(fix)}")
    return float(value)


def _fix(fix: str) -> str:
    return f"; {fix}" if fix else ""


# ------------------------------------------------------------------------------------------------- counts
# setting -> (minimum, what the value is): counts commands take beside the trainer's (whose checks live with their
# defaults, in colorbench.train.settings.TrainSettings)
RULES: dict[str, tuple[int, str]] = {
    "max_pixels": (1, "the largest image in pixels"),
}


def setting(key: str, value: Any, where: str) -> int | None:
    """Check one setting (see ``RULES``); ``where`` names it as the user wrote it (``--steps``)."""
    if value is None:
        return None
    minimum, what = RULES[key]
    return integer(value, where, minimum=minimum, fix=f"give {what}")


def parse_sets(items: list[str], flag: str = "--set") -> dict[str, str]:
    """``["lr=1e-4", "norm=instance"]`` -> ``{"lr": "1e-4", "norm": "instance"}`` (the values' types are checked by
    whoever takes them: the config registry for ``--set``, :mod:`colorbench.data.options` for ``--data``)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            example = "lr=1e-4" if flag == "--set" else "resize=128"
            raise UserError(f"{flag} {item!r}: expected KEY=VALUE, e.g. {flag} {example}")
        out[key.strip()] = value.strip()
    return out

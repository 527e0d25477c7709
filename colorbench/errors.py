"""Errors a user can fix. The command line prints them as one line (no traceback) and exits with status 2."""
from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input (a path, a name, a value); the message names it and says how to fix it."""


class UnknownNameError(UserError, KeyError):
    """An unknown method or config key; the message names the closest matches."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def unknown_name(kind: str, name: str, valid: list[str]) -> UnknownNameError:
    """The error for an unknown ``name`` of ``kind`` (a method, a variant, a config key), with the closest of
    ``valid`` and every valid name."""
    import difflib

    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return UnknownNameError(f"unknown {kind} {name!r}.{hint} Valid: {', '.join(valid) or '(none)'}")

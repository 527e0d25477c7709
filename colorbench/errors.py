"""Errors a user can fix. The command line prints them as one line (no traceback) and exits with status 2."""
from __future__ import annotations

import errno


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


_OS_HINTS = {
    errno.EROFS: "the file system is read-only: choose a writable place",
    errno.ENOSPC: "the disk is full: free some space or choose another disk",
    errno.EDQUOT: "over the disk quota: free some space or choose another disk",
    errno.EFBIG: "over the file-size limit (ulimit -f): raise it or write elsewhere",
    errno.EISDIR: "that is a folder: give a file name",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
    errno.EEXIST: "a file is in the way where a folder is expected: choose another path",
    errno.EACCES: "permission denied: choose a path you may use, or change its permissions",
    errno.EPERM: "operation not permitted: choose a path you may use",
    errno.ENOENT: "no such file or folder: check the path",
    errno.ENAMETOOLONG: "the name is too long: choose a shorter path",
}


def os_error_line(exc: OSError, what: str = "") -> str:
    """One line for a failed file operation: ``what`` (``--csv``), the path, the system's reason and the fix."""
    import os

    path = exc.filename if exc.filename is not None else ""
    shown = os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else str(path)
    hint = _OS_HINTS.get(exc.errno or -1, "check the path and the disk")
    reason = exc.strerror or type(exc).__name__
    head = " ".join(p for p in (what, shown) if p)
    return f"{head + ': ' if head else ''}{reason} ({hint})"

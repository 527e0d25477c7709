"""Errors a user can fix. The command line prints them as one line (no traceback) and exits with status 2."""
from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input (a path, a name, a value); the message names it and says how to fix it."""

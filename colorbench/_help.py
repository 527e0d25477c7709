"""The help formatter of every ``colorbench`` page (the main CLI and ``python -m colorbench.study``), in a module
that imports nothing of colorbench, so neither entry point reaches into the other."""
from __future__ import annotations

import argparse
import textwrap


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default unless its help already says it, or the default is empty (None/False/[]); keeps
    the lines of a description or epilog, wrapping a long one unless it is indented (an example command, which a
    reader copies whole)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(indent + line if line[:1].isspace() else textwrap.fill(line, width, initial_indent=indent,
                                                                                subsequent_indent=indent)
                         for line in text.splitlines())

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        empty = action.default is None or action.default is False or action.default == [] \
            or action.default == argparse.SUPPRESS
        if "default" in text.lower() or empty:
            return text
        return super()._get_help_string(action)

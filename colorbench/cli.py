"""The ``colorbench`` command line: one entry point, one module per sub-command in ``colorbench.commands``."""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from colorbench.errors import UserError

# name -> module under colorbench.commands (each: HELP, add_arguments(parser), run(args) -> int)
COMMANDS = {
    "list": "list_cmd",
    "train": "train",
    "eval": "evaluate",
    "colorize": "colorize",
    "bench": "bench",
    "report": "report",
    "weights": "weights",
    "study": "study",
}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default unless its help already says it, or the default is empty (None/False/[])."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or action.default in (None, False, [], argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="colorbench",
        description="Train and compare image-colourisation methods on equal terms. "
        "`colorbench COMMAND --help` explains each command.",
    )
    parser.add_argument("--version", action="version", version=f"colorbench {__import__('colorbench').__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(f"colorbench.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"colorbench.commands.{module_name}":
                raise
            continue  # command not built yet
        p = sub.add_parser(name, help=module.HELP, description=module.HELP,
                           formatter_class=HelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except UserError as exc:
        print(f"colorbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"colorbench {args.command}: interrupted; what was written so far is kept (run the same command to resume)",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The ``colorbench`` command line: one entry point, one module per sub-command in ``colorbench.commands``.

Building the parser imports nothing heavy (no torch, numpy or PIL): each command module imports what it needs
inside ``run``, so ``colorbench --help`` and every ``COMMAND --help`` answer at once.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from colorbench._help import HelpFormatter
from colorbench.errors import UserError

# name -> module under colorbench.commands (each: HELP, add_arguments(parser), run(args) -> int)
COMMANDS = {
    "list": "list_cmd",
    "train": "train",
    "eval": "evaluate",
    "compare": "compare",
    "colorize": "colorize",
    "bench": "bench",
    "report": "report",
    "weights": "weights",
    "study": "study",
    "check-method": "check_method",
}

EXAMPLES = """examples:
  colorbench list methods
  colorbench train pix2pix --dataset openphotos --steps 500
  colorbench eval runs/pix2pix-default-openphotos-s0
  colorbench colorize runs/pix2pix-default-openphotos-s0 photo.jpg --out coloured/
  colorbench bench --profile quick
  colorbench check-method my_method"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="colorbench",
        description="Train and compare image-colourisation methods on equal terms. "
        "`colorbench COMMAND --help` explains each command.",
        epilog=EXAMPLES, formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"colorbench {__import__('colorbench').__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"colorbench.commands.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP, epilog=module.EXAMPLES,
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
        print(f"colorbench {args.command}: interrupted; what was written so far is kept "
              "(run the same command to resume)",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

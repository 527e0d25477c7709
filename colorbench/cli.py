"""The ``colorbench`` command line: one entry point, one module per sub-command in ``colorbench.commands``.

Building the parser imports nothing heavy (no torch, numpy or PIL): each command module imports what it needs
inside ``run``, so ``colorbench --help`` and every ``COMMAND --help`` answer at once.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from colorbench._help import HelpFormatter
from colorbench.errors import UserError, os_error_line

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
    _one_line_io()
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
    except OSError as exc:  # the one place a failed read or write of a user's path becomes one line
        if os.environ.get("COLORBENCH_TRACEBACK"):
            raise
        print(f"colorbench {args.command}: error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"colorbench {args.command}: error: out of memory; lower --size, --batch-size, --max-pixels or "
              "--tile", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM and the like (colorbench.train.loop.Stopped)
        print(f"colorbench {args.command}: interrupted; what was written so far is kept "
              "(run the same command to resume)",
              file=sys.stderr)
        return 128 + int(getattr(exc, "signum", 2))  # 130 for Ctrl-C, 143 for SIGTERM, as a shell reports them


def _one_line_io() -> None:
    """A path that is not UTF-8 prints with escapes instead of raising UnicodeEncodeError; under a file-size limit
    (``ulimit -f``; CPython ignores SIGXFSZ, so a write past it fails with EFBIG: one line) no ``.pyc`` is written,
    since importlib's single short write would leave a truncated one that breaks every later import. (Set
    COLORBENCH_TRACEBACK=1 to see an I/O error's traceback.)"""
    if _size_limited():
        sys.dont_write_bytecode = True
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def _size_limited() -> bool:
    """True when this process has a file-size limit (``ulimit -f``)."""
    try:
        import resource
    except ImportError:  # Windows
        return False
    return resource.getrlimit(resource.RLIMIT_FSIZE)[0] != resource.RLIM_INFINITY


if __name__ == "__main__":
    sys.exit(main())

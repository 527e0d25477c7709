"""``colorbench check-method NAME...``: the shared conformance checks (:mod:`colorbench.conformance`) on installed
methods, without a checkout of the repository and without pytest (nothing is written in the current folder)."""
from __future__ import annotations

import argparse
import sys

HELP = "run the shared conformance checks on a registered method (an installed package's too): train, colourise, reload"
EXAMPLES = """examples:
  colorbench check-method pix2pix
  colorbench check-method my_method --checks colorize_keeps_size save_then_load
  COLORBENCH_METHODS_PATH=~/my_methods colorbench check-method my_method"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from colorbench.conformance import CHECKS

    parser.add_argument("names", nargs="+", metavar="NAME", help="registered method names (`colorbench list methods`)")
    parser.add_argument("--checks", nargs="+", metavar="CHECK", choices=CHECKS, default=list(CHECKS),
                        help=f"which checks to run, of: {', '.join(CHECKS)} (default: all)")


def run(args: argparse.Namespace) -> int:
    from colorbench.conformance import run_checks
    from colorbench.registry import get_method

    for name in args.names:
        get_method(name)  # an unknown name fails before any work, with the closest names
    failed = 0
    for name in args.names:
        print(f"{name} ({get_method(name).__module__}):", flush=True)
        outcomes = run_checks(name, tuple(args.checks), echo=_echo)
        failed += sum(o.status == "failed" for o in outcomes)
    if failed:
        print(f"{failed} check(s) failed", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


def _echo(o) -> None:
    print(f"  {o.status:<7} {o.check:<26} {o.seconds:6.1f} s  {o.detail}".rstrip(), flush=True)

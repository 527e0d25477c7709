"""``python -m colorbench.study create|invite|serve|report ...``: the same as ``colorbench study ...``, without
importing the other commands (and torch), so a study server starts in well under a second."""
from __future__ import annotations

import argparse
import sys

from colorbench.study import cli as study
from colorbench.errors import UserError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorbench.study", description=study.HELP)
    study.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return study.run(args)
    except UserError as exc:
        print(f"colorbench study: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

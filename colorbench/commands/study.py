"""``colorbench study create|invite|serve|report``: the human perceptual study. The command lives with the study
(:mod:`colorbench.study.cli`), which ``python -m colorbench.study`` runs without the rest of the CLI."""
from __future__ import annotations

from colorbench.study.cli import EXAMPLES, HELP, add_arguments, run

__all__ = ["EXAMPLES", "HELP", "add_arguments", "run"]

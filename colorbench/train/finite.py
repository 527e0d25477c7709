"""Non-finite losses stop a run: a NaN or infinite loss never trains on to the end, never becomes ``LAST``.

:class:`FiniteWatch` counts consecutive steps whose losses are not all finite; after ``patience`` of them the
trainer stops and raises :class:`NonFiniteLoss` naming the step and the loss that went bad. Checkpoints are only
written while the losses and every floating-point weight are finite, so ``LAST`` (and the optimiser state saved
with it) always names the last finite checkpoint.
"""
from __future__ import annotations

import math
from typing import Mapping

import torch

from colorbench.errors import UserError


class NonFiniteLoss(UserError):
    """Training stopped on a non-finite loss; the message names the step, the loss and the checkpoint kept."""


class FiniteWatch:
    """Counts consecutive steps with a non-finite loss (``patience``: how many stop the run, at least 1)."""

    def __init__(self, patience: int = 1) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise UserError(f"nonfinite_patience {patience!r}: must be a whole number >= 1 (consecutive non-finite "
                            "steps that stop training; 1 = stop at the first)")
        self.patience = patience
        self.streak = 0
        self.first_bad: tuple[int, str, float] | None = None  # (step, loss name, value) that opened the streak

    def update(self, step: int, losses: Mapping[str, float]) -> bool:
        """Record step ``step``'s losses (1-based: the step just done); True when the run must stop."""
        bad = [(k, v) for k, v in losses.items() if not math.isfinite(float(v))]
        if not bad:
            self.streak, self.first_bad = 0, None
            return False
        self.streak += 1
        if self.first_bad is None:
            self.first_bad = (step, *bad[0])
        return self.streak >= self.patience

    @property
    def finite(self) -> bool:
        """True while the newest losses were finite."""
        return self.streak == 0

    def error(self, method: str, last_checkpoint: str | None) -> NonFiniteLoss:
        step, key, value = self.first_bad or (0, "?", math.nan)
        kept = (f"checkpoints/LAST names {last_checkpoint}, the last finite one" if last_checkpoint
                else "no checkpoint was written (none was finite)")
        streak = f"{self.streak} step{'s' if self.streak != 1 else ''} in a row"
        return NonFiniteLoss(f"{method}: training stopped at step {step}: loss {key} = {value} is not finite "
                             f"({streak}); {kept}. Lower the learning rate (--set lr=...) and train into another "
                             "--out, or raise --nonfinite-patience to tolerate occasional bad steps")


def weights_finite(module: torch.nn.Module) -> bool:
    """True when every floating-point parameter and buffer of ``module`` is finite."""
    tensors = [t for t in (*module.parameters(), *module.buffers()) if t.is_floating_point() and t.numel()]
    if not tensors:
        return True
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())

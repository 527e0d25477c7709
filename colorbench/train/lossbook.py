"""A step's losses kept where the step left them, and read by the host only at the trainer's read points.

``train_step`` returns each loss as a Python float or as a tensor (0-dim, on the method's device: a loss it never
``.item()``-ed). Reading a device tensor waits for the device, which a CUDA graph cannot do inside a step and which
costs a synchronisation per step when done after it; so the trainer reads only where it needs host values (a
``log_every`` row, a checkpoint, a validation, a grid, the last step, a stop). :meth:`LossBook.record` keeps each
step's tensor losses stacked on the device (one small copy, no wait); :meth:`LossBook.read` fetches every step
recorded since the last read in one transfer and hands them, step by step and in order, to the
:class:`~colorbench.train.finite.FiniteWatch`. The watch therefore sees exactly the values it saw when every step
was read: it stops the run on the same streak and names the same step (the first non-finite step of the streak),
but training runs on to the read point before it stops. Float values are exact: a tensor's value is carried in
float64 (exact for float32, bf16 and fp16 losses), so ``.tolist()`` gives the float ``.item()`` gives.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch

from colorbench.train.finite import FiniteWatch


class LossBook:
    """The losses of the steps since the last read (device tensors stay on the device) and the newest step's floats."""

    def __init__(self, watch: FiniteWatch) -> None:
        self.watch = watch
        self.pending: list[tuple[int, dict[str, Any], tuple[str, ...], torch.Tensor | None]] = []
        self.latest: dict[str, Any] = {}  # the newest step read: loss name -> float (non-tensor values as given)

    def record(self, step: int, losses: Mapping[str, Any]) -> None:
        """Keep step ``step``'s losses (1-based: the step just done) without waiting for the device.

        Tensor values must hold one element (any shape of one element); other values are kept as given."""
        names = tuple(k for k, v in losses.items() if isinstance(v, torch.Tensor))
        for k in names:
            if losses[k].numel() != 1:
                raise ValueError(f"train_step returned loss {k!r} as a tensor of shape {tuple(losses[k].shape)}; a "
                                 "loss is one number (a 0-dim tensor or a float)")
        stacked = torch.stack([losses[k].detach().reshape(()).double() for k in names]) if names else None
        self.pending.append((step, dict(losses), names, stacked))

    def read(self) -> bool:
        """Fetch every step recorded since the last read (one wait for the device), feed them to the watch in order
        and set :attr:`latest` to the newest step's values; True when the watch stops the run (it is then fed no
        further step, so it names the streak that stopped it)."""
        if not self.pending:
            return False
        stacks = [s for *_, s in self.pending if s is not None]
        values = iter(torch.cat(stacks).tolist() if stacks else [])
        stop = False
        for step, losses, names, _ in self.pending:
            row = dict(losses)
            for k in names:
                row[k] = next(values)
            self.latest = row
            stop = stop or self.watch.update(step, row)
        self.pending.clear()
        return stop

"""Validation during training: ``colorize`` the first batches of the val split and score the ab prediction."""
from __future__ import annotations

import warnings
from typing import Any, Callable

import torch
from torch.utils.data import DataLoader, Dataset

from colorbench.color import AB_SCALE
from colorbench.method import Method
from colorbench.train.batches import to_device

_warned = False


def _evaluator() -> Any | None:
    """A fresh ``colorbench.evaluator.Evaluator`` when that module exists, else None."""
    global _warned
    try:
        from colorbench.evaluator import Evaluator
    except ImportError:
        return None
    try:
        return Evaluator()
    except Exception as exc:  # an evaluator that needs arguments we do not know: fall back to the L1
        if not _warned:
            warnings.warn(f"validation uses the ab L1 only: Evaluator() failed ({exc})", stacklevel=3)
            _warned = True
        return None


@torch.no_grad()
def validate(method: Method, dataset: Dataset, batch_size: int, device: torch.device, max_batches: int,
             autocast: Callable[[], Any], channels_last: bool = False) -> dict[str, float]:
    """``{"val_mae_ab": mean |ab_pred - ab_true| in Lab units, "val_<metric>": ...}`` over the first
    ``max_batches`` batches of ``dataset`` (fixed order). Every DDP rank runs it (wrapped networks may
    synchronise buffers in their forward); leaves the method in ``eval()`` mode."""
    method.eval()
    evaluator = _evaluator()
    total, count = 0.0, 0
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    for i, batch in enumerate(loader):
        if i >= max_batches:
            break
        batch = to_device(batch, device, channels_last)
        with autocast():
            pred = method.colorize(batch["L"])
        pred = pred.float()
        total += float((pred - batch["ab"]).abs().mean(dim=(1, 2, 3)).sum()) * AB_SCALE
        count += pred.shape[0]
        if evaluator is not None:
            evaluator.update(pred, batch)
    out = {"val_mae_ab": total / max(count, 1)}
    if evaluator is not None:
        for key, value in evaluator.compute().items():
            if isinstance(value, (int, float)) or (torch.is_tensor(value) and value.numel() == 1):
                out[f"val_{key}"] = float(value)
    return out

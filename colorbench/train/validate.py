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


def _evaluator(name: str) -> Any | None:
    """A fresh ``colorbench.evaluator.Evaluator`` when that module exists, else None."""
    try:
        from colorbench.evaluator import Evaluator
    except ImportError:
        return None
    try:
        return Evaluator(method_name=name, keep_records=False)
    except Exception as exc:  # an evaluator that changed its signature: fall back to the L1
        _warn_once(f"validation uses the ab L1 only: Evaluator() failed ({exc})")
        return None


def _warn_once(message: str) -> None:
    global _warned
    if not _warned:
        warnings.warn(message, stacklevel=4)
        _warned = True


@torch.no_grad()
def validate(method: Method, dataset: Dataset, batch_size: int, device: torch.device, max_batches: int,
             autocast: Callable[[], Any], channels_last: bool = False) -> dict[str, float]:
    """``{"val_mae_ab_lab": mean |ab_pred - ab_true| in Lab units, "val_<metric>": ...}`` over the first
    ``max_batches`` batches of ``dataset`` (fixed order). Every DDP rank runs it (wrapped networks may
    synchronise buffers in their forward); leaves the method in ``eval()`` mode."""
    method.eval()
    evaluator = _evaluator(method.name)
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
            try:
                evaluator.update(pred, batch)
            except ValueError as exc:  # e.g. NaN in the prediction: training goes on, the L1 says it
                _warn_once(f"validation: the evaluator refused a prediction ({exc})")
                evaluator = None
    out = {"val_mae_ab_lab": total / max(count, 1)}
    if evaluator is not None and count:
        for key, value in evaluator.compute().items():
            if isinstance(value, (int, float)) or (torch.is_tensor(value) and value.numel() == 1):
                out[f"val_{key}"] = float(value)
    return out

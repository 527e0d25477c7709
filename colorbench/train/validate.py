"""Validation during training: the evaluator (:func:`colorbench.evaluator.evaluate`) on a fixed set of val images."""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import torch
from torch.utils.data import Dataset

from colorbench.color import AB_SCALE
from colorbench.evaluator import NonFiniteError, evaluate
from colorbench.method import Method


def validate(method: Method, dataset: Dataset, batch_size: int, device: torch.device, max_images: int,
             autocast: Callable[[], Any], channels_last: bool = False) -> dict[str, float]:
    """``{"val_<figure>": ...}`` over the first ``max_images`` images of ``dataset`` (fixed order, so the same
    images whatever ``batch_size``), plus ``val_mae_ab_lab`` (mean |Δab| in Lab units) and ``val_images``. Every
    DDP rank runs it (wrapped networks may synchronise buffers in their forward). A non-finite prediction does not
    stop training here: the figures read NaN and a warning says why (the trainer's own check stops a diverged run)."""
    try:
        result = evaluate(method, dataset, batch_size=batch_size, device=device, max_images=max_images,
                          keep_records=False, autocast=autocast, channels_last=channels_last)
    except NonFiniteError as exc:
        warnings.warn(f"validation: {str(exc).splitlines()[0]}", stacklevel=2)
        return {"val_mae_ab_lab": math.nan, "val_images": 0}
    out = {f"val_{k}": v for k, v in result.figures.items()}
    out["val_mae_ab_lab"] = result.figures["mae_ab"] * AB_SCALE
    out["val_images"] = result.n_images
    return out

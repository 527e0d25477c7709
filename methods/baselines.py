"""Floors for every table: ``gray`` (ab = 0, the input left grey) and ``mean_color`` (the training set's mean ab).

``mean_color`` accumulates the per-pixel mean of the training ab over every batch ``train_step`` sees (a running
mean, weighted by pixel count; summed over ranks under ``torch.distributed``), and paints every pixel with it.
The mean minimises the squared error of a constant prediction, so it is the best constant colour by MSE.
Its reported losses are the L1 and squared error of the current mean on the incoming batch, *before* updating;
``update`` (the size of the change of the mean, ab/110 units) falls as the estimate converges and is the loss a
test watches: on a dataset whose mean ab is near 0 the errors themselves barely move.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist

from colorbench.method import Batch, Method
from colorbench.registry import register_method


@dataclass
class GrayConfig:
    """No settings: the prediction is ab = 0 (neutral grey)."""


@register_method("gray", description="Floor: no colour at all (ab = 0, the grey input)",
                 source="baseline (no training)")
class Gray(Method):
    capture_note = "it trains nothing: its step only reports the L1 of ab = 0, read with .item()"
    Config = GrayConfig
    is_baseline = True
    trainable = False
    watch_loss = "loss"

    def train_step(self, batch: Batch, step: int) -> dict[str, float]:
        """Nothing to learn; reports the L1 of ab = 0 on the batch (ab/110 units)."""
        return {"loss": batch["ab"].abs().mean().item()}

    def predict(self, L: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` -> zeros ``[B,2,H,W]``."""
        return torch.zeros(L.shape[0], 2, *L.shape[-2:], dtype=L.dtype, device=L.device)


@dataclass
class MeanColorConfig:
    """No settings: the prediction is the training set's mean ab."""


@register_method("mean_color", description="Floor: every pixel gets the training set's mean ab",
                 source="baseline (running mean of the training ab)")
class MeanColor(Method):
    capture_note = ("its step reads its losses with .item() and all-reduces its running sums under DDP (and it has "
                    "no network to speed up)")
    Config = MeanColorConfig
    is_baseline = True
    watch_loss = "update"

    def __init__(self, config: MeanColorConfig | None = None, num_classes: int | None = None) -> None:
        super().__init__(config, num_classes)
        dtype = torch.float64 if _has_float64() else torch.float32
        self.register_buffer("sum_ab", torch.zeros(2, dtype=dtype))  # Σ ab/110 over every training pixel
        self.register_buffer("count", torch.zeros((), dtype=dtype))  # number of training pixels

    @property
    def mean_ab(self) -> torch.Tensor:
        """``[2]`` float32, ab/110: the mean ab seen so far (0 before any training)."""
        return (self.sum_ab / self.count.clamp(min=1)).float()

    def train_step(self, batch: Batch, step: int) -> dict[str, float]:
        ab = batch["ab"].to(self.sum_ab.device).float()
        before = self.mean_ab
        err = ab - before.view(1, 2, 1, 1)
        l1, mse = err.abs().mean().item(), err.pow(2).mean().item()
        total = torch.cat([ab.sum(dim=(0, 2, 3)).to(self.sum_ab.dtype),
                           torch.tensor([ab[:, 0].numel()], dtype=self.sum_ab.dtype, device=ab.device)])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(total)  # every rank ends with the mean over all ranks' pixels
        self.sum_ab += total[:2]
        self.count += total[2]
        update = (self.mean_ab - before).abs().max().item()
        return {"loss": l1, "l1": l1, "mse": mse, "update": update}

    def predict(self, L: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` -> ``[B,2,H,W]`` filled with the mean ab (ab/110)."""
        mean = self.mean_ab.to(device=L.device, dtype=L.dtype).view(1, 2, 1, 1)
        return mean.expand(L.shape[0], 2, *L.shape[-2:]).clone()


def _has_float64() -> bool:
    """MPS has no float64; elsewhere the pixel count and sums accumulate in float64."""
    return not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available())

"""The shared trainer: ``colorbench.train.train(colorbench.train.resolve("unet_l1", "sample", steps=...),
out_dir=...)``.

Seeded and resumable (the same call on the same ``out_dir`` continues from the newest checkpoint and ends on the
same weights as an uninterrupted run, on CPU), bf16 autocast + channels_last on CUDA, DDP under ``torchrun``, a
tqdm bar, a CSV loss log, validation and atomic checkpoints. Modules: ``loop`` (the loop), ``batches`` (which
items make each step's batch), ``distributed`` (DDP), ``validate``, ``logs``, ``state`` (RNG states),
``settings`` (:class:`TrainSettings`, the defaults and checks of every setting; torch-free), ``spec``
(:class:`RunSpec` and :func:`resolve`: a run resolved once from a method name, variant, overrides and dataset;
torch-free).

The loop (and torch) loads on first use of ``train`` or ``TrainResult``, so ``colorbench.train.settings`` serves
the command line's ``--help`` without torch.
"""
from __future__ import annotations

from typing import Any

from colorbench.train.settings import PRECISIONS, TrainSettings
from colorbench.train.spec import RunSpec, resolve

__all__ = ["PRECISIONS", "RunSpec", "TrainResult", "TrainSettings", "resolve", "train"]


def __getattr__(name: str) -> Any:
    if name in ("train", "TrainResult"):
        from colorbench.train import loop

        return getattr(loop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

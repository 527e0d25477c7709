"""The shared trainer: ``colorbench.train.train(method, dataset, steps=..., out_dir=...)``.

Seeded and resumable (the same call on the same ``out_dir`` continues from the newest checkpoint and ends on the
same weights as an uninterrupted run, on CPU), bf16 autocast + channels_last on CUDA, DDP under ``torchrun``, a
tqdm bar, a CSV loss log, validation and atomic checkpoints. Modules: ``loop`` (the loop), ``batches`` (which
items make each step's batch), ``distributed`` (DDP), ``validate``, ``logs``, ``state`` (RNG states).
"""
from __future__ import annotations

from colorbench.train.loop import PRECISIONS, TrainResult, train

__all__ = ["PRECISIONS", "TrainResult", "train"]

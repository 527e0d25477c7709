"""Input checks shared by the metric functions: messages name the argument, both shapes and the fix."""
from __future__ import annotations

import torch


def check_pair(pred: torch.Tensor, true: torch.Tensor, what: str, channels: int) -> None:
    """Raise ``ValueError`` unless ``pred`` and ``true`` are float ``[B,channels,H,W]`` tensors of one shape."""
    for name, x in (("pred", pred), ("true", true)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{what}: {name} must be a torch.Tensor; got {type(x).__name__}")
        if x.ndim != 4 or x.shape[1] != channels:
            raise ValueError(f"{what}: {name} must be [B,{channels},H,W]; got shape {tuple(x.shape)}"
                             + (" (add a batch dimension with x[None])" if x.ndim == 3 else ""))
        if not x.is_floating_point():
            raise TypeError(f"{what}: {name} must be a float tensor; got {x.dtype} (convert uint8 with x / 255)")
    if pred.shape != true.shape:
        raise ValueError(f"{what}: pred and true must have the same shape; got pred {tuple(pred.shape)} and "
                         f"true {tuple(true.shape)}")
    if pred.device != true.device:
        raise ValueError(f"{what}: pred is on {pred.device} and true on {true.device}; move both to one device")


def accumulate_dtype(x: torch.Tensor) -> torch.dtype:
    """float64 for sums over an image, except on MPS, which has no float64."""
    return torch.float32 if x.device.type == "mps" else torch.float64


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """float64 stays float64; every other float type is computed in float32."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32

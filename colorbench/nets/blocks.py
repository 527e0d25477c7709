"""Small helpers shared by the U-Net and the discriminators: norms by name, TF-style 'same' convs, eval mode and
batch-statistics inference."""
from __future__ import annotations

import contextlib
import math
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

ConvWrapper = Callable[[nn.Module], nn.Module]
"""Applied to every conv a block builds, e.g. ``torch.nn.utils.parametrizations.spectral_norm``."""

NORMS = ("batch", "instance", "none", "frozen_batch")

TF_BN_EPS = 1e-3
"""TensorFlow's default batch-norm epsilon (``tf.layers.BatchNormalization``)."""


class FrozenStatsBatchNorm2d(nn.Module):
    """Batch norm that never normalises: ``y = γ · x / sqrt(1 + eps) + β`` per channel, ``[B,C,H,W] -> [B,C,H,W]``.

    What TensorFlow's ``tf.layers.BatchNormalization(...)(x)`` computes when it is called without
    ``training=True`` (the KTH reference code's U-Net and GAN generators): ``training`` defaults to ``False``, so the
    layer uses its moving statistics, which start at mean 0 and variance 1 and, with no update ops run, stay there
    for the whole of training and inference. It is an affine layer with the batch norm's two trainable vectors
    (``weight`` = γ, ``bias`` = β; the same parameter count as ``BatchNorm2d``) and the same output in train and
    eval mode. ``eps`` is TensorFlow's default, 1e-3.
    """

    def __init__(self, channels: int, eps: float = TF_BN_EPS) -> None:
        super().__init__()
        self.num_features, self.eps = int(channels), float(eps)
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = (self.weight / math.sqrt(1.0 + self.eps)).to(x.dtype)
        return x * scale.view(1, -1, 1, 1) + self.bias.to(x.dtype).view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, moving statistics fixed at mean 0, variance 1"


def make_norm(norm: str, channels: int) -> nn.Module | None:
    """A norm layer by name for ``channels`` feature maps, or ``None`` for ``"none"``.

    ``"batch"``: ``BatchNorm2d``; ``"instance"``: ``InstanceNorm2d`` without affine parameters or running
    statistics (as pix2pix's ``--norm instance``); ``"none"``: no layer; ``"frozen_batch"``:
    :class:`FrozenStatsBatchNorm2d`, TensorFlow batch norm in inference mode on its initial statistics (the KTH
    reference code's, which never normalises).
    """
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "frozen_batch":
        return FrozenStatsBatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if norm == "none":
        return None
    raise ValueError(f"unknown norm {norm!r}; use one of {', '.join(NORMS)}")


class SameConv2d(nn.Module):
    """A ``kernel``×``kernel`` conv padded like TensorFlow's ``padding='same'``: ``[B,C,H,W] ->
    [B,C',ceil(H/s),ceil(W/s)]`` for stride ``s``. The total padding ``max((out-1)·s + k - size, 0)`` is split with
    the smaller half before, so a stride-1 4×4 conv pads (1, 2) on each axis. The one 'same' conv of colorbench
    (the KTH U-Net and discriminator, the Górriz networks, the PatchGAN's stride-1 layers).

    The conv itself is ``self.conv``, an ordinary ``nn.Conv2d`` (``wrap`` applied to it, e.g. spectral norm), so
    initialisers and spectral norm find it.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 4, stride: int = 1, bias: bool = True,
                 wrap: ConvWrapper | None = None) -> None:
        super().__init__()
        self.kernel, self.stride = int(kernel), int(stride)
        conv: nn.Module = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=0, bias=bias)
        self.conv = wrap(conv) if wrap is not None else conv

    def pads(self, size: int) -> tuple[int, int]:
        """(before, after) padding of an axis of ``size`` px."""
        total = max((self.output_side(size) - 1) * self.stride + self.kernel - size, 0)
        return total // 2, total - total // 2

    def output_side(self, size: int) -> int:
        return -(-size // self.stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = self.pads(int(x.shape[-2]))
        left, right = self.pads(int(x.shape[-1]))
        return self.conv(F.pad(x, (left, right, top, bottom)))


@contextlib.contextmanager
def evaluating(module: nn.Module) -> Iterator[nn.Module]:
    """Put ``module`` in eval mode (running BN statistics, no dropout) inside the block, then restore each
    submodule's previous mode. Methods' ``colorize`` uses it so inference is deterministic whatever mode the
    caller left the method in."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, mode in modes:
            m.training = mode


@contextlib.contextmanager
def batch_statistics(module: nn.Module) -> Iterator[nn.Module]:
    """Inside the block every batch norm of ``module`` normalises with the statistics of the batch it is given, as
    in training, but **leaves its running buffers untouched** (``running_mean``, ``running_var`` and
    ``num_batches_tracked`` stay bit-identical); every other submodule is in eval mode (no dropout). Each
    submodule's mode and ``track_running_stats`` are restored afterwards.

    This is what a network run "in exactly the same manner as during training" computes (the C2F paper's
    inference), without training mode's side effect on the buffers. It is done with torch's own switch: a batch
    norm in training mode with ``track_running_stats=False`` calls ``F.batch_norm`` with no running buffers.
    A layer that sees one value per channel (batch 1 and a 1×1 map), which torch refuses in training mode,
    outputs its bias: the limit of batch statistics (``x - mean = 0``), computed by torch on the input doubled.
    """
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    tracking = [m.track_running_stats for m in norms]
    doubled: dict[nn.Module, bool] = {}

    def double_single_values(m: nn.Module, args: tuple) -> tuple | None:
        x = args[0]
        doubled[m] = x.numel() == x.shape[1]
        return (torch.cat((x, x)),) if doubled[m] else None

    def undouble(m: nn.Module, args: tuple, out: torch.Tensor) -> torch.Tensor:
        return out[:1] if doubled.pop(m, False) else out

    hooks = []
    with evaluating(module):
        for m in norms:
            m.train()
            m.track_running_stats = False
            hooks += [m.register_forward_pre_hook(double_single_values), m.register_forward_hook(undouble)]
        try:
            yield module
        finally:
            for h in hooks:
                h.remove()
            for m, track in zip(norms, tracking):
                m.track_running_stats = track

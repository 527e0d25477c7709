"""The metrics that need pretrained files: which files each needs, whether they are on disk, and loading them.

Every file is a row of :data:`colorbench.pretrained.BACKBONES` (``colorbench weights list|fetch`` reads the same
table); lookup is local only. A run that asks for such a metric checks every file before any work
(:func:`require`) and stops with one line naming the fetch command; it never reports a silent n/a.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import torch
from torch import nn

from colorbench import pretrained as pt
from colorbench.errors import UserError
from colorbench.metrics.table import METRICS


def missing_weights(names: Iterable[str]) -> dict[str, list[str]]:
    """``{metric: [backbone files not on disk]}`` for the metrics of ``names`` that lack any (empty: all there)."""
    out: dict[str, list[str]] = {}
    for name in names:
        lacking = [w for w in METRICS[name].weights if pt.resolve_weights(w) is None]
        if lacking:
            out[name] = lacking
    return out


def require(names: Iterable[str]) -> None:
    """Raise :class:`UserError` (one line: the metrics, the missing files, where they go, the fetch command)
    unless every file the metrics of ``names`` need is on disk."""
    lacking = missing_weights(names)
    if not lacking:
        return
    files = list(dict.fromkeys(w for ws in lacking.values() for w in ws))
    where = "; ".join(f"{w} at {pt.expected_paths(w)[0]}" for w in files)
    raise UserError(f"metric(s) {', '.join(lacking)} need weights not on disk ({where}): run `colorbench weights "
                    f"fetch {' '.join(files)}` (on a machine with a network, then copy the files there), or leave "
                    "those metrics out of --metrics")


def load(module: nn.Module, backbone: str) -> Path:
    """Fill ``module`` with ``backbone``'s file (found locally, sha256-checked when known); returns the file."""
    path = pt.resolve_weights(backbone)
    if path is None:
        raise UserError(f"weights for {backbone!r} not on disk (expected {pt.expected_paths(backbone)[0]}): run "
                        f"`colorbench weights fetch {backbone}`")
    pt.verify(backbone, path)
    sd = pt.read_state_dict(path)
    module.load_state_dict(pt.map_state_dict(module, sd, source=str(path)), strict=False)
    return path


def read(backbone: str) -> dict[str, torch.Tensor]:
    """The tensors of ``backbone``'s file (found locally, sha256-checked when known)."""
    path = pt.resolve_weights(backbone)
    if path is None:
        raise UserError(f"weights for {backbone!r} not on disk (expected {pt.expected_paths(backbone)[0]}): run "
                        f"`colorbench weights fetch {backbone}`")
    pt.verify(backbone, path)
    return pt.read_state_dict(path)

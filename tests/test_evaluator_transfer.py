"""The evaluator's CUDA path packs a batch's figures into one host copy: the packed copy gives the same numbers."""
from __future__ import annotations

import torch

from colorbench.evaluator import _to_host
from colorbench.metrics import ab_counts


def test_packed_copy_equals_separate_copies():
    g = torch.Generator().manual_seed(0)
    ab = (torch.rand(3, 2, 17, 19, generator=g) - 0.5) * 1.8
    values = torch.rand(3, 7, generator=g, dtype=torch.float64) * 40
    moments = torch.tensor([12.0, -3.25, 1e6 + 0.5, 7.0, 2.5e5], dtype=torch.float64)
    counts = torch.stack((ab_counts(ab), ab_counts(ab.flip(0) * 0.5)))
    plain, packed = _to_host(values, moments, counts, pack=False), _to_host(values, moments, counts, pack=True)
    for a, b in zip(plain, packed):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    assert packed[2].dtype == torch.int64 and int(packed[2][0].sum()) == 2 * 3 * 17 * 19

"""uint8 batches: datasets hand over ``rgb_u8`` and ``to_device`` makes L, ab and rgb on the training device; the
batches equal today's float batches to float32 precision (bit for bit on the CPU, where both run the same code)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from colorbench.data import build_dataset
from colorbench.data.transforms import to_device

KEYS = ("L", "ab", "rgb", "index")


def _same(a: dict, b: dict) -> None:
    assert set(a) == set(b) and "rgb_u8" not in a
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, key
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["sample", "synthetic"])
def test_in_memory_uint8_batches_equal_float_batches(name):
    floats = build_dataset(name, "train", size=24, seed=3)
    raw = build_dataset(name, "train", size=24, seed=3)
    raw.uint8_batches = True
    for ds in (floats, raw):
        ds.set_epoch(1)  # crops and flips of epoch 1
    idx = [0, 5, 2, 7]
    got = raw.get_batch(idx)
    assert got["rgb_u8"].dtype == torch.uint8 and got["rgb_u8"].shape == (4, 3, 24, 24) and "L" not in got
    _same(to_device(got, torch.device("cpu")), to_device(floats.get_batch(idx), torch.device("cpu")))
    item = to_device({k: (v[None] if isinstance(v, torch.Tensor) else torch.tensor([v]))
                      for k, v in raw[5].items()}, torch.device("cpu"))
    torch.testing.assert_close(item["ab"][0], floats[5]["ab"], rtol=0, atol=1e-6)


def test_folder_uint8_items_through_loader_workers_equal_float_batches(tmp_path):
    g = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(g.integers(0, 256, (40, 44, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    kw = dict(size=32, seed=1, data_dir=tmp_path, ratios=(1.0, 0.0, 0.0))
    floats, raw = build_dataset("folder", "train", **kw), build_dataset("folder", "train", **kw)
    raw.uint8_batches = True
    a = next(iter(DataLoader(raw, batch_size=6, num_workers=2)))  # decoded in worker processes, uint8 collated
    b = next(iter(DataLoader(floats, batch_size=6)))
    assert a["rgb_u8"].dtype == torch.uint8
    _same(to_device(a, torch.device("cpu"), channels_last=True), to_device(b, torch.device("cpu"), channels_last=True))

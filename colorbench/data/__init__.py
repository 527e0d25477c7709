"""The data layer: datasets of colour images as Lab items.

``build_dataset(name, split="train", *, size=64, seed=0, data_dir=None, **options)`` returns a torch ``Dataset``
whose items are ``{"L": [1,H,W] float32 L/50-1, "ab": [2,H,W] float32 ab/110, "rgb": [3,H,W] float32 in [0,1],
"index": int, "label": int (datasets with classes)}``; it has ``.name``, ``.num_classes`` (int or None) and
``.set_epoch(epoch)`` (train augmentation is a pure function of seed, epoch and index). Splits: ``train``, ``val``,
``test`` (val and test: deterministic, no flips). torch's default collate batches the items.

Names: ``openphotos`` (the embedded default, a recipe over committed photos), ``sample`` (scikit-image's photos),
``synthetic`` (generated, for tests), ``folder`` (any directory of images), ``cifar10`` (torchvision, from a local
copy), and the recipes in the repository's ``datasets/*.toml``.

``first_test_photos(dataset, n, short_side)``: the whole photos behind the first ``n`` items (the sample grid's
photos; :mod:`colorbench.data.photos`).
"""
from __future__ import annotations

from colorbench.data.photos import first_test_photos
from colorbench.data.protocol import Protocol
from colorbench.data.registry import (DatasetInfo, build_dataset, data_fingerprint, dataset_folder, dataset_info,
                                      dataset_label,
                                      list_datasets, protocol_for)
from colorbench.data.sample import held_out_squares, sample_test_photos

__all__ = ["DatasetInfo", "Protocol", "build_dataset", "data_fingerprint", "dataset_folder", "dataset_info",
           "dataset_label", "first_test_photos", "list_datasets", "protocol_for", "sample_test_photos",
           "held_out_squares"]

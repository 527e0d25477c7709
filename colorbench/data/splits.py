"""Assigning the files of a ``folder`` dataset to train / val / test: manifest, split lists, per-class counts or a
seeded ratio split (optionally stratified by label). Every rule is a pure function of the file list and
``split_seed`` (not the run's seed), so every run and every seed sees the same test set.
"""
from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from colorbench.errors import UserError

SPLITS = ("train", "val", "test")


def ratio_split(keys: Sequence[str], ratios: Sequence[float], split_seed: int,
                labels: Sequence[int] | None = None) -> dict[str, str]:
    """``{key: split}``: a seeded shuffle cut by ``ratios`` (train, val, test), within each label when given."""
    if len(ratios) != 3 or any(r < 0 for r in ratios) or not 0.999 <= sum(ratios) <= 1.001:
        raise UserError("ratios must be three non-negative numbers (train, val, test) summing to 1; "
                        f"got {list(ratios)}")
    groups: dict[int, list[str]] = defaultdict(list)
    for i, key in enumerate(keys):
        groups[labels[i] if labels is not None else 0].append(key)
    out = {}
    for group, members in sorted(groups.items()):
        members = sorted(members)
        order = np.random.default_rng([int(split_seed), int(group)]).permutation(len(members))
        n_train = round(ratios[0] * len(members))
        n_val = round(ratios[1] * len(members))
        for rank, j in enumerate(order):
            out[members[j]] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    return out


def per_class_split(keys: Sequence[str], labels: Sequence[int], counts: Mapping[str, int],
                    split_seed: int) -> dict[str, str]:
    """``{key: split}`` taking ``counts[split]`` files of every class (seeded); the rest are left out."""
    groups: dict[int, list[str]] = defaultdict(list)
    for key, label in zip(keys, labels):
        groups[label].append(key)
    out = {}
    for group, members in sorted(groups.items()):
        members = sorted(members)
        order = np.random.default_rng([int(split_seed), int(group)]).permutation(len(members))
        start = 0
        for split in SPLITS:
            n = int(counts.get(split, 0))
            for j in order[start:start + n]:
                out[members[j]] = split
            start += n
    return out


def read_manifest(path: Path) -> dict[str, tuple[str, int | None]]:
    """A manifest CSV: rows ``path,split[,label]`` (paths relative to the data folder; ``#`` comments and a
    ``path,split,...`` header allowed) -> ``{path: (split, label or None)}``."""
    if not path.is_file():
        raise UserError(f"manifest {path} does not exist; write a CSV of `path,split[,label]` rows")
    out = {}
    with open(path, newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh), 1):
            row = [c.strip() for c in row]
            if not row or not row[0] or row[0].startswith("#") or row[:2] == ["path", "split"]:
                continue
            if len(row) < 2 or row[1] not in SPLITS:
                raise UserError(f"manifest {path}, line {lineno}: expected `path,split[,label]` with split one of "
                                f"{', '.join(SPLITS)}; got {','.join(row)!r}")
            label = int(row[2]) if len(row) > 2 and row[2] != "" else None
            out[row[0]] = (row[1], label)
    return out


def read_split_lists(root: Path, lists: Mapping[str, str], keys: Sequence[str]) -> dict[str, str]:
    """Split lists (e.g. Pascal VOC's ``ImageSets/Segmentation/train.txt``): one file name or stem per line,
    per split -> ``{key: split}``; ``keys`` are the dataset's relative paths, matched with or without suffix."""
    by_stem: dict[str, str] = {}
    for key in keys:
        by_stem.setdefault(key, key)
        by_stem.setdefault(str(Path(key).with_suffix("")), key)
        by_stem.setdefault(Path(key).stem, key)
    out = {}
    for split, list_file in lists.items():
        if split not in SPLITS:
            raise UserError(f"split_lists: unknown split {split!r}; use {', '.join(SPLITS)}")
        path = Path(list_file) if Path(list_file).is_absolute() else root / list_file
        if not path.is_file():
            raise UserError(f"split list {path} does not exist (split {split!r}); check data_dir points at the "
                            "dataset's top folder")
        missing = 0
        for line in path.read_text().split():
            key = by_stem.get(line)
            if key is None:
                missing += 1
            else:
                out[key] = split
        if missing:
            import warnings

            warnings.warn(f"split list {path}: {missing} entries have no image file under {root}", stacklevel=2)
    return out

"""Assigning the files of a ``folder`` dataset to train / val / test: manifest, split lists, per-class counts or a
seeded ratio split (optionally stratified by label). Every rule is a pure function of the file list and
``split_seed`` (not the run's seed), so every run and every seed sees the same test set.
"""
from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from colorbench.errors import UserError

SPLITS = ("train", "val", "test")


def ratio_split(keys: Sequence[str], ratios: Sequence[float], split_seed: int,
                labels: Sequence[int] | None = None, cuts: str = "round") -> dict[str, str]:
    """``{key: split}``: a seeded shuffle cut by ``ratios`` (train, val, test), within each label when given.
    ``cuts = "round"``: ``round(ratio · n)`` train and val images; ``"floor"``: cut at ``int(n · cumulative
    ratio)`` as the C2F reference (``src/utils/data.py`` of tstreule/c2f_img_color; 21,837 -> 15,285 / 3,276 /
    3,276, where "round" gives 15,286 / 3,276 / 3,275)."""
    if cuts not in ("round", "floor"):
        raise UserError(f"ratio cuts must be 'round' or 'floor'; got {cuts!r}")
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
        if cuts == "floor":
            n_train = int(len(members) * ratios[0])
            n_val = int(len(members) * (ratios[0] + ratios[1])) - n_train
        else:
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


def _manifest_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """``[(line number, {column: value})]`` of a manifest CSV. With a header row naming its columns (``path`` or
    ``file``, ``split``, optionally ``label`` and ``sha256``, in any order) the columns are read by name; without
    one, rows are ``path,split[,label]``. ``#`` lines and blank rows are skipped."""
    if not path.is_file():
        raise UserError(f"manifest {path} does not exist; write a CSV of `path,split[,label]` rows")
    rows, names = [], None
    with open(path, newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh), 1):
            row = [c.strip() for c in row]
            if not row or not row[0] or row[0].startswith("#"):
                continue
            if names is None and not rows and "split" in row and ("path" in row or "file" in row):
                names = ["path" if c == "file" else c for c in row]
                continue
            cols = names or ["path", "split", "label"]
            rows.append((lineno, dict(zip(cols, row))))
    return rows


def read_manifest(path: Path) -> dict[str, tuple[str, int | None]]:
    """A manifest CSV (see :func:`_manifest_rows`; paths relative to the data folder) ->
    ``{path: (split, label or None)}``."""
    out = {}
    for lineno, row in _manifest_rows(path):
        if row.get("split") not in SPLITS or not row.get("path"):
            raise UserError(f"manifest {path}, line {lineno}: expected `path,split[,label]` with split one of "
                            f"{', '.join(SPLITS)}; got {','.join(row.values())!r}")
        label = row.get("label")
        out[row["path"]] = (row["split"], int(label) if label else None)
    return out


def manifest_hashes(path: Path) -> dict[str, str]:
    """``{path: sha256}`` of a manifest with a ``sha256`` column (empty when it has none)."""
    return {row["path"]: row["sha256"].lower() for _, row in _manifest_rows(path) if row.get("sha256")}


def manifest_digest(path: Path) -> str | None:
    """sha256 over the manifest's sorted ``(path, split, label, sha256)`` rows when every row carries a sha256 (the
    data are then named by content: the digest is the same in every clone, whatever the files' mtimes), else None."""
    rows = [row for _, row in _manifest_rows(path)]
    if not rows or not all(row.get("sha256") for row in rows):
        return None
    lines = sorted(f"{r['path']}\0{r.get('split', '')}\0{r.get('label', '')}\0{r['sha256'].lower()}" for r in rows)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


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


def sha256_file(path: Path) -> str:
    """The hex sha256 of the file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_hashes(root: Path, hashes: Mapping[str, str], keys: Sequence[str], name: str) -> None:
    """Raise a UserError naming the first file of ``keys`` whose sha256 differs from the manifest's (or that the
    manifest lists and the folder lacks): a committed dataset's figures hold only for the committed bytes."""
    missing = sorted(set(hashes) - set(keys))
    if missing:
        raise UserError(f"dataset {name!r}: {root / missing[0]} is listed in the manifest but missing "
                        f"({len(missing)} missing); restore it (git checkout, or the dataset's rebuild script)")
    for key in keys:
        want = hashes.get(key)
        if want is not None and sha256_file(root / key) != want:
            raise UserError(f"dataset {name!r}: {root / key} differs from its sha256 in the manifest; restore the "
                            "committed file (git checkout) or, for your own data, update the manifest's sha256")

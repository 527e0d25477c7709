"""Pinned file lists: the images a published protocol scores, named in a committed list, and their sha256 recorded
on first use.

A list (``datasets/lists/*.txt``) holds one file name per line (``#`` comments and blank lines skipped), in the
order the protocol scores them. The user's copy of the data may keep the files in any layout under ``data_dir``
(flat, or in class sub-folders): a listed name matches the file of that name wherever it lies, and a name found
twice is an error. Every listed file must be there.

The bytes are the user's, not the project's, so no sha256 is committed. The first build of the dataset on a folder
records the sha256 of every listed file in ``HASH_DIR/<dataset>-<folder digest>.csv`` (a ``file,sha256`` CSV, the
folder named in its first line); every later build on that folder checks the files against it and refuses a changed
file in one line that names it. Delete the record to accept the current files.
"""
from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from typing import Sequence

from colorbench import _atomic as atomic
from colorbench.data.splits import sha256_file
from colorbench.errors import UserError

HASH_DIR = Path(__file__).resolve().parents[2] / "datasets" / "cache" / "hashes"
"""Where the sha256 records of users' data live (git-ignored); tests point it at a temp folder."""


def read_list(path: Path) -> list[str]:
    """The file names of list ``path``, in order (a UserError names a missing list or a repeated name)."""
    if not path.is_file():
        raise UserError(f"file list {path} does not exist; it is committed with the dataset's recipe "
                        "(restore it with git checkout)")
    names = [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise UserError(f"file list {path}: {name} is listed twice; a list names each image once")
        seen.add(name)
    return names


def match(names: Sequence[str], keys: Sequence[str], root: Path, dataset: str, list_path: Path) -> list[str]:
    """The folder's keys (paths relative to ``root``) of the listed ``names``, in the list's order. A name matches a
    key of that file name in any sub-folder; a missing name or one found twice is a one-line UserError."""
    by_name: dict[str, str] = {}
    twice: dict[str, str] = {}
    wanted = set(names)
    for key in keys:
        name = key.rsplit("/", 1)[-1]
        if name in wanted:
            if name in by_name:
                twice[name] = key
            by_name.setdefault(name, key)
    if twice:
        name = next(iter(twice))
        raise UserError(f"dataset {dataset!r}: {name} is found twice under {root} ({by_name[name]} and "
                        f"{twice[name]}); keep one copy of each listed image")
    missing = [n for n in names if n not in by_name]
    if missing:
        raise UserError(f"dataset {dataset!r}: {len(missing):,} of the {len(names):,} images in {list_path.name} are "
                        f"missing under {root} (first: {missing[0]}); pass the folder that holds them as --data-dir")
    return [by_name[n] for n in names]


def record_path(dataset: str, root: Path) -> Path:
    """The sha256 record of ``dataset`` on folder ``root`` (one per dataset and resolved folder)."""
    folder = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return HASH_DIR / f"{dataset}-{folder}.csv"


def check_or_record(dataset: str, root: Path, keys: Sequence[str]) -> Path:
    """Check the files ``keys`` under ``root`` against the record of their sha256s, writing the record on first use;
    returns the record's path. A file whose bytes differ from its record is a one-line UserError naming it."""
    record = record_path(dataset, root)
    hashes = {key: sha256_file(root / key) for key in keys}
    if record.is_file():
        known = {row["file"]: row["sha256"] for row in csv.DictReader(
            ln for ln in record.read_text().splitlines() if not ln.startswith("#"))}
        for key in keys:
            if key in known and known[key] != hashes[key]:
                raise UserError(f"dataset {dataset!r}: {root / key} differs from the sha256 recorded on first use "
                                f"({record}); restore the original file, or delete the record to accept the current "
                                "files")
        new = {k: v for k, v in hashes.items() if k not in known}
        if not new:
            return record
        hashes = {**known, **new}
    buf = io.StringIO()
    buf.write(f"# sha256 of the files of dataset {dataset} under {root.resolve()}, recorded on first use\n")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["file", "sha256"])
    writer.writerows(sorted(hashes.items()))
    atomic.write_text(record, buf.getvalue())
    return record

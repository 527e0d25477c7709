"""The disk cache of decoded photos: each image file decoded and resized once, kept as an uncompressed ``.npy``.

A ``folder`` dataset with ``cache="disk"`` (its default) stores the ``[H,W,3]`` uint8 image it would crop from
(after its resize) under a key made of the file's absolute path, its size in bytes and its modification time (ns),
and the options that shaped the pixels (resize, crop mode, size, greyscale policy). A file that changes gets a new
key, so a stale entry is never read; it ages out under the bound. Entries are lossless: an item from the cache is
bit-identical to one decoded from the file.

Where: ``$COLORBENCH_DECODED_CACHE``, else ``datasets/cache/decoded/`` of the repository (git-ignored), else
``~/.cache/colorbench/decoded``. Bound: ``$COLORBENCH_DECODED_CACHE_GB`` (default 10 GB); after a dataset build
writes entries, the least recently used ones (by the time a build last used them) are deleted until the folder
fits. A 12 MP photo resized to 128 px on its shorter side takes about 64 KB.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from colorbench import _atomic as atomic

VERSION = 1  # bump when the decoding or resizing changes the pixels
DEFAULT_GB = 10.0


def cache_root() -> Path:
    """The cache folder (see the module docstring)."""
    if os.environ.get("COLORBENCH_DECODED_CACHE"):
        return Path(os.environ["COLORBENCH_DECODED_CACHE"]).expanduser()
    from colorbench.data.recipes import REPO_DATASETS

    if REPO_DATASETS.is_dir():
        return REPO_DATASETS / "cache" / "decoded"
    return Path("~/.cache/colorbench/decoded").expanduser()


def bound_bytes() -> int:
    """The cache's size bound in bytes (``$COLORBENCH_DECODED_CACHE_GB``, default 10)."""
    from colorbench.checks import positive_number
    from colorbench.errors import UserError

    raw = os.environ.get("COLORBENCH_DECODED_CACHE_GB")
    try:
        gb = DEFAULT_GB if not raw else float(raw)
    except ValueError:
        raise UserError(f"COLORBENCH_DECODED_CACHE_GB {raw!r}: expected a number of GB above 0, e.g. 10") from None
    return int(positive_number(gb, "COLORBENCH_DECODED_CACHE_GB", fix="e.g. 10") * 1e9)


def key(path: Path, options: Mapping[str, Any]) -> str:
    """The entry key of ``path`` as decoded with ``options`` (changes when the file's size or mtime does)."""
    st = path.stat()
    blob = json.dumps({"path": str(path.resolve()), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns,
                       "options": dict(options), "version": VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def entry(root: Path, k: str) -> Path:
    return root / k[:2] / f"{k}.npy"


def load(root: Path, k: str) -> np.ndarray | None:
    """The cached image of key ``k`` (None when absent or unreadable); marks it used now."""
    path = entry(root, k)
    try:
        image = np.load(path, allow_pickle=False)
        os.utime(path)
    except (OSError, ValueError):
        return None
    return image if image.dtype == np.uint8 and image.ndim == 3 else None


def read(root: Path, k: str) -> np.ndarray:
    """The cached image of key ``k`` (for items; raises OSError when it vanished)."""
    return np.load(entry(root, k), allow_pickle=False)


def store(root: Path, k: str, image: np.ndarray) -> None:
    """Write ``image`` ([H,W,3] uint8) under key ``k`` (atomically: a reader never sees half a file)."""
    import io

    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(image), allow_pickle=False)
    atomic.write_bytes(entry(root, k), buf.getvalue())


def trim(root: Path, keep: set[str], limit: int | None = None) -> int:
    """Delete the least recently used entries (never those in ``keep``) until the folder holds at most ``limit``
    bytes (default :func:`bound_bytes`); returns the bytes deleted."""
    limit = bound_bytes() if limit is None else limit
    files = []
    for path in root.glob("*/*.npy"):
        try:
            st = path.stat()
        except OSError:
            continue
        files.append((st.st_mtime, st.st_size, path))
    total = sum(size for _, size, _ in files)
    freed = 0
    for _, size, path in sorted(files, key=lambda f: f[0]):
        if total - freed <= limit:
            break
        if path.stem in keep:
            continue
        try:
            path.unlink()
            freed += size
        except OSError:
            pass
    return freed

"""Atomic file writes: every results, cache and checkpoint file appears whole or not at all (temp file, fsync,
rename, fsync of the folder so the rename itself survives a power cut)."""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence


@contextlib.contextmanager
def writing(path: str | Path) -> Iterator[Path]:
    """For writers that need a file name (a stream, an image encoder): yields a temp path in ``path``'s folder;
    when the block ends normally the file is fsynced and renamed to ``path``, when it raises it is deleted."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results are ordinary shared files
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:  # a write to an open file names no path: name it
            exc.filename = str(path)
        raise
    fsync_dir(path.parent)


def check_writable(path: str | Path, what: str, *, folder: bool = False) -> Path:
    """Check, before any work, that file ``path`` (``folder=True``: a folder, created if missing) can be written:
    a folder where a file is meant (or the reverse), a read-only disk or a path through a file is a one-line
    :class:`~colorbench.errors.UserError` naming ``what`` (``--csv``). A full disk shows only when writing."""
    from colorbench.errors import UserError, os_error_line

    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise UserError(f"{what} {path}: is a file, not a folder; give a folder (it is created if missing)")
    if not folder and path.is_dir():
        raise UserError(f"{what} {path}: is a folder; give a file name (e.g. {path / 'scores.csv'})")
    if not folder and path.exists() and not path.is_file():  # a device (/dev/full), a pipe: a rename would replace it
        raise UserError(f"{what} {path}: not a regular file; give the path of a file (it is written whole, then "
                        "renamed into place)")
    where = path if folder else path.parent
    try:
        where.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".colorbench-probe.", dir=where)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise UserError(os_error_line(exc, what)) from None
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (a temp file in the same folder, then ``os.replace``)."""
    with writing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def copy_file(src: str | Path, dest: str | Path) -> Path:
    """Copy ``src`` to ``dest`` atomically."""
    with writing(dest) as tmp:
        shutil.copyfile(src, tmp)
    return Path(dest)


def replace_folder(tmp: str | Path, path: str | Path) -> Path:
    """Give the finished folder ``tmp`` (its files already fsynced: :func:`fsync_tree`) the name ``path``; an
    existing ``path`` is moved aside first and deleted after, so one of the two always exists whole."""
    tmp, path = Path(tmp), Path(path)
    if path.exists():
        old = path.with_name(f".{path.name}.old{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)
    fsync_dir(path.parent)
    return path


def fsync_dir(folder: str | Path) -> None:
    """Flush a folder's entries (renames, new files) to disk; a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(folder: str | Path) -> None:
    """fsync every file directly in ``folder``, then the folder itself (before it is renamed into place)."""
    for p in Path(folder).iterdir():
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
    fsync_dir(folder)


def write_text(path: str | Path, text: str) -> Path:
    """UTF-8; a path of a non-UTF-8 name inside the text (a lone surrogate) is written as its ``\\udcXX`` escape."""
    return write_bytes(path, text.encode("utf-8", "backslashreplace"))


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=1, sort_keys=True, default=_jsonable) + "\n")


def write_csv(path: str | Path, rows: Sequence[Mapping[str, Any]], columns: Iterable[str] | None = None) -> Path:
    """Rows (dicts) as CSV; ``columns`` fixes the order (default: first-seen order over all rows)."""
    if columns is None:
        seen: dict[str, None] = {}
        for row in rows:
            seen.update(dict.fromkeys(row))
        columns = list(seen)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return write_text(path, buf.getvalue())


def append_csv_row(path: str | Path, row: Mapping[str, Any]) -> Path:
    """Append one row (a dict) to CSV ``path`` atomically: the old bytes are copied into a temp file, the row is
    added and the copy renamed over ``path``, so a full disk or a file-size limit leaves the old file whole. A new
    file gets a header; keys the header lacks are added at its end (the old rows are rewritten, blank there)."""
    path = Path(path)
    old = path.read_bytes() if path.is_file() else b""
    if old:
        header = next(csv.reader(io.StringIO(old.decode("utf-8"))), [])
        if all(k in header for k in row):
            buf = io.StringIO()
            csv.DictWriter(buf, fieldnames=header, lineterminator="\n").writerow(
                {k: _cell(v) for k, v in row.items()})
            sep = b"" if old.endswith((b"\n", b"\r")) else b"\n"
            return write_bytes(path, old + sep + buf.getvalue().encode("utf-8", "backslashreplace"))
        rows = list(csv.DictReader(io.StringIO(old.decode("utf-8"))))
        return write_csv(path, [*rows, row], columns=header + [k for k in row if k not in header])
    return write_csv(path, [row])


def write_figure(path: str | Path, fig: Any, dpi: int = 80) -> Path:
    """Save a matplotlib figure as PNG atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return write_bytes(path, buf.getvalue())


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=_jsonable)
    return value


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)

"""Recipes: TOML files that preset a ``folder`` dataset for a public dataset you download yourself.

Found in the repository's ``datasets/`` folder and in the folders named by ``COLORBENCH_DATASETS_PATH``
(``os.pathsep``-separated); a path to any ``.toml`` file also works as a dataset name. A recipe::

    name = "coco"                       # the dataset name (default: the file's stem)
    description = "..."                 # one line for `colorbench list datasets`
    source = "..."                      # where the data comes from, with its licence
    licence = "..."                     # the data's licence(s)
    size = "..."                        # how many images per split, in words (default: from [splits])
    how_to_get = "..."                  # printed when data_dir is missing
    [splits]                            # images (photos) per split as the recipe fixes them
    train = 100
    val = 12
    test = 40
    [paper_splits]                      # optional: train/test counts of the papers' split (for dry runs)
    train = 86_300
    test = 18_493
    [protocol]                          # how results on it are measured (colorbench.data.protocol)
    split = "test"
    size = 256
    crops = 1
    [options]                           # keyword options of colorbench.data.folder.FolderDataset
    data_dir = "photos"                 # optional; a relative path is relative to the recipe's folder
    file_list = "lists/x.txt"           # optional: the test images by name (relative to the recipe's folder)
    resize = "crop"
    ratios = [0.7, 0.15, 0.15]

Unlike the plain ``folder`` dataset (``resize="auto"``, ``cache="disk"``), a recipe's images keep their native size
and are not cached unless its ``[options]`` say so (``resize = 128``, ``cache = "disk"`` for a folder of your own
photos: decoded once ever, :mod:`colorbench.data.decoded`).

This file is the one place a dataset's facts live (:class:`~colorbench.data.info.DatasetInfo`): the list command,
the bench, the dry run and the tests read them from here. Options given to :func:`colorbench.data.build_dataset`
override the recipe's.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from colorbench.errors import UserError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomli if installed
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError:
        tomllib = None  # type: ignore[assignment]

REPO_DATASETS = Path(__file__).resolve().parents[2] / "datasets"


def _folders() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("COLORBENCH_DATASETS_PATH", "").split(os.pathsep) if p]
    return [REPO_DATASETS, *extra]


def load_recipe(path: Path) -> dict[str, Any]:
    """The parsed recipe at ``path`` (a UserError names the file and the problem)."""
    if not path.is_file():
        raise UserError(f"dataset recipe {path} does not exist")
    if tomllib is None:
        raise UserError(f"dataset recipe {path}: reading TOML needs Python >= 3.11 or `pip install tomli`")
    try:
        recipe = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"dataset recipe {path}: not valid TOML ({exc})") from None
    recipe.setdefault("name", path.stem)
    for table in ("options", "splits", "paper_splits"):
        if not isinstance(recipe.get(table, {}), dict):
            raise UserError(f"dataset recipe {path}: [{table}] must be a table")
    for table in ("splits", "paper_splits"):
        for split, count in recipe.get(table, {}).items():
            if split not in ("train", "val", "test") or not isinstance(count, int) or count < 0:
                raise UserError(f"dataset recipe {path}: [{table}] {split} = {count!r}: expected train, val or test "
                                "= a non-negative integer")
    for key in ("data_dir", "file_list"):  # a relative path is relative to the recipe's folder
        value = recipe.get("options", {}).get(key)
        if value and not Path(value).expanduser().is_absolute():
            recipe["options"][key] = str(path.resolve().parent / value)
    return recipe


def recipe_paths() -> dict[str, Path]:
    """``{name: path}`` of every recipe found (the repository's ``datasets/`` first)."""
    out: dict[str, Path] = {}
    for folder in _folders():
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                out.setdefault(path.stem, path)
    return out


def recipe_info(path: Path):
    """The :class:`~colorbench.data.info.DatasetInfo` row of a recipe."""
    from colorbench.data.info import DatasetInfo

    from colorbench.data.protocol import Protocol, from_table

    r = load_recipe(path)
    protocol = from_table(r.get("protocol"), f"dataset recipe {path}", Protocol("test", 256))
    splits = r.get("splits") or None
    size = r.get("size") or (" / ".join(f"{n:,} {k}" for k, n in splits.items()) if splits else "?")
    return DatasetInfo(r["name"], r.get("description", f"recipe {path.name} over folder"),
                       r.get("source", "?"), size, protocol, licence=r.get("licence", ""), splits=splits,
                       paper_splits=r.get("paper_splits") or None)


def build_recipe(path: Path, split: str, *, size: int, seed: int, data_dir: str | Path | None, **options: Any):
    """A ``folder`` dataset with the recipe's options (overridden by ``options``)."""
    from colorbench.data.folder import FolderDataset

    recipe = load_recipe(Path(path))
    merged = {**recipe.get("options", {}), **options}
    merged.setdefault("resize", None)  # a recipe fixes its scale: native unless it sets one
    merged.setdefault("cache", False)  # and its caching (a 100k-photo set outgrows the disk cache's bound)
    merged.setdefault("name", recipe["name"])
    merged.setdefault("how_to_get", recipe.get("how_to_get"))
    if data_dir is None:
        data_dir = merged.pop("data_dir", None)
    else:
        merged.pop("data_dir", None)
    try:
        return FolderDataset(split, size=size, seed=seed, data_dir=data_dir, **merged)
    except TypeError as exc:
        raise UserError(f"dataset recipe {path}: {exc}") from None

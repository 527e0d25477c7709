"""``--data KEY=VALUE``: options of a ``folder`` dataset (or a recipe) from the command line of ``train``, ``eval`` and
``bench``, checked before any work starts.

Keys (each a keyword option of :class:`colorbench.data.folder.FolderDataset`):

- ``resize``: shorter side in px before the crop (an integer >= 11), ``auto`` (twice the crop, never enlarged),
  ``crop`` (the crop) or ``none`` (native size);
- ``ratios``: train,val,test fractions of a seeded split, e.g. ``0.8,0.1,0.1``; ``split_seed``: its seed;
- ``manifest``: a CSV assigning each file a split (relative to the data folder);
- ``crop``: ``square`` or ``pad``; ``cache``: ``disk``, ``memory`` or ``false``; ``labels``: ``none`` or
  ``folders``; ``flip``: ``true`` or ``false`` (train only).

The options are part of the run: ``run.json`` and each checkpoint's record keep them (``data_options``), ``eval``
reuses them, and a bench cell's key hashes them. ``resize``, ``ratios``, ``split_seed``, ``manifest`` and ``crop``
decide which photos are tested and what their pixels are, so on a dataset whose recipe fixes an evaluation protocol
(``openphotos``, ``coco``, ...) they are refused, as a profile's protocol keys are: write a recipe of your own
(``datasets/README.md``). On plain ``folder`` they define the dataset, like a recipe's ``[options]``.
"""
from __future__ import annotations

from typing import Any, Callable

from colorbench.errors import UserError, unknown_name

PROTOCOL_KEYS = ("resize", "ratios", "split_seed", "manifest", "crop")
"""Keys that change the test split's photos or pixels (refused where a recipe fixes the protocol)."""


def _choice(*values: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in values:
            raise ValueError(f"expected one of {', '.join(values)}")
        return text
    return parse


def _resize(text: str) -> int | str | None:
    if text in ("auto", "crop"):
        return text
    if text.lower() == "none":
        return None
    if not text.isdigit() or int(text) < 11:
        raise ValueError("expected a whole number of px >= 11, auto, crop or none")
    return int(text)


def _ratios(text: str) -> list[float]:
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        raise ValueError("expected three fractions train,val,test, e.g. 0.8,0.1,0.1") from None
    if len(parts) != 3 or min(parts) < 0 or abs(sum(parts) - 1) > 1e-6:
        raise ValueError("expected three fractions train,val,test >= 0 that sum to 1, e.g. 0.8,0.1,0.1")
    return parts


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise ValueError("expected true or false")


def _cache(text: str) -> str | bool:
    return False if text.lower() in ("false", "none", "off", "0") else _choice("disk", "memory")(text)


def _seed(text: str) -> int:
    if not text.lstrip("-").isdigit():
        raise ValueError("expected a whole number")
    return int(text)


PARSERS: dict[str, Callable[[str], Any]] = {
    "resize": _resize, "ratios": _ratios, "split_seed": _seed, "manifest": str, "crop": _choice("square", "pad"),
    "cache": _cache, "labels": _choice("none", "folders"), "flip": _bool,
}


def parse_data(items: list[str], dataset: str) -> dict[str, Any]:
    """``["resize=128", "cache=false"]`` -> ``{"resize": 128, "cache": False}``, every key and value checked for
    dataset ``dataset`` (a one-line :class:`UserError` naming the item, why and the fix)."""
    from colorbench.checks import parse_sets
    from colorbench.data.registry import _BUILTIN

    if not items:
        return {}
    if dataset in _BUILTIN and dataset != "folder":
        raise UserError(f"--data {items[0]}: dataset {dataset!r} takes no --data options (they are the folder "
                        "dataset's and its recipes')")
    out: dict[str, Any] = {}
    for key, text in parse_sets(items, flag="--data").items():
        if key not in PARSERS:
            raise UserError(f"--data {key}: {unknown_name('data option', key, sorted(PARSERS))}")
        if key in PROTOCOL_KEYS and dataset != "folder":
            raise UserError(f"--data {key}={text}: changes the test photos of {dataset!r}, whose recipe fixes its "
                            "evaluation protocol; write a recipe of your own (datasets/README.md) or use --dataset "
                            "folder")
        try:
            out[key] = PARSERS[key](text)
        except ValueError as exc:
            raise UserError(f"--data {key}={text}: {exc}") from None
    return out

"""``folder``: any directory of images (recursive; jpg, png, webp, bmp, tiff), as Lab items.

Split: a manifest CSV (``manifest=``), per-split lists of names (``split_lists=``), a number of files per class
(``per_class=``) or, by default, a seeded ratio split (``ratios=(0.8, 0.1, 0.1)``, ``split_seed=0``, ``stratify=``
by label). Labels: ``labels="folders"`` gives each top-level sub-folder a class (sorted names -> 0, 1, ...).

Transforms: ``resize`` (shorter side to this many pixels, and at least ``size`` for square crops; ``"crop"`` = to
``size``; ``"auto"``, the default, = twice ``size`` but never enlarged, so a square crop sees about half of a
photo's shorter side at every split, whatever the camera's resolution; None = native, the default of recipes), then,
with ``crop="square"`` (the default), a ``size``×``size`` crop: random on train (and a horizontal flip unless
``flip=False``), centred on val and test; ``crops=N`` (a square number: 1, 4, 9, ...) makes each val/test image give
N items, a centred √N×√N grid of adjacent crops (overlapping where the image is smaller than the grid), the items of
one image consecutive (``source(index)`` names the image). ``crop="pad"`` keeps the whole image instead (the C2F
reference's training data): shrunk so its longer side is at most ``size`` (never enlarged), flipped on train as
above, and placed top-left on a ``size``×``size`` canvas padded with mid grey (L = a = b = 0 in network units); the
item gains ``"valid"`` (``[1,size,size]`` bool, True on image pixels) for methods that mask the padding. The
reference pads each batch to its largest image; a fixed canvas gives the same batches whenever a batch holds a
``size``-px side in both orientations (COCO's 640×480 and 480×640 photos) and lets every loader stack items. The
evaluator scores such items on their valid rectangle only (``colorbench.evaluator``). Every file of the split is
decoded once when the dataset is built (``check="decode"``, the default; ``"header"`` only opens headers, for very
large folders, and turns the disk cache off); files that cannot be used are skipped with one warning each, naming
the file and the reason, and one summary line ("skipped 3 of 1,204 files: 2 greyscale, 1 truncated"); the list is
kept in ``dataset.skipped``. ``cache="disk"`` (the default) decodes and resizes each file once ever and keeps the
result on disk (:mod:`colorbench.data.decoded`: keyed by the file's path, size and mtime, so a changed file is
decoded again; bounded, least recently used entries deleted first); items then read the small uint8 array instead of
the photo (a 12 MP JPEG takes about 0.5 s to decode). ``cache=True`` (or ``"memory"``) keeps the decoded, resized
images in memory instead (uint8); ``cache=False`` decodes every item from its file. A build that decodes into the
disk cache says so on stderr, and any build still decoding after 5 s prints a progress line. ``max_pixels`` (default
50 MP) skips images whose header claims more pixels, before decoding them.
"""
from __future__ import annotations

import sys
import time
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from colorbench.data import decoded
from colorbench.data.base import ColorDataset
from colorbench.data.images import DEFAULT_MAX_PIXELS, EXTENSIONS, BadImage, find_images, probe, read_rgb
from colorbench.data.splits import (check_hashes, manifest_hashes, per_class_split, ratio_split, read_manifest,
                                    read_split_lists)
from colorbench.data.transforms import (grid_crop_box, item_rng, pad_item, random_crop_box,
                                        resize_long_side_at_most, resize_short_side, to_item)
from colorbench.errors import UserError

PROGRESS_AFTER_S = 5.0  # a build that decodes longer than this prints a progress line
MAX_FILE_WARNINGS = 20  # individual warnings per build; the summary counts every skipped file


class DataWarning(UserWarning):
    """A file skipped (or converted) while building a dataset."""


def _header_check(path: Path, min_size: int, allow_grey: bool, max_pixels: int | None) -> None:
    """Cheap check without decoding: is it an image, large enough (and not too large), in colour?"""
    try:
        size, mode = probe(path, max_pixels)
    except FileNotFoundError:
        raise BadImage("vanished while the dataset was built") from None
    if min(size) < min_size:
        raise BadImage(f"smaller than the crop ({size[0]}x{size[1]} px, needs at least {min_size}x{min_size})")
    if not allow_grey and mode in ("1", "L", "LA", "I", "I;16", "F"):
        raise BadImage(f"greyscale (mode {mode}), no colour to learn from")


def _grid_side(crops: object, name: str) -> int:
    side = int(round(crops ** 0.5)) if isinstance(crops, int) and not isinstance(crops, bool) and crops > 0 else 0
    if side * side != crops:
        raise UserError(f"dataset {name!r}: crops must be a square number (1, 4, 9, ...: a centred grid of crops "
                        f"per image); got {crops!r}")
    return side


class FolderDataset(ColorDataset):
    """Images in a folder (see the module docstring for options)."""

    name = "folder"

    def __init__(self, split: str = "train", *, size: int = 64, seed: int = 0, data_dir: str | Path | None = None,
                 image_dir: str | None = None, labels: str = "none", manifest: str | None = None,
                 split_lists: Mapping[str, str] | None = None, per_class: Mapping[str, int] | None = None,
                 ratios: Sequence[float] = (0.8, 0.1, 0.1), split_seed: int = 0, stratify: bool = False,
                 resize: int | str | None = "auto", crop: str = "square", flip: bool = True, allow_grey: bool = False,
                 extensions: Sequence[str] = EXTENSIONS, check: str = "decode", cache: bool | str = "disk",
                 max_pixels: int | None = DEFAULT_MAX_PIXELS, crops: int = 1,
                 name: str | None = None, how_to_get: str | None = None) -> None:
        super().__init__(split, size=size, seed=seed)
        if name:
            self.name = name
        how = how_to_get or "pass the folder that holds your images as data_dir (--data-dir)"
        if data_dir is None:
            raise UserError(f"dataset {self.name!r} needs data_dir (--data-dir): {how}")
        self.root = Path(data_dir).expanduser()
        if not self.root.is_dir():
            raise UserError(f"dataset {self.name!r}: {self.root} does not exist or is not a folder; {how}")
        image_root = self.root / image_dir if image_dir else self.root
        if not image_root.is_dir():
            raise UserError(f"dataset {self.name!r}: {image_root} does not exist; {how}")
        if labels not in ("none", "folders"):
            raise UserError(f"labels must be 'none' or 'folders'; got {labels!r}")
        if check not in ("decode", "header"):
            raise UserError(f"check must be 'decode' or 'header'; got {check!r}")
        if crop not in ("square", "pad"):
            raise UserError(f"crop must be 'square' or 'pad'; got {crop!r}")
        self.crop = crop
        self.crops = _grid_side(crops, self.name) ** 2 if not self.augment else 1
        if self.crops > 1 and crop == "pad":
            raise UserError(f"dataset {self.name!r}: crops={crops} needs crop='square' (a padded item is the whole "
                            "image); drop one of the two")
        if resize == "crop":
            resize = size
        self.shrink_only = resize == "auto"
        if resize == "auto":
            resize = 2 * size
        if cache not in (True, False, "disk", "memory"):
            raise UserError(f"dataset {self.name!r}: cache must be 'disk' (the default), 'memory' (or true) or false; "
                            f"got {cache!r}")
        self.cache_mode = "memory" if cache is True else cache or None
        if check == "header" and self.cache_mode == "disk":  # filling the cache would decode every file
            self.cache_mode = None
        # never shorter than a square crop: a recipe's resize (e.g. 128) still serves a larger crop (256)
        self.resize = None if resize is None else int(resize) if crop == "pad" else max(int(resize), size)
        self.flip, self.allow_grey = bool(flip), bool(allow_grey)
        if max_pixels is not None:
            from colorbench.checks import integer

            max_pixels = integer(max_pixels, f"dataset {self.name!r}: max_pixels", minimum=1,
                                 fix="give the largest image in pixels, e.g. 50000000")
        self.max_pixels = max_pixels

        files = find_images(image_root, tuple(extensions))
        if not files:
            raise UserError(f"dataset {self.name!r}: no images ({', '.join(extensions)}) under {image_root}; {how}")
        keys = [p.relative_to(image_root).as_posix() for p in files]
        file_labels = None
        self.class_names: list[str] | None = None
        if labels == "folders":
            top = [k.split("/")[0] if "/" in k else None for k in keys]
            if None in top:
                bad = keys[top.index(None)]
                raise UserError(f"labels='folders' needs every image inside a class sub-folder of {image_root}; "
                                f"{bad} is not")
            self.class_names = sorted(set(top))
            index = {c: i for i, c in enumerate(self.class_names)}
            file_labels = [index[t] for t in top]
            self.num_classes = len(self.class_names)

        if manifest is not None:
            manifest_path = Path(manifest) if Path(manifest).is_absolute() else self.root / manifest
            table = read_manifest(manifest_path)
            check_hashes(image_root, manifest_hashes(manifest_path), keys, self.name)
            assignment = {k: table[k][0] for k in keys if k in table}
            if file_labels is None and any(v[1] is not None for v in table.values()):
                file_labels = [table.get(k, (None, -1))[1] for k in keys]
                file_labels = [-1 if v is None else v for v in file_labels]
                self.num_classes = max(file_labels) + 1
        elif split_lists is not None:
            assignment = read_split_lists(self.root, split_lists, keys)
        elif per_class is not None:
            if file_labels is None:
                raise UserError("per_class needs labels='folders' (one sub-folder per class)")
            assignment = per_class_split(keys, file_labels, per_class, split_seed)
        else:
            assignment = ratio_split(keys, ratios, split_seed, file_labels if stratify else None)

        chosen = [i for i, k in enumerate(keys) if assignment.get(k) == self.split]
        min_size = 0 if (self.resize is not None and not self.shrink_only) or crop == "pad" else size
        self.skipped: list[tuple[str, str]] = []
        self.paths: list[Path] = []
        self.labels: list[int | None] = []
        self._cache: list[np.ndarray] | None = [] if self.cache_mode == "memory" else None
        self._keys: list[str] | None = [] if self.cache_mode == "disk" else None
        self._disk = disk = decoded.cache_root() if self.cache_mode == "disk" else None
        shape = {"resize": self.resize, "shrink_only": self.shrink_only, "crop": crop,
                 "size": size if crop == "pad" else None, "allow_grey": self.allow_grey}

        keys: dict[int, str] = {}
        if disk is not None:
            for i in chosen:
                try:
                    keys[i] = decoded.key(files[i], shape)
                except FileNotFoundError:
                    pass
            new = sum(1 for k in keys.values() if not decoded.entry(disk, k).is_file())
            if new:
                print(f"dataset {self.name!r} ({self.split}): decoding {new} of {len(chosen)} photo(s) once into "
                      f"{disk} (later builds read them from there)", file=sys.stderr, flush=True)

        def check_one(i: int):
            try:
                k = keys.get(i)
                if k is not None and decoded.load(disk, k) is not None:
                    return i, k, None, False  # decoded (and checked) by an earlier build
                if check == "header" and self.cache_mode is None:
                    _header_check(files[i], min_size, self.allow_grey, self.max_pixels)
                    return i, None, None, False
                image = read_rgb(files[i], allow_grey=self.allow_grey, min_size=min_size, max_pixels=self.max_pixels)
                if k is not None:
                    decoded.store(disk, k, self._resized(image))
                    return i, k, None, True
                return i, (self._resized(image) if self._cache is not None else None), None, True
            except BadImage as exc:
                return i, None, str(exc), True
            except FileNotFoundError:
                return i, None, "vanished while the dataset was built", True

        results = self._check_all(check_one, chosen, files)
        if disk is not None and any(fresh for *_, fresh in results):
            decoded.trim(disk, {k for _, k, reason, _ in results if reason is None and k is not None})
        for i, image, reason, _ in results:
            if reason is not None:
                self.skipped.append((str(files[i]), reason))
                if len(self.skipped) <= MAX_FILE_WARNINGS:
                    warnings.warn(f"dataset {self.name!r}: skipping {files[i]}: {reason}", DataWarning, stacklevel=3)
                continue
            self.paths.append(files[i])
            self.labels.append(file_labels[i] if file_labels is not None else None)
            if self._cache is not None:
                self._cache.append(image)
            if self._keys is not None:
                self._keys.append(image)
        if self.skipped:
            counts = Counter(reason.split(" (")[0] for _, reason in self.skipped)
            what = ", ".join(f"{n} {r}" for r, n in counts.most_common())
            more = (f"; only the first {MAX_FILE_WARNINGS} were named, all are in dataset.skipped"
                    if len(self.skipped) > MAX_FILE_WARNINGS else "")
            warnings.warn(f"dataset {self.name!r} ({self.split}): skipped {len(self.skipped):,} of {len(chosen):,} "
                          f"files: {what}{more}", DataWarning, stacklevel=3)
        if not self.paths:
            raise UserError(f"dataset {self.name!r}: no usable images in the {self.split!r} split under {image_root} "
                            f"({len(chosen)} files assigned, {len(self.skipped)} skipped); {how}")

    def _check_all(self, check_one, chosen: list[int], files: list[Path]) -> list[tuple]:
        """``check_one`` over the chosen files on 4 threads, in order; a progress line on stderr once decoding has
        taken :data:`PROGRESS_AFTER_S` (then every few seconds, or in place on a terminal)."""
        start, shown, out = time.monotonic(), 0.0, []
        tty = sys.stderr.isatty()
        where = f" into {decoded.cache_root()}" if self.cache_mode == "disk" else ""
        with ThreadPoolExecutor(max_workers=4) as pool:
            for n, result in enumerate(pool.map(check_one, chosen), 1):
                out.append(result)
                elapsed = time.monotonic() - start
                if elapsed >= PROGRESS_AFTER_S and (n == len(chosen) or elapsed - shown >= (1 if tty else 10)):
                    fresh = sum(1 for *_, f in out if f)
                    line = (f"dataset {self.name!r} ({self.split}): decoded {fresh} photo(s){where}, {n}/{len(chosen)} "
                            f"checked, {elapsed:.0f} s")
                    print(("\r" + line) if tty else line, end="\n" if not tty or n == len(chosen) else "",
                          file=sys.stderr, flush=True)
                    shown = elapsed
        return out

    def _resized(self, image: np.ndarray) -> np.ndarray:
        if self.resize is not None and not (self.shrink_only and min(image.shape[:2]) <= self.resize):
            image = resize_short_side(image, self.resize)
        return resize_long_side_at_most(image, self.size) if self.crop == "pad" else image

    def __len__(self) -> int:
        return len(self.paths) * self.crops

    def source(self, index: int) -> str:
        """The image (its path relative to the data folder) that item ``index`` comes from."""
        path = self.paths[index // self.crops]
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def image(self, index: int) -> np.ndarray:
        """The resized ``[H,W,3]`` uint8 image behind item ``index`` (before the crop)."""
        if self._cache is not None:
            return self._cache[index]
        if self._keys is not None:
            try:
                return decoded.read(self._disk, self._keys[index])
            except (OSError, ValueError):  # deleted since the build (another build's trim): decode it again
                pass
        try:
            return self._resized(read_rgb(self.paths[index], allow_grey=self.allow_grey, max_pixels=self.max_pixels))
        except (BadImage, FileNotFoundError) as exc:
            raise UserError(f"dataset {self.name!r}: {self.paths[index]} became unreadable: {exc}") from None

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {self!r}")
        photo, box = divmod(index, self.crops)
        image = self.image(photo)
        h, w = image.shape[:2]
        label = self.labels[photo]
        rng = item_rng(self.seed, self.epoch, index) if self.augment else None
        if self.crop == "pad":
            flip = rng is not None and self.flip and bool(rng.integers(0, 2))
            return pad_item(to_item(image, index, label, flip=flip), self.size)
        flip = False
        if rng is not None:
            y, x = random_crop_box(h, w, self.size, rng)
            flip = self.flip and bool(rng.integers(0, 2))
        else:
            y, x = grid_crop_box(h, w, self.size, self.crops, box)
        return to_item(image[y:y + self.size, x:x + self.size], index, label, flip=flip, uint8=self.uint8_batches)

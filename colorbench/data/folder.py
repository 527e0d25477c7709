"""``folder``: any directory of images (recursive; jpg, png, webp, bmp, tiff), as Lab items.

Split: a manifest CSV (``manifest=``), per-split lists of names (``split_lists=``), a number of files per class
(``per_class=``) or, by default, a seeded ratio split (``ratios=(0.8, 0.1, 0.1)``, ``split_seed=0``, ``stratify=``
by label; ``ratio_cuts="floor"`` cuts at ``int(n · cumulative ratio)`` as the C2F reference, see
:func:`colorbench.data.splits.ratio_split`). ``split_dirs={"train": "val", "test": "train"}`` reads each split from
its own sub-folder of the data folder (under ``image_dir`` when set; building a split it does not name raises):
every file there belongs to that split, or with ``per_class`` its ``per_class[split]`` files of every class (Tarrés'
thesis: ILSVRC-12's validation set to train, 10 per class of its training set to test). Labels:
``labels="folders"`` gives each top-level sub-folder a class (sorted names -> 0, 1, ...).

Pinned lists: ``file_list=`` (a path; a recipe's is relative to the recipe) names the images of the ``test`` split,
one file name per line, in scoring order (:mod:`colorbench.data.filelist`: every listed file must be there, wherever
it lies under ``data_dir``; their sha256s are recorded on first use and checked afterwards); other splits are empty.

Transforms: ``resize`` (shorter side to this many pixels, and at least ``size`` for square crops; ``"crop"`` = to
``size``; ``"auto"``, the default, = twice ``size`` but never enlarged, so a square crop sees about half of a
photo's shorter side at every split, whatever the camera's resolution; ``"square"`` = the centred square of side
min(H, W), then resized to ``size``×``size``, as CT2's test images; ``"stretch"`` = the whole image resized to
``size``×``size``, aspect ratio not kept, as ColorFormer's and DDColor's; None = native, the default of recipes) with
``resize_filter`` ``"antialias"`` (the default: bilinear widened when shrinking, as PIL's and torchvision's bilinear
on PIL images) or ``"bilinear"`` (the four nearest pixels, as OpenCV's ``cv2.resize`` default), then, with
``crop="square"`` (the default), a ``size``×``size`` crop: random on train (and a horizontal flip unless
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
from colorbench.data.transforms import (centre_square, grid_crop_box, item_rng, pad_item, random_crop_box,
                                        resize_long_side_at_most, resize_short_side, resize_uint8, to_item)
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
                 max_pixels: int | None = DEFAULT_MAX_PIXELS, crops: int = 1, file_list: str | Path | None = None,
                 resize_filter: str = "antialias", split_dirs: Mapping[str, str] | None = None,
                 ratio_cuts: str = "round", name: str | None = None, how_to_get: str | None = None) -> None:
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
        if split_dirs is not None:
            unknown = sorted(set(split_dirs) - {"train", "val", "test"})
            if unknown:
                raise UserError(f"dataset {self.name!r}: split_dirs names unknown split(s) {', '.join(unknown)}; "
                                "use train, val, test")
            if split not in split_dirs:
                raise UserError(f"dataset {self.name!r}: split_dirs gives the {split!r} split no folder (it names "
                                f"{', '.join(sorted(split_dirs))}); {how}")
            image_root = image_root / split_dirs[split]
            if per_class is not None:
                per_class = {split: int(per_class.get(split, 0))}
            else:
                ratios = tuple(1.0 if s == split else 0.0 for s in ("train", "val", "test"))
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
        if resize_filter not in ("antialias", "bilinear"):
            raise UserError(f"dataset {self.name!r}: resize_filter must be 'antialias' or 'bilinear'; "
                            f"got {resize_filter!r}")
        self.antialias = resize_filter == "antialias"
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
        if resize in ("square", "stretch"):
            if crop != "square":
                raise UserError(f"dataset {self.name!r}: resize={resize!r} makes {size}x{size} images and needs "
                                "crop='square'")
            self.resize: int | str | None = resize
        elif isinstance(resize, str) and not resize.isdigit():
            raise UserError(f"dataset {self.name!r}: resize must be a number of px, 'auto', 'crop', 'square' or "
                            f"'stretch'; got {resize!r}")
        else:  # never shorter than a square crop: a recipe's resize (e.g. 128) still serves a larger crop (256)
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

        self.hash_record: Path | None = None
        if file_list is not None:
            from colorbench.data import filelist

            list_path = Path(file_list).expanduser()
            listed = filelist.match(filelist.read_list(list_path), keys, image_root, self.name, list_path)
            if self.split == "test":
                self.hash_record = filelist.check_or_record(self.name, image_root, listed)
            order = {k: i for i, k in enumerate(listed)}  # the list's order, not the folder's
            ranked = sorted(order, key=order.__getitem__)
            position = {k: i for i, k in enumerate(keys)}
            files = [files[position[k]] for k in ranked] + [f for k, f in zip(keys, files) if k not in order]
            keys = ranked + [k for k in keys if k not in order]
            file_labels = None
            assignment = {k: "test" for k in ranked}
        elif manifest is not None:
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
            assignment = ratio_split(keys, ratios, split_seed, file_labels if stratify else None, ratio_cuts)

        chosen = [i for i, k in enumerate(keys) if assignment.get(k) == self.split]
        min_size = 0 if (self.resize is not None and not self.shrink_only) or crop == "pad" else size
        self.skipped: list[tuple[str, str]] = []
        self.paths: list[Path] = []
        self.labels: list[int | None] = []
        self._cache: list[np.ndarray] | None = [] if self.cache_mode == "memory" else None
        self._keys: list[str] | None = [] if self.cache_mode == "disk" else None
        self._disk = disk = decoded.cache_root() if self.cache_mode == "disk" else None
        shape = {"resize": self.resize, "shrink_only": self.shrink_only, "crop": crop,
                 "size": size if crop == "pad" or self.resize in ("square", "stretch") else None,
                 "allow_grey": self.allow_grey, **({} if self.antialias else {"filter": "bilinear"})}

        cache_keys: dict[int, str] = {}
        if disk is not None:
            for i in chosen:
                try:
                    cache_keys[i] = decoded.key(files[i], shape)
                except FileNotFoundError:
                    pass
            new = sum(1 for k in cache_keys.values() if not decoded.entry(disk, k).is_file())
            if new:
                print(f"dataset {self.name!r} ({self.split}): decoding {new} of {len(chosen)} photo(s) once into "
                      f"{disk} (later builds read them from there)", file=sys.stderr, flush=True)

        def check_one(i: int):
            try:
                k = cache_keys.get(i)
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
            # every file skipped: the reason (with its fix) is the way out, not where the folder is
            fix = (f"every one was skipped, e.g. {Path(self.skipped[0][0]).name}: {self.skipped[0][1]}"
                   if self.skipped else how)
            raise UserError(f"dataset {self.name!r}: no usable images in the {self.split!r} split under {image_root} "
                            f"({len(chosen)} files assigned, {len(self.skipped)} skipped); {fix}")

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
        if self.resize == "square":
            return resize_uint8(centre_square(image), self.size, self.size, self.antialias)
        if self.resize == "stretch":
            return resize_uint8(image, self.size, self.size, self.antialias)
        if self.resize is not None and not (self.shrink_only and min(image.shape[:2]) <= self.resize):
            image = resize_short_side(image, self.resize, self.antialias)
        return resize_long_side_at_most(image, self.size) if self.crop == "pad" else image

    @property
    def preprocessing(self) -> str:
        """How a photo becomes a scored item, in words (recorded in every result row): crop, resize, filter, size."""
        flt = ("bilinear, antialiased (PIL / torchvision bilinear)" if self.antialias else
               "bilinear, not antialiased (OpenCV INTER_LINEAR)")
        if self.resize == "square":
            return f"centre square (side min(H, W)), resized to {self.size}x{self.size}: {flt}"
        if self.resize == "stretch":
            return f"whole image resized to {self.size}x{self.size} (aspect ratio not kept): {flt}"
        if self.crop == "pad":
            return f"longer side shrunk to at most {self.size} px ({flt}), padded top-left to {self.size}x{self.size}"
        scale = f"shorter side resized to {self.resize} px ({flt}), then " if self.resize is not None else "native " \
            "size, then "
        grid = f"a centred {int(round(self.crops ** 0.5))}x{int(round(self.crops ** 0.5))} grid of " \
            if self.crops > 1 else "the centred "
        return f"{scale}{grid}{self.size}x{self.size} crop" + ("s" if self.crops > 1 else "")

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

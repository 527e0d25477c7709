"""``colorbench colorize CHECKPOINT INPUT... --out DIR``: colourise photos of any size at full resolution.

INPUT is a photo, a folder (every photo under it, recursively) or a glob (``'photos/**/*.jpg'``, quoted so the
shell leaves it alone). Each photo is read by the data layer's reader (:func:`colorbench.data.images.read_rgb`: EXIF
rotation, alpha over white, at most ``--max-pixels``) and turned into its lightness (a colour photo becomes grey
first: only its L is used). Every input is checked before any work, an output never replaces an input nor,
without ``--overwrite``, any file already in ``--out`` (names compared without case), and a
prediction that is not finite is refused instead of written.

The full-resolution L is kept. By default ab is predicted at the scale the model trained at: L resized so its shorter
side is the run's recorded training short side (``train_short_side``: 128 px for 64 px crops of a ``folder``), then
upsampled; a model trained on small crops colours a full-resolution photo with the wrong colours (docs/training.md).
``--working-size N`` predicts on L resized to longer side N instead; ``--working-size 0`` (and a run that records no
scale) at full resolution, on overlapping tiles blended with a smooth window (:mod:`colorbench.tiling`), which
bounds memory whatever the photo's size (what :mod:`colorbench.inference` documents).
A progress bar counts tiles on a terminal; elsewhere one line per photo is printed.
"""
from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path

from colorbench.errors import UserError
from colorbench.limits import DEFAULT_MAX_PIXELS
from colorbench.tiling import DEFAULT_OVERLAP, DEFAULT_TILE

HELP = "colourise photos (grey or colour, any size; files, folders or globs) with a trained checkpoint; writes PNGs"
EXAMPLES = """examples:
  colorbench colorize runs/pix2pix-default-openphotos-s0 photo.jpg --out coloured/            # full resolution, tiled
  colorbench colorize runs/pix2pix-default-openphotos-s0 photos/ 'more/**/*.jpg' --out coloured/
  colorbench colorize runs/pix2pix-default-openphotos-s0 big.tif --out coloured/ --tile 384     # less memory
  colorbench colorize runs/pix2pix-default-openphotos-s0 a.png --out coloured/ --working-size 256"""
GLOB_CHARS = set("*?[")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="run folder or checkpoint folder (from `colorbench train`), or a released "
                   "model's zoo name METHOD:ENTRY (`colorbench weights list`)")
    p.add_argument("images", nargs="+", metavar="INPUT",
                   help="photos (PNG, JPEG, ...), folders (every photo under them) or quoted globs ('in/**/*.jpg')")
    p.add_argument("--out", type=Path, required=True, help="folder for the colourised PNGs (<stem>.png each)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace files already in --out under an output's name (default: refuse, naming the first; "
                   "an input is never replaced)")
    p.add_argument("--working-size", type=int, default=None,
                   help="longer side (px) at which ab is predicted, then upsampled; 0 = full resolution, tiled "
                   "(default: the shorter side the run trained at, from its record, e.g. 128 for 64 px crops of a "
                   "folder; full resolution when the record has none)")
    p.add_argument("--tile", type=int, default=DEFAULT_TILE, metavar="PX",
                   help="predict on PX-square tiles blended over their overlap, so memory stays bounded at any "
                   "size; 0 = the whole image at once")
    p.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP, metavar="PX",
                   help="least overlap of neighbouring tiles; its outer quarter next to a cut gets no weight")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                   help="network precision: auto = bf16 autocast on CUDA, fp32 elsewhere (default: auto)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | mps (default: auto)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help="refuse photos of more than N pixels (read from the header, before decoding)")


def expand_inputs(inputs: list[str]) -> list[str]:
    """Photos named by ``inputs``, in order, each once: a folder gives every photo under it (recursive, sorted, by
    extension); an argument with ``* ? [`` that is not a file is a glob (``**`` recurses); anything else is a photo
    path (checked later). A folder or glob that yields no photo is a UserError."""
    from colorbench.data.images import EXTENSIONS

    exts = {e.lower() for e in EXTENSIONS}
    found: list[str] = []
    for arg in inputs:
        path = Path(arg)
        if path.is_dir():
            from colorbench.data.images import find_images

            matches = [str(p) for p in find_images(path)]
            what = f"folder {arg}"
        elif GLOB_CHARS & set(arg) and not path.exists():
            matches = sorted(p for p in glob.glob(arg, recursive=True)
                             if Path(p).is_file() and Path(p).suffix.lower() in exts)
            what = f"glob {arg!r}"
        else:
            found.append(arg)
            continue
        if not matches:
            raise UserError(f"{what} holds no photo ({', '.join(sorted(exts))}); give files, a folder of photos or "
                            "a glob that matches some")
        found += matches
    seen: set[Path] = set()
    unique = []
    for p in found:
        key = Path(p).resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def plan_outputs(inputs: list[str], out: Path, overwrite: bool = False) -> list[Path]:
    """The PNG each input becomes in ``out`` (``stem.png``, then ``stem-2.png``, ... for repeated stems, compared
    without case, so ``a.jpg`` and ``A.jpg`` never share a file on a case-blind disk). A target that is one of the
    inputs raises a UserError, and so does a file already in ``out`` under a target's name (case aside) unless
    ``overwrite``: colorize never replaces a file it did not write."""
    sources = {(p.parent, p.name.casefold()): p for p in (Path(i).resolve() for i in inputs)}
    used: set[str] = set()
    targets, near = [], []
    for image in inputs:
        stem, n = Path(image).stem, 1
        name = f"{stem}.png"
        while name.casefold() in used:  # two inputs with one name from different folders
            n += 1
            name = f"{stem}-{n}.png"
        used.add(name.casefold())
        target = out / name
        hit = sources.get((target.resolve().parent, name.casefold()))
        if hit == target.resolve():
            raise UserError(f"--out {out}: colourising {image} would write over the input {target}; "
                            "choose another --out folder")
        if hit is not None:
            near.append((image, target, hit))
        targets.append(target)
    if not overwrite and out.is_dir():
        inputs_here = set(sources.values())
        existing = {p.name.casefold(): p for p in out.iterdir() if p.resolve() not in inputs_here}
        clashes = [(t, existing[t.name.casefold()]) for t in targets if t.name.casefold() in existing]
        if clashes:
            (target, there), more = clashes[0], len(clashes) - 1
            also = f" (and {more} more)" if more else ""
            raise UserError(f"--out {out}: {there} already exists and colourising would replace it with {target.name}"
                            f"{also}; nothing was written: add --overwrite to replace, or choose another --out folder")
    if near:  # on a case-blind disk (macOS, Windows) these are the input itself
        image, target, hit = near[0]
        raise UserError(f"--out {out}: colourising {image} would write {target}, whose name differs from the input "
                        f"{hit.name} only in case (the same file on a case-blind disk); choose another --out folder")
    return targets


def run(args: argparse.Namespace) -> int:
    from colorbench import _atomic, checks, inference, pretrained
    from colorbench.checkpoint import load_method
    from colorbench.data import images
    from colorbench.train.distributed import resolve_device

    if args.working_size is not None:
        checks.integer(args.working_size, "--working-size", minimum=0,
                       fix="give the longer side in px at which ab is predicted, or 0 for the photo's own size")
    checks.integer(args.tile, "--tile", minimum=0, fix="give the tile side in px (e.g. 512), or 0 for no tiling")
    if args.tile and not 0 <= args.overlap < args.tile:
        raise UserError(f"--overlap {args.overlap}: must lie in 0..{args.tile - 1} (below --tile {args.tile}); "
                        f"e.g. --overlap {args.tile // 4}")
    settings = inference.Settings(working_size=args.working_size or 0, short_side=_trained_scale(args),
                                  tile=args.tile, overlap=args.overlap, precision=args.precision)
    if settings.short_side:
        print(f"predicting ab at {settings.short_side} px on the shorter side, the scale {args.checkpoint} trained at "
              "(--working-size N: another; 0: full resolution)")
    elif args.working_size is None and not pretrained.is_zoo_name(args.checkpoint):
        print(f"predicting ab at full resolution: {args.checkpoint} records no training scale (--working-size N "
              "sets one)")
    max_pixels = checks.setting("max_pixels", args.max_pixels, "--max-pixels")
    photos = expand_inputs(args.images)
    _atomic.check_writable(args.out, "--out", folder=True)  # a file there, a read-only disk: before any work
    targets = plan_outputs(photos, args.out, args.overwrite)
    tiles = []
    for image in photos:  # every input is checked (exists, readable header, size) before any work
        try:
            (width, height), _ = images.probe(image, max_pixels)
        except FileNotFoundError:
            raise UserError(f"image {image} does not exist") from None
        except images.BadImage as exc:
            raise UserError(f"cannot use {image}: {exc}") from None
        tiles.append(inference.tiles_for(height, width, settings))
    method = load_method(args.checkpoint, map_location=resolve_device(args.device))  # refuses non-finite weights
    if getattr(method, "zoo_name", None) and settings.tile:  # a released model resizes the whole photo itself
        settings = inference.Settings(working_size=args.working_size or 0, tile=0, overlap=args.overlap,
                                      precision=args.precision)
        print(f"{method.zoo_name}: released model, predicted on the whole photo as its publisher does (no tiles)")
    args.out.mkdir(parents=True, exist_ok=True)
    bar = _bar(sum(tiles))
    try:
        for i, (image, target) in enumerate(zip(photos, targets), 1):
            start = time.perf_counter()
            bar.set_description(Path(image).name)
            rgb = inference.read_photo(image, max_pixels)
            out = inference.colorize_photo(method, rgb, settings, on_tile=bar.update)
            _atomic.write_bytes(target, inference.encode_png(out))
            line = (f"[{i}/{len(photos)}] {image} -> {target} ({rgb.shape[1]}x{rgb.shape[0]}, {tiles[i - 1]} "
                    f"tile{'s' * (tiles[i - 1] != 1)}, {time.perf_counter() - start:.1f} s)")
            bar.write(line)  # above the bar on a terminal; a plain line elsewhere
    finally:
        bar.close()
    print(f"{len(photos)} photo{'s' * (len(photos) != 1)} colourised into {args.out} ({settings.describe()})")
    return 0


def _trained_scale(args: argparse.Namespace) -> int:
    """The default working scale: the shorter side the run's photos had in training (its record's
    ``train_short_side``), 0 when ``--working-size`` is given or the record has none. A model learns colours at
    one scale: at full resolution a 64 px crop's worth of texture becomes a few leaves of a 12 MP photo, and the
    colours it predicts there are not the ones it learnt (docs/training.md measures it)."""
    from colorbench import pretrained

    if args.working_size is not None or pretrained.is_zoo_name(args.checkpoint):  # a release sets its own size
        return 0
    from colorbench.checkpoint import read_config

    side = read_config(args.checkpoint).get("train_short_side")
    return int(side) if isinstance(side, int) and side > 0 else 0


def _bar(total: int):
    """A tqdm bar over tiles on stderr when it is a terminal; disabled (and silent) otherwise."""
    from tqdm import tqdm

    return tqdm(total=total, unit="tile", dynamic_ncols=True, disable=not sys.stderr.isatty(), file=sys.stderr)

"""Reading one image file into ``[H,W,3]`` uint8 sRGB, converting what can be converted and naming what cannot.

Conversions (all through Pillow): EXIF orientation applied; palette (``P``) -> RGB, or RGBA when it has a
transparent colour; RGBA / LA / PA -> composited over white (what a viewer shows); CMYK (including Adobe's inverted
CMYK JPEGs) and YCbCr -> RGB; 16-bit-per-channel RGB PNG -> 8 bits (Pillow keeps the high byte, error < 1/255);
greyscale of 16 bits or float scaled from its real range (65535 or 1.0 is white).
Refused with a reason (:class:`BadImage`): unreadable or truncated files, files that are not images, greyscale images
(modes ``1``/``L``/``LA``/``I;16``/``I``/``F``, or RGB whose three channels are equal within ``GREY_TOLERANCE``) when
the dataset needs colour, images smaller than the crop, and images whose header claims more than ``max_pixels``
pixels (default ``DEFAULT_MAX_PIXELS``, 50 MP), refused from the header before anything is decoded.

This is the one reader of photos: the data layer (``folder`` datasets) and ``colorbench colorize`` both use it, so a
photo gets the same conversions (EXIF rotation, alpha over white, 16 bits to 8) wherever it is read.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from colorbench.limits import DEFAULT_MAX_PIXELS

# The reader enforces its own limit (max_pixels) from the header, before decoding; Pillow's global one would warn at
# 89 MP and raise a DecompressionBombError traceback at 179 MP whatever the user's --max-pixels says.
Image.MAX_IMAGE_PIXELS = None

MAX_PIXELS_FIX = "raise the limit with --max-pixels (a folder dataset: the option max_pixels) or resize the image"
EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F")
GREY_TOLERANCE = 2  # uint8 levels: an RGB file whose channels never differ by more than this is greyscale


class BadImage(Exception):
    """A file that cannot be used; ``str(exc)`` is the reason, for the warning that names the file."""


def _grey_to_uint8(im: Image.Image, fmt: str | None = None) -> np.ndarray:
    """A greyscale Pillow image (any bit depth; ``fmt``: the file's format, ``PNG``) -> ``[H,W,3]`` uint8 (the grey
    repeated), scaled from its real range (:func:`_white`)."""
    if im.mode in ("LA", "La"):
        im = _over_white(im.convert("RGBA")).convert("L")
    arr = np.asarray(im)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    elif arr.dtype != np.uint8:
        arr = np.nan_to_num(arr.astype(np.float64), nan=0.0)
        arr = np.clip(np.round(arr / _white(im.mode, fmt, arr) * 255.0), 0, 255).astype(np.uint8)
    return np.repeat(arr[..., None], 3, axis=2)


def _white(mode: str, fmt: str | None, arr: np.ndarray) -> float:
    """The value that means white in a greyscale image of more than 8 bits: 65535 for 16-bit modes (and PNG's
    32-bit ``I``, which holds 16-bit samples); 1.0 for a float (``F``) image whose values lie in [0, 1] (a float
    TIFF's own range; 0.89 is light grey, not black), else 255 or 65535, whichever its largest value fits."""
    if mode.startswith("I;16") or (mode == "I" and fmt == "PNG"):
        return 65535.0
    top = float(arr.max()) if arr.size else 0.0
    if mode == "F" and top <= 1.0 + 1e-6:
        return 1.0
    return 255.0 if top <= 255.0 else 65535.0


def _over_white(im: Image.Image) -> Image.Image:
    background = Image.new("RGBA", im.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, im).convert("RGB")


def check_pixels(size: tuple[int, int], max_pixels: int | None) -> None:
    """Raise :class:`BadImage` when a ``(width, height)`` image has more than ``max_pixels`` pixels (None: no limit)."""
    w, h = size
    if max_pixels is not None and w * h > max_pixels:
        raise BadImage(f"too large ({w}x{h} px = {w * h:,} pixels, over the limit of {max_pixels:,}); {MAX_PIXELS_FIX}")


def probe(path: str | Path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> tuple[tuple[int, int], str]:
    """``((width, height), mode)`` from the header only (no decoding); :class:`BadImage` when unreadable or over
    ``max_pixels``."""
    try:
        with Image.open(path) as im:
            size, mode = im.size, im.mode
    except FileNotFoundError:
        raise
    except UnidentifiedImageError:
        raise BadImage("not an image Pillow can read (unknown format)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise BadImage(f"unreadable ({exc})") from None
    check_pixels(size, max_pixels)
    return size, mode


def read_rgb(path: str | Path, *, allow_grey: bool = False, min_size: int = 0,
             max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode ``path`` into ``[H,W,3]`` uint8 sRGB (see the module docstring for the conversions).

    Raises :class:`BadImage` with the reason when the file cannot be used: unreadable, truncated, not an image,
    greyscale (unless ``allow_grey``), shorter side below ``min_size`` pixels, or more than ``max_pixels`` pixels
    (checked from the header, before decoding; None = no limit). A missing file raises ``FileNotFoundError``.
    """
    try:
        with Image.open(path) as im:
            check_pixels(im.size, max_pixels)
            fmt = im.format
            im.load()
            im = ImageOps.exif_transpose(im)
            if min(im.size) < min_size:
                raise BadImage(f"smaller than the crop ({im.size[0]}x{im.size[1]} px, needs at least "
                               f"{min_size}x{min_size}); resize it or use the dataset's resize option")
            if im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            if im.mode == "PA":
                im = im.convert("RGBA")
            if im.mode in GREY_MODES:
                if not allow_grey:
                    raise BadImage(f"greyscale (mode {im.mode}), no colour to learn from")
                return _grey_to_uint8(im, fmt)
            if im.mode == "RGBA":
                im = _over_white(im)
            elif im.mode != "RGB":
                im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX
            arr = np.array(im, dtype=np.uint8)
    except (BadImage, FileNotFoundError):
        raise
    except UnidentifiedImageError:
        raise BadImage("not an image Pillow can read (unknown format)") from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated / corrupt data
        raise BadImage(f"unreadable or truncated ({exc})") from None
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise BadImage(f"unexpected pixel layout {arr.shape}")
    if not allow_grey:
        spread = int((arr.max(axis=2).astype(np.int16) - arr.min(axis=2)).max()) if arr.size else 0
        if spread <= GREY_TOLERANCE:
            raise BadImage(f"greyscale (RGB with equal channels, max spread {spread}), no colour to learn from")
    return arr


def find_images(root: Path, extensions: tuple[str, ...] = EXTENSIONS) -> list[Path]:
    """Every file under ``root`` (recursive, sorted) whose suffix is one of ``extensions`` (any case)."""
    exts = {e.lower() for e in extensions}
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in exts and p.is_file())

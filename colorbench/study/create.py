"""``colorbench study create``: pick held-out square photos, write the ground truth and each method's colourisation at a
display size under opaque random names, and the manifest.

Each photo is first resized to the display size (long side ``size`` px, antialiased; ``"original"`` keeps it), then
every condition is rendered from that one image through the same Lab round trip: the ground truth is
``network_to_rgb(L, ab_true)`` and a method's image ``network_to_rgb(L, method.colorize(L))``, so the images of one
photo differ only in their ab channels (same L, same clipping to sRGB, same PNG encoding).
"""
from __future__ import annotations

import csv
import io
import random
import secrets
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from colorbench import _atomic
from colorbench.color import network_to_rgb, rgb_to_network
from colorbench.errors import UserError
from colorbench.method import Method
from colorbench.study.manifest import GROUND_TRUTH, IMAGES, MANIFEST, Manifest, load_manifest

DEFAULT_PER_PARTICIPANT = 50  # Tarrés: 50 images per participant
MIN_NATIVE = 128
"""Shortest side in px of a ``sample`` trial image before display resizing (square crops of held-out rows)."""


def display_resize(rgb: torch.Tensor, size: int | str) -> torch.Tensor:
    """``[3,H,W]`` in [0,1] -> ``[3,h,w]`` with ``max(h, w) == size`` (aspect kept, antialiased); ``"original"``
    keeps it."""
    if size == "original":
        return rgb
    h, w = rgb.shape[-2:]
    scale = int(size) / max(h, w)
    hw = (max(1, round(h * scale)), max(1, round(w * scale)))
    if hw == (h, w):
        return rgb
    return F.interpolate(rgb[None], size=hw, mode="bilinear", antialias=True, align_corners=False)[0].clamp(0, 1)


def render(method: Method | None, rgb: torch.Tensor) -> torch.Tensor:
    """``[3,H,W]`` sRGB -> ``[3,H,W]`` sRGB: the photo's own L with ``method``'s ab (its true ab when None)."""
    L, ab = rgb_to_network(rgb[None].float())
    if method is not None:
        with torch.no_grad():
            ab = method.colorize(L.to(method.device)).float().cpu()
        if ab.shape != (1, 2, *L.shape[-2:]):
            raise UserError(f"method {method.name!r}: colorize returned {tuple(ab.shape)} for L of {tuple(L.shape)}; "
                            "it must return [B,2,H,W] at the input's size")
    return network_to_rgb(L, ab)[0]


def _write_png(rgb: torch.Tensor, path: Path) -> None:
    arr = (rgb.clamp(0, 1).permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", compress_level=1)  # lossless either way; level 1 encodes ~5x faster
    _atomic.write_bytes(path, buf.getvalue())


def _unwritable(out: Path, exc: OSError) -> UserError:
    return UserError(f"--out {out}: cannot write the study there ({exc.strerror or exc}); choose a new folder on a "
                     "writable disk with free space")


def prepare_out(out: str | Path, make: bool = True) -> Path:
    """Check the study folder ``out`` before any work: it must not hold a study already, must not be (or lie under) a
    file, and its disk must take a file; with ``make``, create it and its ``images/``. Anything else is a one-line
    :class:`UserError`. ``make=False`` probes the nearest existing folder instead (nothing is left behind)."""
    out = Path(out)
    if (out / MANIFEST).exists():
        raise UserError(f"{out / MANIFEST} exists already; choose another --out (a new study gets new IDs, which would "
                        "orphan the answers collected for this one)")
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == out else f"lies under the file {existing}"
        raise UserError(f"--out {out} {where}, not a folder; give the name of a new folder for the study")
    try:
        if make:
            (out / IMAGES).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out / IMAGES if make else existing):
            pass
    except OSError as exc:
        raise _unwritable(out, exc) from None
    return out


def create_study(out: str | Path, methods: Mapping[str, Method], photos: Sequence[tuple[str, torch.Tensor]], *,
                 n_images: int | None = None, seed: int = 0, size: int | str = 256,
                 per_participant: int | None = None, sources: Mapping[str, Any] | None = None) -> Manifest:
    """Write a study into ``out`` (a new folder) and return its manifest.

    ``methods``: label -> method (labels appear only in the manifest and the report); ``photos``: ``[(name, rgb
    [3,H,W] in [0,1])]``, of which ``n_images`` (all when None) are drawn with ``seed``; ``size``: long side in px or
    ``"original"``; ``per_participant``: trials per participant (default ``min(50, n_images)``).
    """
    if not methods:
        raise UserError("a study needs at least one method to compare with the ground truth")
    for label in methods:
        if label == GROUND_TRUTH or not label or any(c in label for c in "/\\\n"):
            raise UserError(f"bad method label {label!r}: it must be non-empty, not {GROUND_TRUTH!r}, without slashes")
    if size != "original" and (not str(size).isdigit() or int(size) < 8):
        raise UserError(f"--size must be a number of pixels (>= 8) or 'original', got {size!r}")
    n_all = len(photos)
    n_images = n_all if n_images is None else n_images
    if not 1 <= n_images <= n_all:
        raise UserError(f"--n-images {n_images}: there are {n_all} test photos to choose from; use 1..{n_all}")
    if per_participant is None:
        per_participant = min(DEFAULT_PER_PARTICIPANT, n_images)
    if not 1 <= per_participant <= n_images:
        raise UserError(f"--per-participant {per_participant} must lie in 1..{n_images} (the number of photos), since "
                        "nobody sees the same photo twice; add photos with --n-images or lower --per-participant")
    chosen = sorted(random.Random(seed).sample(range(n_all), n_images))
    out = prepare_out(out)
    for m in methods.values():
        m.eval()
    entries, written = [], []
    try:
        for index in chosen:
            name, rgb = photos[index]
            rgb = display_resize(rgb.float(), size)
            items = {}
            for cond in (GROUND_TRUTH, *methods):
                iid = secrets.token_hex(8)
                written.append(out / IMAGES / f"{iid}.png")
                _write_png(render(methods.get(cond), rgb), written[-1])
                items[cond] = iid
            entries.append({"name": name, "items": items, "pairs": {m: secrets.token_hex(8) for m in methods}})
        manifest = Manifest(root=out, study_id=secrets.token_hex(8), seed=seed, per_participant=per_participant,
                            size=size if size == "original" else int(size), conditions=[GROUND_TRUTH, *methods],
                            photos=entries, sources=dict(sources or {}))
        manifest.write()
    except OSError as exc:  # a full disk, a disk gone read-only: no half study is left behind
        for path in written:
            path.unlink(missing_ok=True)
        raise _unwritable(out, exc) from None
    return load_manifest(out)  # checks that every image it names is on disk


# ---------------------------------------------------------------------------------------- sources of methods
def methods_from_checkpoints(paths: Sequence[str | Path], labels: Sequence[str] | None = None
                             ) -> tuple[dict[str, Method], dict[str, Any]]:
    """Load each checkpoint (a run folder, a checkpoint folder or a zoo name ``METHOD:ENTRY``) with
    ``colorbench.checkpoint.load_method``; labels
    are ``labels`` or the method names, made unique with the checkpoint's file stem when two share a name. Returns
    (label -> method, label -> provenance)."""
    from colorbench.pretrained import is_zoo_name

    missing = [str(p) for p in paths if not Path(p).exists() and not is_zoo_name(p)]
    if missing:
        raise UserError(f"checkpoint not found: {', '.join(missing)}; train with `colorbench train` or `make bench` "
                        "first")
    try:
        from colorbench.checkpoint import load_method
    except ImportError as exc:
        raise UserError(f"loading checkpoints needs colorbench.checkpoint, which failed to import ({exc})") from None
    methods: dict[str, Method] = {}
    sources: dict[str, Any] = {}
    for i, p in enumerate(paths):
        method = load_method(str(p), map_location="cpu")
        run = Path(p).parent.parent.name if Path(p).parent.name == "checkpoints" else Path(p).name
        label = labels[i] if labels else (method.name or run)
        if label in methods:
            label = f"{label}-{run}"
        methods[label], sources[label] = method, {"checkpoint": str(p)}
    return methods, sources


def checkpoints_from_results(folder: str | Path) -> tuple[list[tuple[str, str, str, str | None]], str]:
    """``[(label, method, variant, checkpoint)]`` and the dataset name from a bench folder's ``metrics.csv``
    (``results/<profile>/<dataset>``): one row per method and variant (the first seed listed). A finished row without a
    checkpoint (an untrained baseline such as ``gray``) has checkpoint None: it is rebuilt from its config."""
    folder = Path(folder)
    table = folder / "metrics.csv"
    if not table.is_file():
        raise UserError(f"{table} not found: --from-results takes a bench folder such as results/quick/openphotos "
                        "(run `make bench` first)")
    with table.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "checkpoint" not in rows[0] or "method" not in rows[0]:
        raise UserError(f"{table} has no 'method' and 'checkpoint' columns; re-run `colorbench bench` to record them")
    picked: dict[str, tuple[str, str, str, str | None]] = {}
    resolved = folder.resolve()
    # the bench writes a checkpoint relative to the results folder's parent (or absolute): resolve it from there
    bases = [resolved.parents[2]] if len(resolved.parents) > 2 else []

    def where(path: str) -> str:
        if not path or Path(path).is_absolute():
            return path
        return next((str(b / path) for b in (*bases, Path.cwd()) if (b / path).exists()), path)

    for row in rows:
        row["checkpoint"] = where(row["checkpoint"])
        method, variant = row["method"], row.get("variant") or "default"
        label = method if variant == "default" else f"{method}-{variant}"
        if row.get("status", "ok") == "ok" and label not in picked:
            picked[label] = (label, method, variant, row["checkpoint"] or None)
    if not picked:
        raise UserError(f"{table} lists no finished run")
    missing = [f"{label}: {p}" for label, _, _, p in picked.values() if p and not Path(p).exists()]
    if missing:
        raise UserError(f"{table} names checkpoints that are not on disk ({'; '.join(missing)}); "
                        "re-run `make bench` (checkpoints live under runs/, which a fresh clone lacks)")
    dataset = rows[0].get("dataset") or folder.name
    return list(picked.values()), dataset


def methods_from_results(folder: str | Path) -> tuple[dict[str, Method], dict[str, Any], str]:
    """Load every method of a bench folder (see :func:`checkpoints_from_results`); returns (label -> method,
    label -> provenance, dataset)."""
    from colorbench.registry import create_method, get_method

    picked, dataset = checkpoints_from_results(folder)
    with_ckpt = [(label, p) for label, _, _, p in picked if p]
    methods, sources = methods_from_checkpoints([p for _, p in with_ckpt], labels=[label for label, _ in with_ckpt])
    for label, name, variant, p in picked:
        if p:
            continue
        if get_method(name).trainable:
            raise UserError(f"{folder}/metrics.csv: {label} finished without a checkpoint; re-run `make bench`")
        methods[label] = create_method(name, variant=variant)
        sources[label] = {"checkpoint": None, "built_from": f"create_method({name!r}, variant={variant!r})"}
    order = [label for label, *_ in picked]
    return {k: methods[k] for k in order}, {k: sources[k] for k in order}, dataset


def test_photos(dataset: str, size: int | str = 256, seed: int = 0) -> list[tuple[str, torch.Tensor]]:
    """Square images people can judge: for ``sample``, square crops (at least 128 px, native resolution) of the
    embedded photos' held-out rows (:func:`colorbench.data.held_out_squares`); else the test split's square crops
    at ``size`` px (256 for ``original``)."""
    from colorbench import data

    if dataset == "sample":
        return data.held_out_squares(min_side=MIN_NATIVE)
    ds = data.build_dataset(dataset, split="test", size=256 if size == "original" else int(size), seed=seed)
    return [(f"{dataset}-test-{i}", ds[i]["rgb"]) for i in range(len(ds))]

"""A study folder: ``manifest.json`` + ``images/<id>.png`` (+ ``answers.sqlite`` once served).

The manifest is the organiser's key: it maps opaque item IDs to photos and conditions (method names, or
``ground_truth``). Only IDs ever reach a participant: image files are named by ID, IDs are random hex.

Layout (``format`` 1)::

    {"format": 1, "study_id": "<hex>", "seed": 0, "per_participant": 50, "size": 256,
     "conditions": ["ground_truth", "pix2pix", ...],          # ground truth first
     "sources": {"pix2pix": {"checkpoint": "...", ...}},      # provenance of each method
     "photos": [{"name": "astronaut", "items": {"ground_truth": "<id>", "pix2pix": "<id>"},
                 "pairs": {"pix2pix": "<id>"}}, ...]}

``items`` (image ID -> photo index, condition) and ``pairs`` (2AFC trial ID -> photo, condition) are derived.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colorbench.errors import UserError

GROUND_TRUTH = "ground_truth"
MANIFEST = "manifest.json"
DATABASE = "answers.sqlite"
IMAGES = "images"
ID_RE = re.compile(r"^[0-9a-f]{16}$")
FORMAT = 1


@dataclass
class Manifest:
    """A validated study manifest; ``root`` is the study folder."""

    root: Path
    study_id: str
    seed: int
    per_participant: int
    size: Any
    conditions: list[str]
    photos: list[dict[str, Any]]
    sources: dict[str, Any] = field(default_factory=dict)

    @property
    def methods(self) -> list[str]:
        """The colourised conditions (every condition but ground truth), in manifest order."""
        return [c for c in self.conditions if c != GROUND_TRUTH]

    @property
    def items(self) -> dict[str, tuple[int, str]]:
        """Image ID -> (photo index, condition)."""
        return {iid: (i, cond) for i, p in enumerate(self.photos) for cond, iid in p["items"].items()}

    @property
    def pairs(self) -> dict[str, tuple[int, str]]:
        """2AFC trial ID -> (photo index, colourised condition)."""
        return {pid: (i, cond) for i, p in enumerate(self.photos) for cond, pid in p["pairs"].items()}

    def image_path(self, item_id: str) -> Path:
        """The PNG of image ``item_id`` (an ID from the manifest; anything else raises ``KeyError``)."""
        if not ID_RE.match(item_id) or item_id not in self.items:
            raise KeyError(item_id)
        return self.root / IMAGES / f"{item_id}.png"

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "study_id": self.study_id, "seed": self.seed,
                "per_participant": self.per_participant, "size": self.size, "conditions": self.conditions,
                "sources": self.sources, "photos": self.photos}

    def write(self) -> Path:
        """Write ``manifest.json`` atomically (:mod:`colorbench._atomic`: temp file, fsync, rename)."""
        from colorbench import _atomic

        return _atomic.write_text(self.root / MANIFEST, json.dumps(self.to_json(), indent=1) + "\n")


def load_manifest(root: str | Path, check_files: bool = True) -> Manifest:
    """Read and validate ``root/manifest.json``; with ``check_files``, every image it names must exist.

    Raises :class:`UserError` naming the folder, the bad entry and the fix.
    """
    root = Path(root)
    path = root / MANIFEST
    if not path.is_file():
        raise UserError(f"{root} is not a study folder: {path} is missing; make one with "
                        f"`colorbench study create --out {root} ...`")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} is not valid JSON ({exc}); re-create the study with "
                        "`colorbench study create`") from None
    if data.get("format") != FORMAT:
        raise UserError(f"{path}: unsupported manifest format {data.get('format')!r} (expected {FORMAT})")
    try:
        m = Manifest(root=root, study_id=str(data["study_id"]), seed=int(data["seed"]),
                     per_participant=int(data["per_participant"]), size=data["size"],
                     conditions=list(data["conditions"]), photos=list(data["photos"]),
                     sources=dict(data.get("sources", {})))
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path}: missing or malformed field {exc}; re-create the study with "
                        "`colorbench study create`") from None
    _validate(m, path, check_files)
    return m


def _validate(m: Manifest, path: Path, check_files: bool) -> None:
    if not m.conditions or m.conditions[0] != GROUND_TRUTH or len(set(m.conditions)) != len(m.conditions):
        raise UserError(f"{path}: 'conditions' must start with {GROUND_TRUTH!r} and name each method once; "
                        f"got {m.conditions}")
    if not m.methods:
        raise UserError(f"{path}: the study has no colourised condition (only {GROUND_TRUTH!r})")
    if not 1 <= m.per_participant <= len(m.photos):
        raise UserError(f"{path}: per_participant={m.per_participant} must lie in 1..{len(m.photos)} "
                        "(the number of photos), "
                        "since nobody sees one photo twice")
    seen: set[str] = set()
    for i, photo in enumerate(m.photos):
        if set(photo.get("items", {})) != set(m.conditions) or set(photo.get("pairs", {})) != set(m.methods):
            raise UserError(f"{path}: photo {i} ({photo.get('name')!r}) must have one item per condition and one "
                            "pair per method")
        for iid in [*photo["items"].values(), *photo["pairs"].values()]:
            if not isinstance(iid, str) or not ID_RE.match(iid) or iid in seen:
                raise UserError(f"{path}: photo {i} has a bad or repeated ID {iid!r} (16 lowercase hex digits, unique)")
            seen.add(iid)
        if check_files:
            for cond, iid in photo["items"].items():
                img = m.root / IMAGES / f"{iid}.png"
                if not img.is_file():
                    raise UserError(f"{path} names image {img} (photo {photo.get('name')!r}, {cond}) but the file "
                                    "is missing; "
                                    "restore it or re-create the study with `colorbench study create`")

"""The grid: profile × filters → cells, each keyed by a hash of its settings and its method's code.

A cell is one (method, variant, dataset, seed) to train, evaluate and time (``kind="train"``), or one
(method, variant) timed untrained (``kind="runtime"``, e.g. C2F's inference-time shrink/depth settings). Its key
hashes everything that changes its result: the resolved method config, data/train/eval/runtime settings, the seed,
the device kind, the method's source file and the colorbench version. A finished cell's ``row.json`` under
``<cache>/<key>/`` is therefore reused exactly when nothing that made it has changed.
"""
from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import colorbench
from colorbench.bench.profiles import Profile
from colorbench.errors import UserError
from colorbench.registry import build_config, get_method, list_methods

CELL_FORMAT = 1  # bump when the content of row.json changes meaning


@dataclass(frozen=True)
class Cell:
    """One unit of work. ``settings`` holds every input to the cell (JSON-serialisable); ``key`` is its hash."""

    kind: str  # "train" | "runtime"
    method: str
    variant: str
    dataset: str | None
    seed: int
    settings: dict[str, Any] = field(hash=False, compare=False)
    key: str = ""

    @property
    def label(self) -> str:
        v = "" if self.variant == "default" else f"[{self.variant}]"
        where = f" on {self.dataset} seed {self.seed}" if self.kind == "train" else " (runtime only)"
        return f"{self.method}{v}{where}"


def code_hash(method_name: str) -> str:
    """sha256 of the method's source file plus the colorbench version (and the cell format)."""
    cls = get_method(method_name)
    h = hashlib.sha256(f"colorbench {colorbench.__version__} cell {CELL_FORMAT}\n".encode())
    try:
        h.update(Path(inspect.getsourcefile(cls) or "").read_bytes())
    except (OSError, TypeError):
        h.update(cls.__qualname__.encode())
    return h.hexdigest()[:16]


def cell_key(kind: str, method: str, variant: str, dataset: str | None, seed: int, settings: dict[str, Any]) -> str:
    payload = {"kind": kind, "method": method, "variant": variant, "dataset": dataset, "seed": seed,
               "settings": settings, "code": code_hash(method)}
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _variants_for(profile: Profile, name: str, declared: list[str]) -> list[str]:
    chosen = profile.variants.get(name, ["default"])
    if chosen == "*" or chosen == ["*"]:
        return declared
    if isinstance(chosen, str):
        chosen = [chosen]
    kept = []
    for v in chosen:
        if v in declared:
            kept.append(v)
        else:
            warnings.warn(f"bench: profile {profile.name} names variant {v!r} of {name}, which does not declare it "
                          f"(declared: {', '.join(declared)}); skipped", stacklevel=2)
    return kept


def _method_names(profile: Profile, only: list[str] | None) -> list[str]:
    registered = list_methods()
    if only:
        names = list(only)
    else:
        names = []
        for entry in [*profile.baselines, *profile.methods]:
            names.extend(sorted(m for m in registered if m not in profile.exclude) if entry == "*" else [entry])
    out = []
    for n in dict.fromkeys(names):
        if n in registered:
            out.append(n)
        elif only:
            get_method(n)  # a name the user typed: raise with the closest matches
        else:
            warnings.warn(f"bench: profile {profile.name} names method {n!r}, which is not registered; skipped",
                          stacklevel=2)
    return out


def resolved_config(method: str, variant: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The method's full config for ``variant`` + ``overrides`` as a plain dict (raises on an unknown key)."""
    cfg = build_config(get_method(method), overrides, variant)
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


def _config_overrides(profile: Profile, method: str, global_cfg: dict, per_method_cfg: dict) -> dict[str, Any]:
    cls = get_method(method)
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    merged: dict[str, Any] = {}
    if profile["train"]["use_test_overrides"]:
        merged.update(cls.test_overrides)
    merged.update(profile.per_method.get(method, {}).get("config", {}))
    merged.update({k: v for k, v in global_cfg.items() if k in fields})
    merged.update(per_method_cfg.get(method, {}))
    return merged


def expand(profile: Profile, *, methods: list[str] | None = None, datasets: list[str] | None = None,
           seeds: int | None = None, global_cfg: dict[str, Any] | None = None,
           per_method_cfg: dict[str, dict[str, Any]] | None = None, device: str = "cpu") -> list[Cell]:
    """All cells of ``profile`` narrowed by the filters, in a stable order (train cells, then runtime-only)."""
    global_cfg, per_method_cfg = global_cfg or {}, per_method_cfg or {}
    names = _method_names(profile, methods)
    for key in global_cfg:
        if not any(key in {f.name for f in dataclasses.fields(get_method(n).Config)} for n in names):
            raise UserError(f"--set {key}: no selected method has a config field {key!r}")
    device_kind = device.split(":")[0]
    cells: list[Cell] = []
    for dataset in datasets or profile.datasets:
        for name in names:
            cls = get_method(name)
            pm = profile.per_method.get(name, {})
            if "datasets" in pm and dataset not in pm["datasets"]:
                continue
            overrides = _config_overrides(profile, name, global_cfg, per_method_cfg)
            size = int(pm.get("size", profile["data"]["size"]))
            if "image_size" in {f.name for f in dataclasses.fields(cls.Config)} and "image_size" not in overrides:
                overrides["image_size"] = size  # depth follows the training crop; recorded in the row's config
            for variant in _variants_for(profile, name, sorted(cls.variants)):
                try:
                    config = resolved_config(name, variant, overrides)
                except UserError:
                    raise
                except (ValueError, TypeError) as exc:
                    raise UserError(f"bench: {name}[{variant}]: bad config override: {exc}") from None
                for seed in range(seeds or profile.seeds):
                    settings = {
                        "config": config, "overrides": overrides,
                        "data": {**{k: v for k, v in profile["data"].items() if k != "data_dirs"},
                                 "size": size,
                                 "data_dir": profile["data"]["data_dirs"].get(dataset, profile["data"]["data_dir"])},
                        "train": {**profile["train"], "steps": pm.get("steps", profile["train"]["steps"]),
                                  "epochs": pm.get("epochs", profile["train"]["epochs"]),
                                  "batch_size": pm.get("batch_size", profile["train"]["batch_size"])},
                        "eval": profile["eval"],
                        "runtime": {k: v for k, v in profile["runtime"].items() if k != "extra"},
                        "device": device_kind,
                    }
                    key = cell_key("train", name, variant, dataset, seed, settings)
                    cells.append(Cell("train", name, variant, dataset, seed, settings, key))
    extras = []
    for extra in profile["runtime"]["extra"]:
        if extra.get("method") == "*":  # every registered method (baselines included), default variant
            extras += [{**extra, "method": n} for n in list_methods() if n not in profile.exclude]
        else:
            extras.append(extra)
    for extra in extras:
        name = extra.get("method", "")
        if name not in list_methods() or (methods and name not in methods):
            if name not in list_methods():
                warnings.warn(f"bench: runtime.extra names method {name!r}, which is not registered; skipped",
                              stacklevel=2)
            continue
        cls = get_method(name)
        wanted = extra.get("variants", ["default"])
        wanted = sorted(cls.variants) if wanted in ("*", ["*"]) else wanted
        overrides = {**extra.get("config", {}), **per_method_cfg.get(name, {})}
        for variant in wanted:
            if variant not in cls.variants:
                warnings.warn(f"bench: runtime.extra: {name} does not declare variant {variant!r}; skipped",
                              stacklevel=2)
                continue
            settings = {"config": resolved_config(name, variant, overrides), "overrides": overrides,
                        "runtime": {**{k: v for k, v in profile["runtime"].items() if k != "extra"},
                                    **{k: v for k, v in extra.items() if k in ("sizes", "repeats", "warmup")}},
                        "device": device_kind}
            key = cell_key("runtime", name, variant, None, 0, settings)
            cells.append(Cell("runtime", name, variant, None, 0, settings, key))
    unique: dict[str, Cell] = {}
    for c in cells:
        unique.setdefault(c.key, c)
    return list(unique.values())


def shard(cells: list[Cell], spec: str | None) -> list[Cell]:
    """Cells of shard ``i/N`` (1-based: ``1/2`` and ``2/2``): every N-th cell by position, so shares are even."""
    if not spec:
        return cells
    try:
        i, n = (int(s) for s in spec.split("/"))
    except ValueError:
        raise UserError(f"--shard {spec!r}: expected i/N with 1 <= i <= N, e.g. --shard 1/4") from None
    if not 1 <= i <= n:
        raise UserError(f"--shard {spec!r}: i must be between 1 and N (got i={i}, N={n})")
    return [c for pos, c in enumerate(cells) if pos % n == i - 1]

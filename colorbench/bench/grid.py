"""The grid: profile × filters → cells, each keyed by a hash of everything its numbers depend on.

A cell is one (method, variant, dataset, seed) to train and evaluate (``kind="train"``), or one (method, variant)
timed with ``colorize`` (``kind="runtime"``: once per network, not per seed; untrained, since time does not depend
on the weights), or one released model (a zoo name of the profile's ``pretrained``) scored on a dataset without
training (``kind="pretrained"``, keyed on the weights file's sha256; ``None`` while the file is not on disk). Its
key hashes the resolved method config, the data, train, eval and runtime settings, the dataset's evaluation
protocol, the seed, the device kind, and :mod:`colorbench.fingerprint`'s code hash (every core source file plus the
method's own), environment (library versions, thread count) and data fingerprint (files of an on-disk dataset).
A finished cell's ``row.json`` under ``<cache>/<key>/`` is therefore reused exactly when nothing that made it has
changed.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from dataclasses import dataclass, field
from typing import Any

from colorbench import fingerprint
from colorbench.bench.profiles import Profile, method_settings
from colorbench.errors import UnknownNameError, UserError, unknown_name
from colorbench.numeric import cpu_isa
from colorbench.registry import get_method, list_methods
from colorbench.train.settings import TrainSettings
from colorbench.train.spec import RunSpec, resolve

CELL_FORMAT = 2  # bump when the content of row.json changes meaning
RUNTIME_KEYS = ("sizes", "repeats", "warmup", "repeats_large", "warmup_large", "large_mp")
"""Runtime settings a ``[[runtime.extra]]`` entry may set for its own cells."""


@dataclass(frozen=True)
class Cell:
    """One unit of work. ``settings`` holds every input to the cell (JSON-serialisable); ``key`` is its hash."""

    kind: str  # "train" | "runtime" | "pretrained"
    method: str
    variant: str
    dataset: str | None
    seed: int
    settings: dict[str, Any] = field(hash=False, compare=False)
    key: str = ""

    @property
    def label(self) -> str:
        v = "" if self.variant == "default" else f"[{self.variant}]"
        from colorbench.data.registry import dataset_label

        on = dataset_label(self.dataset) if self.dataset is not None else ""
        where = {"train": f" on {on} seed {self.seed}", "runtime": " (runtime)",
                 "pretrained": f" on {on} (released, untrained)"}.get(self.kind, "")
        return f"{self.method}{v}{where}"

    def spec(self) -> RunSpec:
        """The cell's resolved run: the one :func:`expand` made, or, in another process (a spawned or scheduled
        cell), the same rebuilt from ``settings["run"]`` (its class looked up, its stored config checked; nothing
        resolved again)."""
        spec = _SPECS.get(self.key)
        if spec is None:
            spec = _SPECS[self.key] = RunSpec.from_dict(self.settings["run"], trainer_settings(self.settings))
        return spec


_SPECS: dict[str, RunSpec] = {}
"""Cell key -> the spec :func:`expand` resolved, so a cell run in this process takes it as made."""


def trainer_settings(settings: dict[str, Any]) -> TrainSettings:
    """A cell's :class:`TrainSettings` from its settings: the length (``steps=0`` for a method with nothing to
    train), crop, batch and seed of its run, checkpoints and loaders from the profile's ``[train]``."""
    run, tr = settings["run"], settings.get("train", {})
    return TrainSettings(steps=run["steps"], epochs=run["epochs"], batch_size=run["batch_size"], size=run["size"],
                         seed=run["seed"], ckpt_every=tr.get("ckpt_every"), num_workers=int(tr.get("num_workers", 0)))


def code_hash(method_name: str) -> str:
    """The code hash of a registered method (see :func:`colorbench.fingerprint.code_hash`)."""
    return fingerprint.code_hash(get_method(method_name))


def cell_key(kind: str, method: str, variant: str, dataset: str | None, seed: int, settings: dict[str, Any]) -> str:
    payload = {"kind": kind, "method": method, "variant": variant, "dataset": dataset, "seed": seed,
               "settings": settings, "code": code_hash(method), "format": CELL_FORMAT}
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def with_world(cell: Cell, world: int) -> Cell:
    """``cell`` trained by ``world`` DDP processes: the world size joins its train settings (and so its key) when
    above 1, since each rank takes its own batches (global batch = world × batch_size)."""
    if world <= 1 or cell.kind != "train":
        return cell
    settings = {**cell.settings, "train": {**cell.settings["train"], "world": int(world)}}
    key = cell_key(cell.kind, cell.method, cell.variant, cell.dataset, cell.seed, settings)
    if cell.key in _SPECS:
        _SPECS[key] = _SPECS[cell.key]
    return dataclasses.replace(cell, settings=settings, key=key)


def _variants_for(profile: Profile, name: str, declared: list[str]) -> list[str]:
    chosen = profile.variants.get(name, ["default"])
    if chosen == "*" or chosen == ["*"]:
        return declared
    if isinstance(chosen, str):
        chosen = [chosen]
    for v in chosen:
        if v not in declared:  # a typo in a profile must not quietly shrink the grid
            raise UnknownNameError(f"profile {profile.name}: {unknown_name(f'variant of {name}', v, declared)}; fix "
                                   f"the profile's [variants] (`colorbench list methods` shows each method's)")
    return list(chosen)


def baselines_of(profile: Profile) -> list[str]:
    """The profile's baselines: as listed, or every registered method that declares ``is_baseline``."""
    if profile.baselines is not None:
        return list(profile.baselines)
    return [m for m in list_methods() if get_method(m).is_baseline and m not in profile.exclude]


def _method_names(profile: Profile, only: list[str] | None, baselines: bool = True) -> list[str]:
    registered = list_methods()
    kept = baselines_of(profile) if baselines else []
    if only:
        for n in only:
            if n not in registered:
                get_method(n)  # a name the user typed: raise with the closest matches
        names = [*kept, *only]
    else:
        names = list(kept)
        for entry in profile.methods:
            names.extend(sorted(m for m in registered if m not in profile.exclude
                                and (baselines or not get_method(m).is_baseline)) if entry == "*" else [entry])
    for n in dict.fromkeys(names):
        if n not in registered:  # a typo in a profile must not quietly shrink the grid
            raise UnknownNameError(f"profile {profile.name}: {unknown_name('method', n, registered)}; fix the "
                                   "profile's methods or baselines (`colorbench list methods`)")
    return list(dict.fromkeys(names))


def _config_overrides(profile: Profile, method: str, pm: dict[str, Any], global_cfg: dict,
                      per_method_cfg: dict) -> dict[str, Any]:
    cls = get_method(method)
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    merged: dict[str, Any] = {}
    if profile["train"]["use_test_overrides"]:
        merged.update(cls.test_overrides)
    merged.update(pm.get("config", {}))
    merged.update({k: v for k, v in global_cfg.items() if k in fields})
    merged.update(per_method_cfg.get(method, {}))
    return merged


def expand(profile: Profile, *, methods: list[str] | None = None, datasets: list[str] | None = None,
           seeds: int | None = None, global_cfg: dict[str, Any] | None = None,
           per_method_cfg: dict[str, dict[str, Any]] | None = None, device: str = "cpu", threads: int | None = None,
           baselines: bool = True, numeric: str = "native", data: list[str] | None = None) -> list[Cell]:
    """All cells of ``profile`` narrowed by the filters, in a stable order: train cells (every seed of every
    trained method; one of a method with nothing to train), then one runtime cell per (method, variant), then
    the profile's ``runtime.extra`` cells. ``threads``: the torch thread count the cells will run with (part of
    every key); ``baselines=False`` drops the profile's baselines; ``numeric``: the numeric mode the train cells run
    in (:mod:`colorbench.numeric`; runtime cells always time the native kernels). The mode and this CPU's ISA are
    in every key and row. ``data``: ``--data KEY=VALUE`` items for every dataset (checked per dataset, in every
    key through the run's ``data_options``)."""
    from colorbench.data import data_fingerprint, protocol_for
    from colorbench.data.options import parse_data

    global_cfg, per_method_cfg = global_cfg or {}, per_method_cfg or {}
    names = _method_names(profile, methods, baselines)
    for key in global_cfg:
        if not any(key in {f.name for f in dataclasses.fields(get_method(n).Config)} for n in names):
            raise UserError(f"--set {key}: no selected method has a config field {key!r}")
    env = fingerprint.environment(threads)
    isa = cpu_isa()
    # figures (train and pretrained cells) in the run's mode; timings (runtime cells) of the native kernels
    modes = {"train": {"mode": numeric, "cpu_isa": isa}, "runtime": {"mode": "native", "cpu_isa": isa}}
    device_kind = device.split(":")[0]
    runtime = {k: v for k, v in profile["runtime"].items() if k != "extra"}
    cells: list[Cell] = []
    timed: dict[tuple[str, str], None] = {}
    for dataset in datasets or profile.datasets:
        protocol = protocol_for(dataset).as_dict()
        data_dir = profile["data"]["data_dirs"].get(dataset, profile["data"]["data_dir"])
        data_fp = data_fingerprint(dataset, data_dir)
        for name in names:
            cls = get_method(name)
            unknown = sorted(set(profile.per_method.get(name, {}).get("variants", {})) - set(cls.variants))
            if unknown:
                raise UserError(f"profile {profile.name}: per_method.{name}.variants.{unknown[0]}: {name} declares no "
                                f"variant {unknown[0]!r} (declared: {', '.join(sorted(cls.variants))})")
            opts = {**dict(profile["data"].get("options") or {}), **parse_data(data or [], dataset),
                    **({"data_dir": data_dir} if data_dir else {})}
            for variant in _variants_for(profile, name, sorted(cls.variants)):
                pm = method_settings(profile, name, variant)  # per_method.NAME, then .variants.VARIANT over it
                if "datasets" in pm and dataset not in pm["datasets"]:
                    continue
                overrides = _config_overrides(profile, name, pm, global_cfg, per_method_cfg)
                size = int(pm.get("size", profile["data"]["size"]))
                train = {**profile["train"], "steps": pm.get("steps", profile["train"]["steps"]),
                         "epochs": pm.get("epochs", profile["train"]["epochs"]),
                         "batch_size": pm.get("batch_size", profile["train"]["batch_size"])}
                length = ({"epochs": int(train["epochs"]), "steps": None} if train.get("epochs") else
                          {"steps": int(train["steps"]), "epochs": None}) if cls.trainable else {"steps": 0}
                # resolved once per (method, variant, dataset): depth follows the crop, the batch is the one used
                spec = _resolve(cls, variant, overrides, dataset, TrainSettings(**length, size=size,
                                batch_size=int(train["batch_size"])), opts)
                train["flops"] = _budget(profile, pm) if cls.trainable else None
                if train["flops"] is not None:  # equal training compute: the steps that spend the budget
                    spec, train = _spend(spec, train)
                timed.setdefault((name, variant))
                for seed in range(seeds or profile.seeds) if cls.trainable else range(1):
                    seeded = spec.replace(seed=seed)
                    settings = {
                        "run": seeded.as_dict(),
                        "data": {**{k: v for k, v in profile["data"].items() if k != "data_dirs"},
                                 "size": size, "data_dir": data_dir, "fingerprint": data_fp},
                        "protocol": protocol, "train": train, "eval": _eval_settings(profile), "device": device_kind,
                        "environment": env, "numeric": modes["train"],
                    }
                    cells.append(_cell("train", seeded, dataset, settings))
        for zoo_name in profile.pretrained:
            given = parse_data(data or [], dataset)  # --data items, as a train cell's run keys them
            released = {**{k: v for k, v in profile["data"].items() if k != "data_dirs"}, "data_dir": data_dir,
                        "fingerprint": data_fp,
                        **({"options": {**dict(profile["data"].get("options") or {}), **given}} if given else {})}
            cell = _pretrained_cell(zoo_name, dataset, {"data": released, "protocol": protocol,
                                                        "eval": _eval_settings(profile), "device": device_kind,
                                                        "environment": env, "numeric": modes["train"]})
            if not methods or cell.method in methods:
                cells.append(cell)
    if runtime.get("sizes"):
        for name, variant in timed:  # the paper configuration of each network, once (time does not need weights)
            tiny = get_method(name).test_overrides if profile["train"]["use_test_overrides"] else {}
            overrides = {**tiny, **per_method_cfg.get(name, {})}
            cells.append(_runtime_cell(name, variant, overrides, runtime, device_kind, env, modes["runtime"]))
    for extra in _extras(profile, names if methods else None):
        name = extra["method"]
        cls = get_method(name)
        wanted = extra.get("variants") or [v for v in (cls.runtime_reference, *cls.runtime_variants) if v]
        wanted = sorted(cls.variants) if wanted in ("*", ["*"]) else wanted
        overrides = {**extra.get("config", {}), **per_method_cfg.get(name, {})}
        settings = {**runtime, **{k: v for k, v in extra.items() if k in RUNTIME_KEYS}}
        for variant in wanted:
            if variant not in cls.variants:
                raise UnknownNameError(f"profile {profile.name}: runtime.extra: "
                                       f"{unknown_name(f'variant of {name}', variant, sorted(cls.variants))}")
            cells.append(_runtime_cell(name, variant, overrides, settings, device_kind, env, modes["runtime"]))
    unique: dict[str, Cell] = {}
    for c in cells:
        unique.setdefault(c.key, c)
    return list(unique.values())


def _resolve(cls: type, variant: str, overrides: dict[str, Any], dataset: str | None = None,
             settings: TrainSettings | None = None, data_options: dict[str, Any] | None = None) -> RunSpec:
    """:func:`colorbench.train.resolve` for a cell, a bad override named as a bench error. The training-set hook
    runs leniently: while the dataset cannot be read (not downloaded yet) the cell is keyed without its data config
    and fails with the data layer's own message when it runs; once the data is there its key holds what the hook
    computes from it."""
    try:
        return resolve(cls, dataset, settings, variant=variant, overrides=overrides, data_options=data_options,
                       strict_data=False)
    except UserError:
        raise
    except (ValueError, TypeError) as exc:
        raise UserError(f"bench: {cls.name}[{variant}]: bad config override: {exc}") from None


def _budget(profile: Profile, pm: dict[str, Any]) -> float | None:
    """The training FLOPs per run of a method (``pm``: its ``per_method`` settings): its own ``flops``; none when it
    sets its own steps or epochs; else the profile's ``[train] flops`` (None: the profile gives steps)."""
    if pm.get("flops") is not None:
        return float(pm["flops"])
    if "steps" in pm or "epochs" in pm:
        return None
    flops = profile["train"].get("flops")
    return float(flops) if flops is not None else None


def _spend(spec: RunSpec, train: dict[str, Any]) -> tuple[RunSpec, dict[str, Any]]:
    """``spec`` and its ``train`` settings with the steps that spend ``train["flops"]``
    (:meth:`colorbench.train.flops.StepCost.steps_for`: ``max(1, round(flops / step FLOPs))``). A method whose steps
    count no FLOPs (mean_color's running sum), or whose step cannot be measured, keeps the profile's length and no
    budget (the latter with a warning; its cell then fails with the method's own error)."""
    from colorbench.train.flops import step_cost

    try:
        steps = step_cost(spec).steps_for(train["flops"])
    except Exception as exc:  # a method that cannot take a step: its cell says why when it runs
        warnings.warn(f"bench: {spec.name}[{spec.variant}]: its step FLOPs could not be measured "
                      f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); it trains the profile's length",
                      stacklevel=3)
        return spec, {**train, "flops": None}
    if steps is None:
        return spec, {**train, "flops": None}
    return spec.replace(steps=steps, epochs=None), {**train, "steps": steps, "epochs": None}


def _runtime_cell(name: str, variant: str, overrides: dict[str, Any], runtime: dict[str, Any], device_kind: str,
                  env: dict[str, Any], mode: dict[str, str]) -> Cell:
    spec = _resolve(get_method(name), variant, overrides, settings=TrainSettings(steps=0))
    settings = {"run": spec.as_dict(), "runtime": runtime, "device": device_kind, "environment": env,
                "numeric": mode}
    return _cell("runtime", spec, None, settings)


def _pretrained_cell(zoo_name: str, dataset: str, settings: dict[str, Any]) -> Cell:
    """Released model ``zoo_name`` scored on ``dataset`` (the dataset's protocol), keyed on its weights' sha256
    (None while the file is not on disk: the cell then runs as a skipped row naming the fetch command)."""
    from colorbench import pretrained as pt

    entry, path = pt.get_zoo(zoo_name), pt.zoo_path(zoo_name)
    sha = pt.sha256_of(path) if path.is_file() else None
    settings = {**settings, "zoo": zoo_name, "weights_sha256": sha}
    variant = f"zoo:{entry.entry}"
    return Cell("pretrained", entry.method, variant, dataset, 0, settings,
                cell_key("pretrained", entry.method, variant, dataset, 0, settings))


def _cell(kind: str, spec: RunSpec, dataset: str | None, settings: dict[str, Any]) -> Cell:
    key = cell_key(kind, spec.name, spec.variant, dataset, spec.seed, settings)
    _SPECS[key] = spec
    return Cell(kind, spec.name, spec.variant, dataset, spec.seed, settings, key)


def _extras(profile: Profile, only: list[str] | None) -> list[dict[str, Any]]:
    """The profile's ``runtime.extra`` entries with ``method = "*"`` expanded, narrowed to ``only``."""
    out = []
    for extra in profile["runtime"]["extra"]:
        if extra.get("method") == "*":  # every registered method (baselines included), default variant
            out += [{**extra, "method": n, "variants": extra.get("variants", ["default"])}
                    for n in list_methods() if n not in profile.exclude]
        elif extra.get("method", "") not in list_methods():
            raise UnknownNameError(f"profile {profile.name}: runtime.extra: "
                                   f"{unknown_name('method', str(extra.get('method', '')), list_methods())}")
        else:
            out.append(extra)
    return [e for e in out if only is None or e["method"] in only]


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


def _eval_settings(profile: Any) -> dict[str, Any]:
    """A cell's ``[eval]`` settings; an empty ``metrics`` (the default set) is left out, so asking for nothing
    more keeps every cell's key, and the committed results' cache, as before."""
    return {k: v for k, v in dict(profile["eval"]).items() if k != "metrics" or v}

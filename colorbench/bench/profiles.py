"""Bench profiles: TOML files in ``profiles/`` that say which grid to run and how long to train each cell.

A profile file (every key optional except ``datasets``)::

    description = "one line"
    datasets = ["sample"]
    methods = ["*"]                  # "*" = every registered method; or names
    baselines = ["gray", "mean_color"]
    exclude = []                      # names dropped from "*"
    seeds = 1                         # seeds 0 .. seeds-1
    pretrained = ["ddcolor:paper"]    # released models (zoo names), evaluated without training on each dataset:
                                      # kind "pretrained" cells keyed on the weights' sha256; a file not on disk
                                      # makes a skipped row naming `colorbench weights fetch NAME`
    jobs = 1                          # train cells at once, each in its own process on one torch thread (CPU)
    variants = { c2f = ["base", "s1.2_d1"], featrec = "*" }   # names the methods declare; "*" = all of them

    [data]      # size (training crop, px), options (to build_dataset), data_dir, data_dirs = {name = dir}
    [train]     # steps (or epochs), batch_size, ckpt_every, use_test_overrides (the methods' tiny test configs),
                # num_workers; flops = 3e12: every trained cell gets the same training compute instead, its
                # steps = max(1, round(flops / FLOPs of one of its steps)) (colorbench.train.flops); steps then
                # only sizes a method whose steps count no FLOPs (mean_color's running sum)
    [eval]      # batch_size, samples (images in the sample grid), legacy_histograms, curve_points (score the
                # model on the val split at that many points of its training, evenly spaced in FLOPs, the last at
                # the end: curves.csv and frontier.png; 0 = none), curve_images (val images each point scores,
                # default 32, at most the protocol's). Which split, size and
                # images are scored is the dataset's evaluation protocol (`colorbench list datasets`), never a
                # profile's: every row of one dataset is measured the same way.
    [runtime]   # sizes = ["256x256", ...] (width x height), warmup, repeats; at sizes >= large_mp megapixels
                # warmup_large and repeats_large instead
    [[runtime.extra]]  method = "c2f", variants = [...]: timed only (untrained), e.g. inference-time settings
    [per_method.pix2pix]  steps, epochs or flops (its own length or budget: the most specific table wins),
                          batch_size, size, datasets (only these), config = { key = value };
                          all recorded in every row; gpus = N: under a scheduler launcher the cell trains with
                          DDP on N GPUs (N gloo processes on a CPU) in its job (docs/cluster.md)
    [per_method.unet_l1.variants.tarres]  the same keys for one variant of the method, over the method's own
                          (its config merged into the method's config)

``--set section.key=value`` changes a profile value (``train.steps=5``), ``--set per_method.NAME.steps=5`` one
method's budget (every variant of it; ``per_method.NAME.variants.VARIANT.steps=5`` one variant's), ``--set
method.key=value`` one method's config and ``--set key=value`` the config of every selected method that has that
field.
"""
from __future__ import annotations

import copy
import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from colorbench import checks
from colorbench.checks import MIN_SIZE
from colorbench.errors import UserError

PER_METHOD_KEYS = ("steps", "epochs", "flops", "batch_size", "size", "datasets", "gpus")
LENGTH_KEYS = ("steps", "epochs", "flops")
"""How long a cell trains: a number of steps or epochs, or a FLOP budget that steps are derived from."""
PER_METHOD_TABLES = ("config", "variants")  # per_method.NAME.config = {...}; per_method.NAME.variants.VARIANT = {...}
PROTOCOL_KEYS = {"data": {"test_size"}, "eval": {"split", "max_images", "size"}}


# ------------------------------------------------------------------------------------------------ sections
def _value(default: Any, kind: str = "", minimum: int | None = None) -> Any:
    """A section key: its default (lists and tables copied per profile) and its check, ``kind`` one of ``int`` /
    ``int?`` (None allowed) / ``bool`` / ``""`` (not checked here), at least ``minimum``."""
    meta = {"kind": kind, "minimum": minimum}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return field(default=default, metadata=meta)


def _trainer(name: str, default: Any, kind: str) -> Any:
    """A ``[train]`` key that is a :class:`~colorbench.train.settings.TrainSettings` field: its minimum is the
    trainer's (one rule for a profile, a flag and a config TOML); its default is the bench's."""
    from colorbench.train.settings import TrainSettings

    minimum = TrainSettings.__dataclass_fields__[name].metadata["minimum"]
    return _value(default, kind, minimum)


class _Section(Mapping[str, Any]):
    """A profile section: a dataclass whose keys also read (and, for ``--set``, write) as a mapping's, so cell
    settings are built with ``{**section}`` and read as ``settings["train"]["steps"]``."""

    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:  # type: ignore[attr-defined]
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self.__dataclass_fields__:  # type: ignore[attr-defined]
            raise KeyError(key)
        setattr(self, key, value)

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dataclass_fields__)  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.__dataclass_fields__)  # type: ignore[attr-defined]


@dataclass(eq=False)
class DataSection(_Section):
    """``[data]``: the training crop (px), options to ``build_dataset``, where datasets live."""

    size: int = _value(64, "int", MIN_SIZE)
    options: dict[str, Any] = _value({})
    data_dir: str | None = _value(None)
    data_dirs: dict[str, str] = _value({})


@dataclass(eq=False)
class TrainSection(_Section):
    """``[train]``: each cell's budget (``steps`` or ``epochs``, or ``flops``: training FLOPs per run, from which
    each cell's steps are derived), batch, checkpoints, loaders; ``use_test_overrides``: the methods' tiny test
    configs (the smoke profile)."""

    steps: int | None = _trainer("steps", 100, "int?")
    epochs: int | None = _trainer("epochs", None, "int?")
    flops: float | None = _value(None, "number?")
    batch_size: int = _trainer("batch_size", 8, "int")
    use_test_overrides: bool = _value(False, "bool")
    num_workers: int = _trainer("num_workers", 0, "int")
    ckpt_every: int | None = _trainer("ckpt_every", None, "int?")


@dataclass(eq=False)
class EvalSection(_Section):
    """``[eval]``: the evaluator's batch, images in the sample grid, the legacy histogram form, points of the
    quality-vs-compute curve (0: none), the val images each point scores (at most the protocol's) and the metrics
    beyond the default weight-free set (``bench --metrics``; empty adds none and leaves the cells' keys as they
    were)."""

    batch_size: int = _value(8, "int", 1)
    samples: int = _value(4, "int", 0)
    legacy_histograms: bool = _value(False, "bool")
    curve_points: int = _value(0, "int", 0)
    curve_images: int = _value(32, "int", 1)
    metrics: str = _value("", "")  # `--metrics`: names and groups (colorbench.metrics.table.GROUPS); "": the default


@dataclass(eq=False)
class RuntimeSection(_Section):
    """``[runtime]``: the sizes ``colorize`` is timed at (``WIDTHxHEIGHT``), warm-up and repeats (``_large`` ones at
    ``large_mp`` megapixels and more), extra untimed-by-training variants."""

    sizes: list[str] = _value(["256x256"])
    warmup: int = _value(1, "int", 0)
    repeats: int = _value(3, "int", 1)
    warmup_large: int = _value(0, "int", 0)
    repeats_large: int = _value(1, "int", 1)
    large_mp: float = _value(4.0)
    extra: list[dict[str, Any]] = _value([])


SECTION_TYPES: dict[str, type[_Section]] = {"data": DataSection, "train": TrainSection, "eval": EvalSection,
                                             "runtime": RuntimeSection}
SECTIONS = tuple(SECTION_TYPES)


def profile_dirs() -> list[Path]:
    """Where profile names are looked up: ``./profiles`` then the repository's ``profiles/``."""
    repo = Path(__file__).resolve().parents[2] / "profiles"
    return [Path.cwd() / "profiles", repo]


@dataclass
class Profile:
    """A parsed profile; ``sections`` holds the typed ``data``/``train``/``eval``/``runtime`` sections, defaults
    filled in."""

    name: str
    path: Path
    description: str = ""
    datasets: list[str] = field(default_factory=lambda: ["sample"])
    methods: list[str] = field(default_factory=lambda: ["*"])
    baselines: list[str] | None = None  # None: every registered baseline (Method.is_baseline)
    exclude: list[str] = field(default_factory=list)
    seeds: int = 1
    pretrained: list[str] = field(default_factory=list)  # zoo names evaluated without training
    jobs: int = 1  # train cells at once (each in its own process on one torch thread; CPU only)
    variants: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, _Section] = field(default_factory=dict)
    per_method: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __getitem__(self, section: str) -> _Section:
        return self.sections[section]


def available_profiles() -> list[str]:
    names: set[str] = set()
    for d in profile_dirs():
        names.update(p.stem for p in d.glob("*.toml"))
    return sorted(names)


def find_profile(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" and p.is_file():
        return p
    for d in profile_dirs():
        candidate = d / f"{name_or_path}.toml"
        if candidate.is_file():
            return candidate
    raise UserError(
        f"unknown profile {name_or_path!r}: no profiles/{name_or_path}.toml. "
        f"Available: {', '.join(available_profiles()) or '(none)'}; or pass a path to a .toml file"
    )


def load_profile(name_or_path: str) -> Profile:
    """Read and validate a profile by name (``quick``) or path (``my.toml``)."""
    path = find_profile(name_or_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"profile {path}: not valid TOML: {exc}") from None
    return parse_profile(raw, name=path.stem, path=path)


def parse_profile(raw: dict[str, Any], name: str, path: Path | None = None) -> Profile:
    known = {"description", "datasets", "methods", "baselines", "exclude", "seeds", "jobs", "variants", "per_method",
             "pretrained", *SECTIONS}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise UserError(f"profile {name}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
    sections = {}
    for sec in SECTIONS:
        given = dict(raw.get(sec, {}))
        keys = list(SECTION_TYPES[sec].__dataclass_fields__)
        bad = sorted(set(given) - set(keys))
        moved = sorted(set(bad) & PROTOCOL_KEYS.get(sec, set()))
        if moved:
            raise UserError(f"profile {name}: [{sec}] {', '.join(moved)}: the evaluation protocol (split, size, "
                            "images) is the dataset's, not a profile's; see `colorbench list datasets`, or give a "
                            "recipe its own [protocol] table")
        if bad:
            raise UserError(f"profile {name}: unknown key(s) in [{sec}]: {', '.join(bad)}; "
                            f"valid: {', '.join(sorted(keys))}")
        sections[sec] = SECTION_TYPES[sec](**given)
    seeds = raw.get("seeds", 1)
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise UserError(f"profile {name}: seeds must be a positive integer, got {seeds!r}")
    jobs = raw.get("jobs", 1)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise UserError(f"profile {name}: jobs must be a positive integer (train cells run at once), got {jobs!r}")
    released = raw.get("pretrained", [])
    if not isinstance(released, list) or not all(isinstance(n, str) for n in released):
        raise UserError(f"profile {name}: pretrained must be a list of zoo names (`colorbench weights list`), "
                        f"got {released!r}")
    if released:
        from colorbench.pretrained import get_zoo

        for zoo_name in released:
            get_zoo(zoo_name)  # an unknown name lists the known ones
    return Profile(
        name=name,
        path=path or Path(f"{name}.toml"),
        description=raw.get("description", ""),
        datasets=list(raw.get("datasets", ["sample"])),
        methods=list(raw.get("methods", ["*"])),
        baselines=list(raw["baselines"]) if "baselines" in raw else None,
        exclude=list(raw.get("exclude", [])),
        seeds=seeds,
        pretrained=list(released),
        jobs=jobs,
        variants=dict(raw.get("variants", {})),
        sections=sections,
        per_method={k: dict(v) for k, v in raw.get("per_method", {}).items()},
    )


def parse_value(text: str) -> Any:
    """A ``--set`` value as TOML would read it (``5``, ``0.5``, ``true``, ``"x"``, ``[1, 2]``); else the string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_profile_sets(profile: Profile, sets: list[str]) -> tuple[Profile, dict[str, Any], dict[str, dict[str, Any]]]:
    """Split ``--set`` items into profile changes (applied to a copy) and method config overrides.

    Returns ``(profile, global_config_overrides, per_method_config_overrides)``; config values stay strings so
    :func:`colorbench.config.build_config` coerces them to each field's type.
    """
    profile = copy.deepcopy(profile)
    global_cfg: dict[str, Any] = {}
    per_method: dict[str, dict[str, Any]] = {}
    for item in sets:
        if "=" not in item:
            raise UserError(f"--set {item!r}: expected key=value, e.g. --set train.steps=5 or --set lr=1e-4")
        key, value = (s.strip() for s in item.split("=", 1))
        head, _, rest = key.partition(".")
        if rest and head in SECTIONS:
            if rest in PROTOCOL_KEYS.get(head, set()):
                raise UserError(f"--set {key}: the evaluation protocol (split, size, images) is the dataset's, not "
                                "a profile's; see `colorbench list datasets`")
            if rest not in SECTION_TYPES[head].__dataclass_fields__:
                valid = ", ".join(sorted(SECTION_TYPES[head].__dataclass_fields__))
                raise UserError(f"--set {key}: [{head}] has no key {rest!r}; valid: {valid}")
            profile.sections[head][rest] = parse_value(value)
            if head == "train" and rest in ("steps", "epochs"):  # a length on the command line: equal steps
                profile.sections[head]["flops"] = None
        elif head == "per_method" and (rest.count(".") == 1 or rest.count(".") == 3 and ".variants." in rest):
            # per_method.pix2pix.steps=10 (the method and every variant of it), or
            # per_method.unet_l1.variants.tarres.epochs=1 (one variant)
            method, *middle, field_ = rest.split(".")
            if field_ not in PER_METHOD_KEYS:
                raise UserError(f"--set {key}: per_method takes {', '.join(PER_METHOD_KEYS)} (config values: "
                                f"--set {method}.KEY=VALUE)")
            table = profile.per_method.setdefault(method, {})
            if middle:
                table.setdefault("variants", {}).setdefault(middle[1], {})[field_] = parse_value(value)
            else:  # the command line wins over the profile's variant tables too
                table[field_] = parse_value(value)
                for own in table.get("variants", {}).values():
                    for k in LENGTH_KEYS if field_ in LENGTH_KEYS else (field_,):
                        own.pop(k, None)
            if field_ in LENGTH_KEYS:  # one length per table: the command line's replaces the file's
                for other in set(LENGTH_KEYS) - {field_}:
                    (table["variants"][middle[1]] if middle else table).pop(other, None)
        elif head == "per_method":
            raise UserError(f"--set {key}: expected per_method.METHOD.KEY=VALUE or "
                            f"per_method.METHOD.variants.VARIANT.KEY=VALUE, KEY one of {', '.join(PER_METHOD_KEYS)}")
        elif rest:
            per_method.setdefault(head, {})[rest] = value
        else:
            global_cfg[key] = value
    return profile, global_cfg, per_method


# ------------------------------------------------------------------------------------------------ validation
def _check_value(value: Any, kind: str, minimum: int | None, name: str) -> None:
    if kind == "bool":
        if not isinstance(value, bool):
            raise UserError(f"{name} {value!r}: expected true or false")
        return
    if value is None and kind.endswith("?"):
        return
    if kind == "number?":
        checks.positive_number(value, name, fix="training FLOPs per run, e.g. 3e12")
        return
    why = {"data.size": "the training crop in px (SSIM needs at least 11)"}.get(name.split()[-1], "")
    if isinstance(value, str):  # a --set value that TOML did not read as a number
        raise UserError(f"{name} {value!r}: expected a whole number" + (f" ({why})" if why else ""))
    checks.integer(value, name, minimum=minimum, fix=why)


def check_profile(profile: Profile, where: str | None = None) -> None:
    """Check every value of ``profile`` (after ``--set``) before any cell runs; a bad one raises a one-line
    UserError naming it. ``where`` prefixes the names (default: ``profile NAME:``)."""
    where = where or f"profile {profile.name}:"
    for sec, section in profile.sections.items():
        for spec in dataclasses.fields(section):
            if spec.metadata["kind"]:
                _check_value(section[spec.name], spec.metadata["kind"], spec.metadata["minimum"],
                             f"{where} {sec}.{spec.name}")
    train = profile.sections["train"]
    if train["steps"] is None and train["epochs"] is None:
        raise UserError(f"{where} [train] needs steps or epochs (how long each cell trains)")
    for size in profile.sections["runtime"]["sizes"]:
        w, _, h = str(size).lower().partition("x")
        if not (w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0):
            raise UserError(f"{where} runtime.sizes: {size!r} is not WIDTHxHEIGHT, e.g. \"256x256\"")
    for method, values in profile.per_method.items():
        tables = [(f"per_method.{method}", values, (*PER_METHOD_KEYS, *PER_METHOD_TABLES))]
        variants = values.get("variants", {})
        if not isinstance(variants, dict):
            raise UserError(f"{where} per_method.{method}.variants: expected tables, e.g. "
                            f"[per_method.{method}.variants.NAME] with {', '.join(PER_METHOD_KEYS)} or config")
        tables += [(f"per_method.{method}.variants.{v}", vals, (*PER_METHOD_KEYS, "config"))
                   for v, vals in variants.items()]
        for name, table, allowed in tables:
            if not isinstance(table, dict):
                raise UserError(f"{where} {name}: expected a table of {', '.join(allowed)}")
            unknown = sorted(set(table) - set(allowed))
            if unknown:
                raise UserError(f"{where} {name}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(allowed)}")
            lengths = [k for k in LENGTH_KEYS if k in table]
            if len(lengths) > 1:
                raise UserError(f"{where} {name}: {' and '.join(lengths)}: give one length (steps, epochs, or a "
                                "flops budget that steps are derived from)")
            if not isinstance(table.get("config", {}), dict):
                raise UserError(f"{where} {name}.config: expected a table, e.g. config = {{ width = 32 }}")
            for key in PER_METHOD_KEYS:
                if key in table and key != "datasets":
                    # steps = 0: an untrained method (a baseline) in a profile that trains the others
                    kind, minimum = {"size": ("int", MIN_SIZE), "steps": ("int?", 0),
                                     "flops": ("number?", None)}.get(key, ("int?", 1))
                    _check_value(table[key], kind, minimum, f"{where} {name}.{key}")


def method_settings(profile: Profile, method: str, variant: str) -> dict[str, Any]:
    """``per_method.METHOD`` with ``per_method.METHOD.variants.VARIANT`` over it (their configs merged): one
    variant's budget, datasets and config overrides."""
    base = {k: v for k, v in profile.per_method.get(method, {}).items() if k != "variants"}
    own = profile.per_method.get(method, {}).get("variants", {}).get(variant, {})
    if "flops" in own or ("flops" in base and any(k in own for k in LENGTH_KEYS)):  # the variant's length wins
        base = {k: v for k, v in base.items() if k not in LENGTH_KEYS}
    merged = {**base, **{k: v for k, v in own.items() if k != "config"}}
    config = {**base.get("config", {}), **own.get("config", {})}
    if config:
        merged["config"] = config
    return merged


def check_bench_sets(global_cfg: dict[str, Any], per_method_cfg: dict[str, dict[str, Any]],
                     seeds: int | None) -> None:
    """Check ``--set METHOD.key=value`` / ``--set key=value`` and ``--seeds`` before any cell runs: the method
    must be registered, the key one of its config fields, the value fit the field (type, finite, sign)."""
    from colorbench.config import build_config
    from colorbench.registry import get_method, list_methods

    if seeds is not None:
        checks.integer(seeds, "--seeds", minimum=1, fix="give the number of seeds, e.g. --seeds 3 runs seeds 0, 1, 2")
    for method, values in per_method_cfg.items():
        if method not in list_methods():
            valid = ", ".join(SECTIONS + ("per_method",))
            try:
                get_method(method)
            except UserError as exc:
                raise UserError(f"--set {method}.{next(iter(values))}: {method!r} is neither a profile section "
                                f"({valid}) nor a method: {exc}") from None
        build_config(get_method(method), values, where=f"--set {method}.")
    for key, value in global_cfg.items():
        for name in list_methods():
            cls = get_method(name)
            if key in {f.name for f in dataclasses.fields(cls.Config)}:
                build_config(cls, {key: value})

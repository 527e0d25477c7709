"""Trainer settings: :class:`TrainSettings`, the one home of the trainer's defaults and of the checks of their values.

:func:`colorbench.train.train` takes a ``TrainSettings`` (or its fields as keywords), ``colorbench train`` builds one
from its flags and a config TOML's ``[train]`` table (:meth:`TrainSettings.command`), and a bench cell builds one
from its profile's ``[train]`` section. Every value a user gives is checked by :meth:`TrainSettings.check_values`,
one line naming the value as the user wrote it (``--steps -5``, ``--config run.toml [train] keep 0``).

Torch-free: ``colorbench train --help`` shows these defaults without importing torch.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from colorbench import checks
from colorbench.checks import MAX_SEED, MAX_SIZE, MIN_SIZE
from colorbench.errors import UserError, unknown_name

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
LOGGERS = ("csv", "tensorboard")


def _count(default: int | None, minimum: int, what: str, *, key: str | None = None, maximum: int | None = None) -> Any:
    """A whole-number setting: in ``minimum..maximum``; ``what`` is the fix a bad value's error gives; ``key`` is its
    name in a TOML ``[train]`` table and on the command line when that differs from the field's."""
    return field(default=default, metadata={"minimum": minimum, "maximum": maximum, "what": what, "key": key})


def _choice(default: str, choices: tuple[str, ...]) -> Any:
    return field(default=default, metadata={"choices": choices})


def _switch(default: bool | None) -> Any:
    """An on/off setting: ``true`` or ``false`` (``None``: decided by the device)."""
    return field(default=default, metadata={"switch": True})


@dataclass(frozen=True)
class TrainSettings:
    """How a run trains (not what: the method, variant, config overrides and dataset are the caller's).

    Exactly one of ``steps`` and ``epochs`` must be given. ``batch_size=None``: the method config's, else 16;
    ``size=None`` (the square training crop, px): the config's ``image_size``, else 64. ``val_every``,
    ``ckpt_every`` and ``grid_every`` are in steps (``None`` or 0: never; a run folder always gets its final
    checkpoint). ``keep_checkpoints``: the newest step checkpoints kept; ``keep_best``: a metric whose best
    validation step is kept too. ``precision="auto"``: bf16 autocast on CUDA, fp32 elsewhere;
    ``channels_last=None``: on CUDA only.
    """

    steps: int | None = _count(None, 1, "training steps in total")
    epochs: int | None = _count(None, 1, "epochs to train")
    batch_size: int | None = _count(None, 1, "images per step")
    size: int | None = _count(None, MIN_SIZE, f"the square training crop in px; at least {MIN_SIZE}, the SSIM "
                              f"window that eval needs, at most {MAX_SIZE}", maximum=MAX_SIZE)
    seed: int = _count(0, 0, f"the seed, 0..{MAX_SEED}", maximum=MAX_SEED)
    device: str = "auto"
    precision: str = _choice("auto", PRECISIONS)
    channels_last: bool | None = _switch(None)
    val_every: int | None = _count(None, 0, "steps between validations; 0 = never")
    val_images: int = _count(32, 1, "validation images")
    ckpt_every: int | None = _count(None, 0, "steps between checkpoints; 0 = only at the end")
    keep_checkpoints: int = _count(2, 1, "how many step checkpoints to keep, at least 1", key="keep")
    keep_best: str | None = None
    logger: str = _choice("csv", LOGGERS)
    grid_every: int | None = _count(None, 0, "steps between validation image grids; 0 = never")
    nonfinite_patience: int = _count(1, 1, "consecutive non-finite losses that stop training")
    num_workers: int = _count(0, 0, "data-loader worker processes")
    log_every: int = _count(1, 1, "steps between log rows")
    progress: bool = _switch(True)
    compile: bool = _switch(False)
    cuda_graphs: bool = _switch(False)

    # What `colorbench train` trains with where neither a flag nor the config TOML says: a run folder a person
    # reads, so it validates, checkpoints and draws grids (the library's defaults above do none of these).
    COMMAND_DEFAULTS: ClassVar[dict[str, Any]] = {"steps": 1000, "val_every": 250, "ckpt_every": 250,
                                                  "grid_every": 500}

    # ---------------------------------------------------------------------------------------------- names
    @classmethod
    def keys(cls) -> dict[str, str]:
        """``{TOML / command-line key: field}`` (``keep`` is ``keep_checkpoints``)."""
        return {(f.metadata.get("key") or f.name): f.name for f in dataclasses.fields(cls)}

    def replace(self, **changes: Any) -> "TrainSettings":
        """A copy with ``changes`` (field names); an unknown name raises naming the valid ones."""
        names = {f.name for f in dataclasses.fields(self)}
        for key in changes:
            if key not in names:
                raise unknown_name("trainer setting", key, sorted(names))
        return dataclasses.replace(self, **changes)

    # --------------------------------------------------------------------------------------------- checks
    @classmethod
    def check_values(cls, values: Mapping[str, Any], names: Mapping[str, str] | None = None) -> dict[str, Any]:
        """``values`` (TOML / command-line keys) checked and keyed by field: whole numbers at least their minimum,
        choices among theirs. ``names[key]`` is how the user wrote the key (default ``--key``); ``None`` values
        stay ``None`` (not given); switches must be ``true`` or ``false``. An unknown key raises naming the valid
        ones."""
        names = names or {}
        keys = cls.keys()
        fields = {f.name: f for f in dataclasses.fields(cls)}
        out: dict[str, Any] = {}
        for key, value in values.items():
            if key not in keys:
                raise unknown_name("trainer setting", key, sorted(keys))
            spec = fields[keys[key]]
            name = names.get(key, "--" + key.replace("_", "-"))
            if value is not None and "minimum" in spec.metadata:
                value = checks.integer(value, name, minimum=spec.metadata["minimum"],
                                       maximum=spec.metadata.get("maximum"), fix=f"give {spec.metadata['what']}")
            elif value is not None and "choices" in spec.metadata and value not in spec.metadata["choices"]:
                raise UserError(f"{name} {value!r}: use one of {', '.join(spec.metadata['choices'])}")
            elif value is not None and spec.metadata.get("switch") and not isinstance(value, bool):
                raise UserError(f"{name} {value!r}: expected true or false")
            out[spec.name] = value
        return out

    @classmethod
    def command(cls, given: Mapping[str, Any]) -> "TrainSettings":
        """The settings of ``colorbench train``: :data:`COMMAND_DEFAULTS` under ``given`` (checked field values;
        ``None`` = not given). ``epochs`` given without ``steps`` trains epochs; both given is an error."""
        given = {k: v for k, v in given.items() if v is not None}
        if given.get("steps") is not None and given.get("epochs") is not None:
            raise UserError("give --steps or --epochs, not both")
        defaults = {k: v for k, v in cls.COMMAND_DEFAULTS.items() if not (k == "steps" and "epochs" in given)}
        return cls(**{**defaults, **given})

    def length(self) -> dict[str, int]:
        """``{"steps": n}`` or ``{"epochs": n}``; a UserError unless exactly one is set."""
        if (self.steps is None) == (self.epochs is None):
            raise UserError("give exactly one of steps or epochs (how long to train)")
        return {"steps": self.steps} if self.steps is not None else {"epochs": self.epochs}


def default(name: str) -> Any:
    """The command's default of setting ``name`` (a field name), for ``--help`` texts."""
    if name in TrainSettings.COMMAND_DEFAULTS:
        return TrainSettings.COMMAND_DEFAULTS[name]
    return {f.name: f.default for f in dataclasses.fields(TrainSettings)}[name]

"""A run resolved once: :class:`RunSpec`, the typed object the trainer, a bench cell, its cache key and the dry run
all take, and :func:`resolve`, the one place a method name, a variant and config overrides become it.

Resolving visits the method registry once, applies the crop/batch rule (:func:`colorbench.config.follow_size`: a
config's ``image_size`` follows the training crop, its ``batch_size`` is the batch used), builds the config once
and runs the method's training-set hook (:meth:`colorbench.method.Method.data_config`, e.g. cic's colour prior)
once. Nothing downstream looks a name up again: :meth:`RunSpec.build` instantiates the class it holds with the
config it holds, :meth:`RunSpec.data` builds its dataset's splits. :meth:`RunSpec.as_dict` is its JSON form (what a
cell records and its key hashes); :meth:`RunSpec.from_dict` rebuilds it in another process from that form without
resolving anything again (the resolved config is stored, not the overrides that made it).

Torch is imported only by :meth:`RunSpec.build` and the datasets, so resolving serves the grid and ``--help`` cheaply.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from colorbench.config import build_config, config_dict, config_from_dict, follow_size
from colorbench.errors import UserError
from colorbench.train.settings import TrainSettings

if TYPE_CHECKING:
    from torch.utils.data import Dataset

    from colorbench.data import Protocol
    from colorbench.method import Method

DEFAULT_SIZE = 64
DEFAULT_BATCH = 16
RESOLVED = ("size", "batch_size")
"""Settings that shape the config (the crop and the batch): fixed when a run is resolved, never changed after."""


@dataclass(frozen=True)
class RunSpec:
    """One training run, every input resolved: the method's class and config, the dataset and its options, the
    trainer's settings (``size`` and ``batch_size`` never ``None``), and the seed (in ``settings``).

    ``overrides``: the config values the caller gave plus the training-set config, kept for the record (the row's
    provenance); the config already holds them. ``dataset`` is ``None`` when the caller passes a torch Dataset to
    :func:`colorbench.train.train` itself. ``instance``: a method built by the caller (then ``build`` returns it).
    """

    method: type[Method]
    variant: str
    config: Any
    settings: TrainSettings
    dataset: str | None = None
    data_options: Mapping[str, Any] = field(default_factory=dict)
    overrides: Mapping[str, Any] = field(default_factory=dict)
    instance: Method | None = field(default=None, compare=False, repr=False)

    # ---------------------------------------------------------------------------------------------- views
    @property
    def name(self) -> str:
        return self.method.name

    @property
    def size(self) -> int:
        """The square training crop, px."""
        return int(self.settings.size)  # type: ignore[arg-type]

    @property
    def batch_size(self) -> int:
        return int(self.settings.batch_size)  # type: ignore[arg-type]

    @property
    def seed(self) -> int:
        return int(self.settings.seed)

    @property
    def protocol(self) -> Protocol:
        """The evaluation protocol the dataset declares (test split, size, crops)."""
        from colorbench.data import protocol_for

        if self.dataset is None:
            raise UserError("this run has no dataset name, so no evaluation protocol; resolve it with a dataset")
        return protocol_for(self.dataset)

    # ------------------------------------------------------------------------------------------- building
    def build(self, num_classes: int | None = None) -> Method:
        """The method, initialised from torch's global RNG as seeded by the caller (:func:`train` seeds it with
        the run's seed); a config value the method refuses is a one-line :class:`UserError`."""
        if self.instance is not None:
            return self.instance
        try:
            return self.method(self.config, num_classes=num_classes)
        except (ValueError, ArithmeticError, RuntimeError) as exc:  # a value of the right type the method refuses
            if isinstance(exc, UserError):  # (width=0: a ZeroDivisionError in an initialiser, an empty conv)
                raise
            raise UserError(f"method {self.name!r} [{self.variant}] cannot be built with config overrides "
                            f"{dict(self.overrides)}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None

    def data(self, split: str, size: int | None = None, **extra: Any) -> Dataset:
        """Split ``split`` of the run's dataset at ``size`` px (default: the training crop), seeded by the run;
        ``extra``: dataset options beyond the run's (e.g. a protocol's ``crops``)."""
        from colorbench.data import build_dataset

        if self.dataset is None:
            raise UserError("this run has no dataset name: pass the torch Dataset to train() instead")
        return build_dataset(self.dataset, split, size=self.size if size is None else int(size), seed=self.seed,
                             **{**dict(self.data_options), **extra})

    def scored_data(self, protocol: Protocol | None = None) -> Dataset:
        """The items ``protocol`` (default: the dataset's own) scores: its split, at its size, its crops per photo."""
        protocol = self.protocol if protocol is None else protocol
        return self.data(protocol.split, protocol.size, **protocol.dataset_options())

    def replace(self, **changes: Any) -> RunSpec:
        """A copy with trainer settings changed (``seed``, ``steps``, ``device``, ...). ``size`` and ``batch_size``
        shaped the config: changing them means resolving the run again, so they are refused here."""
        fixed = sorted(k for k in changes if k in RESOLVED and changes[k] != getattr(self.settings, k))
        if fixed:
            raise UserError(f"{', '.join(fixed)} shaped the resolved config: resolve the run with the new value "
                            f"(colorbench.train.resolve(..., {fixed[0]}=...)) instead of changing it afterwards")
        return dataclasses.replace(self, settings=self.settings.replace(**changes)) if changes else self

    # ----------------------------------------------------------------------------------------- JSON form
    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: method name, variant, resolved config, dataset and options, overrides, and the settings
        that shape the numbers (size, batch, seed, length; not device, logging or progress)."""
        s = self.settings
        return {"method": self.name, "variant": self.variant, "config": config_dict(self.config),
                "dataset": self.dataset, "data_options": dict(self.data_options),
                "overrides": dict(self.overrides), "size": self.size, "batch_size": self.batch_size,
                "seed": self.seed, "steps": s.steps, "epochs": s.epochs}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], settings: TrainSettings | None = None) -> RunSpec:
        """The spec :meth:`as_dict` wrote (in this or another process): the class looked up once, the stored
        config rebuilt and checked; ``settings`` (default: the library's) take the stored size, batch, seed and
        length."""
        from colorbench.registry import get_method

        method = get_method(values["method"])
        length = {"epochs": values["epochs"], "steps": None} if values.get("epochs") else \
            {"steps": values.get("steps"), "epochs": None}
        s = (settings or TrainSettings()).replace(size=int(values["size"]), batch_size=int(values["batch_size"]),
                                                  seed=int(values["seed"]), **length)
        return cls(method=method, variant=values["variant"],
                   config=config_from_dict(method, dict(values["config"]), where=f"{values['method']} cell"),
                   settings=s, dataset=values.get("dataset"), data_options=dict(values.get("data_options") or {}),
                   overrides=dict(values.get("overrides") or {}))


def sizes(config: Any, settings: TrainSettings) -> TrainSettings:
    """The crop and batch a run uses: given ones win; else the config's ``image_size`` (else 64) and
    ``batch_size`` (else 16)."""
    size = settings.size if settings.size is not None else int(getattr(config, "image_size", 0) or DEFAULT_SIZE)
    batch = settings.batch_size if settings.batch_size is not None else \
        int(getattr(config, "batch_size", 0) or DEFAULT_BATCH)
    return settings.replace(size=int(size), batch_size=int(batch))


def resolve(method: str | type[Method], dataset: str | None = None, settings: TrainSettings | None = None, *,
            variant: str = "default", overrides: Mapping[str, Any] | None = None,
            data_options: Mapping[str, Any] | None = None, strict_data: bool = True, **changes: Any) -> RunSpec:
    """Resolve a run once (see the module docstring): ``method`` a registered name or a Method class, ``dataset``
    a registered dataset name (or ``None`` when the caller brings a torch Dataset), ``settings`` (default: the
    library's) with ``changes`` (its fields as keywords, e.g. ``steps=500, size=32``) applied.

    ``size=None`` takes the config's ``image_size`` (else 64); a given ``size`` sets ``image_size`` unless the
    overrides set it. ``batch_size=None`` takes the config's ``batch_size`` (else 16); a given one sets the
    config's ``batch_size``. A wrong variant, key or value raises a one-line :class:`UserError`; so does a dataset
    the training-set hook cannot read, unless ``strict_data=False`` (the bench keys such a cell without the hook's
    values, and the cell fails with the data layer's message when it runs)."""
    from colorbench.registry import get_method

    s = (settings or TrainSettings()).replace(**changes)
    cls = get_method(method) if isinstance(method, str) else method
    given = follow_size(cls, overrides, s.size, s.batch_size)
    config = build_config(cls, given, variant)
    s = sizes(config, s)
    options = dict(data_options or {})
    if dataset is not None:  # e.g. a prior of the training set; a value the caller set wins
        try:
            hook = cls.data_config(config, dataset, size=s.size, data_options=options)
        except UserError:
            if strict_data:
                raise
            hook = {}
        extra = {k: v for k, v in hook.items() if k not in given}
        if extra:
            config = dataclasses.replace(config, **extra)
            given = {**extra, **given}
    return RunSpec(method=cls, variant=variant, config=config, settings=s, dataset=dataset, data_options=options,
                   overrides=given)


def of_method(method: Method, settings: TrainSettings | None = None, **changes: Any) -> RunSpec:
    """A spec around a method the caller built (its class, variant unknown: ``"default"``, its own config); the
    crop and batch follow :func:`sizes`."""
    s = sizes(method.config, (settings or TrainSettings()).replace(**changes))
    return RunSpec(method=type(method), variant="default", config=method.config, settings=s, instance=method)

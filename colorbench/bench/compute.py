"""A train cell's training compute and its curve along it: what a row records of the FLOPs it trained with
(:func:`figures`), the steps at which the trainer scores it on the val split (:func:`curve_steps`), and those
scores with the compute spent so far (:func:`curve`).

FLOPs are :mod:`colorbench.train.flops`'s (measured once per method, variant, config, crop, batch and dataset).
Under DDP (``world`` processes) every process runs its own batch each step: the figures count all of them.
"""
from __future__ import annotations

import contextlib
import csv
import math
from pathlib import Path
from typing import Any

from colorbench.train.flops import StepCost
from colorbench.train.spec import RunSpec

CURVE_KEYS = ("step", "train_flops", "train_images")
"""The compute columns of a curve point (then its ``val_<figure>`` scores)."""


def figures(cost: StepCost, steps: int, batch_size: int, world: int = 1,
            budget: float | None = None) -> dict[str, Any]:
    """What a row records of its training compute: ``step_flops`` (FLOPs of one step, all processes: the mean
    over the run, which is the one measured count for a method whose steps are alike; the first step's for a run
    of no steps), ``train_flops`` (the whole training), ``train_images`` (steps × batch × processes) and
    ``flops_budget`` (the FLOPs per run the steps were derived from; None when the profile gave steps)."""
    total = cost.total(steps) * world
    return {"step_flops": total // steps if steps else cost.first * world, "train_flops": total,
            "train_images": int(steps) * int(batch_size) * world,
            "flops_budget": float(budget) if budget is not None else None}


def run_steps(spec: RunSpec) -> int:
    """The steps the run trains: its ``steps``, or its ``epochs`` of the train split's batches."""
    s = spec.settings
    if s.steps is not None:
        return int(s.steps)
    return int(s.epochs) * max(1, len(spec.data("train")) // spec.batch_size)


def curve_steps(cost: StepCost, spec: RunSpec, points: int) -> list[int]:
    """The steps after which a run with ``points`` curve points is scored (evenly spaced in FLOPs, the last at its
    end: :meth:`StepCost.curve_steps`); none for ``points = 0`` or a run of no steps."""
    if points <= 0 or (spec.settings.steps is not None and spec.settings.steps <= 0):
        return []
    return cost.curve_steps(run_steps(spec), points)


def curve(run_dir: Path, steps: list[int], cost: StepCost, batch_size: int, world: int = 1) -> list[dict[str, Any]]:
    """The curve points of a trained run: for each of ``steps`` that its validation log (``run_dir/val_log.csv``,
    figures to 6 significant digits, so a resumed run reads the same as an uninterrupted one) holds,
    ``{"step", "train_flops", "train_images", "val_<figure>": ...}``."""
    path = Path(run_dir) / "val_log.csv"
    if not steps or not path.is_file():
        return []
    wanted = set(steps)
    with path.open(newline="") as f:
        rows = {int(r["step"]): r for r in csv.DictReader(f) if r.get("step") and int(r["step"]) in wanted}
    return [point(step, cost, batch_size, world, {k: _number(v) for k, v in rows[step].items() if k != "step"})
            for step in sorted(rows)]


def point(step: int, cost: StepCost, batch_size: int, world: int, scores: dict[str, Any]) -> dict[str, Any]:
    """One curve point: the compute spent by ``step`` and the ``val_`` scores then."""
    return {"step": int(step), "train_flops": cost.total(step) * world, "train_images": int(step) * batch_size * world,
            **{k: v for k, v in scores.items() if k.startswith("val_")}}


def untrained_point(method: Any, spec: RunSpec, cost: StepCost, device: Any) -> dict[str, Any]:
    """The single curve point of a method with nothing to train (step 0): its val scores as the trainer's
    validation computes them (the protocol's val split, ``val_images`` images)."""
    from colorbench.train.validate import validate

    val = spec.scored_data(spec.protocol.validation(spec.settings.val_images))
    scores = validate(method, val, spec.batch_size, device, spec.settings.val_images, contextlib.nullcontext)
    return point(0, cost, spec.batch_size, 1, {k: _number(_fmt(v)) for k, v in scores.items()})  # as the log has them


def _fmt(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _number(text: str) -> float | int | None:
    if text in ("", None):
        return None
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text and math.isfinite(value) else value

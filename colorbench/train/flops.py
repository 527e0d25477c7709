"""Training compute: the FLOPs of one training step of a resolved run, measured, and what follows from them (a run's
total, the run length that spends a FLOP budget, the steps at which a curve along the budget is scored).

**What is counted.** :func:`step_cost` builds the method from a :class:`~colorbench.train.spec.RunSpec`, makes one
batch of random photos in the data layer's item format (:func:`synthetic_batch`: ``L``, ``ab``, ``rgb``, ``index``,
``label`` where the dataset has classes, at the run's batch size and crop) and runs one ``train_step`` under
:class:`torch.utils.flop_counter.FlopCounterMode`. The count is what that mode counts of everything the step
executes: 2 FLOPs per multiply-add of every convolution (transposed ones included) and matrix product
(``mm``, ``addmm``, ``bmm``, ``baddbmm``, attention), forward and backward, in every network the step runs (frozen
feature extractors, discriminators, classifiers, at whatever input size the method feeds them), plus the
matrix-vector products that mode has no formula for (``mv``, ``addmv``, ``dot``, ``vdot``: spectral norm's power
iteration), counted the same way (:data:`EXTRA_FORMULAS`). Other ops count 0: element-wise ops, norms,
activations, pooling, resizing, losses and the optimiser's update, all memory-bound and small next to the
convolutions of every method here (docs/training.md has the per-method figures).

**Phases.** A method whose steps differ along training (C2F: L1 pretraining, then the GAN) says where with
:meth:`colorbench.method.Method.phase_starts`; one step of each phase is measured, and :class:`StepCost` holds the
FLOPs of every step as a step function of the global step.

**Cache.** The count depends on the method, variant, config, crop, batch, the dataset (its class count and length
per epoch) and the code, never on the seed, the run's length or the clock. It is kept in this process and on disk
(``runs/flops/<hash>.json``, the hash of the run's JSON form without seed and length, the dataset's file
fingerprint, :func:`colorbench.fingerprint.code_hash` and the library versions), so a bench that resolves its
cells again, in this process or another, measures nothing twice and derives the same run lengths.

The measurement never changes the caller's torch RNG (:func:`torch.random.fork_rng`) and runs on the CPU.
"""
from __future__ import annotations

import bisect
import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from colorbench import _atomic as atomic
from colorbench import fingerprint
from colorbench.errors import UserError
from colorbench.train.spec import RunSpec

FLOPS_DIR = Path("runs/flops")
"""Where measured step costs are cached (relative to the working directory, as ``runs/bench``)."""
FORMAT = 1  # bump when what a cached file holds changes meaning
PLACEHOLDER_CLASSES = 10
"""Class count used while a dataset cannot be read (not downloaded yet): it only sizes a classifier head; such a
count is kept in this process only, never on disk."""


@dataclass(frozen=True)
class StepCost:
    """The FLOPs of every training step of a run, as a step function of the global step (0-based).

    ``phases``: ``((first_step, flops_per_step), ...)`` sorted by first step, the first at step 0; every step from
    ``first_step`` until the next phase's first step costs ``flops_per_step`` FLOPs (an int, ≥ 0)."""

    phases: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        if not self.phases or self.phases[0][0] != 0:
            raise ValueError(f"StepCost needs a phase starting at step 0, got {self.phases}")

    @property
    def first(self) -> int:
        """FLOPs of the first step (step 0)."""
        return self.phases[0][1]

    def at(self, step: int) -> int:
        """FLOPs of the step at global step ``step``."""
        starts = [s for s, _ in self.phases]
        return self.phases[bisect.bisect_right(starts, int(step)) - 1][1]

    def total(self, steps: int) -> int:
        """FLOPs of the first ``steps`` steps (a run of that length)."""
        out = 0
        for i, (start, flops) in enumerate(self.phases):
            end = self.phases[i + 1][0] if i + 1 < len(self.phases) else None
            last = int(steps) if end is None else min(int(steps), end)
            out += max(0, last - start) * flops
        return out

    def steps_for(self, budget: float) -> int | None:
        """The run length whose total is nearest ``budget`` FLOPs, at least 1; for a constant cost ``f`` that is
        ``max(1, round(budget / f))``. ``None`` when the steps cost no FLOPs from some point on before the budget
        is spent (no length spends it)."""
        spent = 0.0
        for i, (start, flops) in enumerate(self.phases):
            end = self.phases[i + 1][0] if i + 1 < len(self.phases) else None
            span = None if end is None else end - start
            if span is not None and spent + span * flops < budget:
                spent += span * flops
                continue
            if flops == 0:
                return None
            return max(1, start + round((budget - spent) / flops))
        return None  # not reached: the last phase is open-ended

    def curve_steps(self, steps: int, points: int) -> list[int]:
        """``points`` steps of a run of ``steps`` steps, evenly spaced in training FLOPs: the ``k``-th is the first
        step count whose total reaches ``k / points`` of the run's (evenly spaced in steps where steps are free);
        the last is ``steps``. Sorted, without repeats (fewer than ``points`` for a run shorter than that)."""
        steps, points = int(steps), int(points)
        if steps < 1 or points < 1:
            return []
        whole = self.total(steps)
        out = []
        for k in range(1, points + 1):
            if whole == 0:
                out.append(-(-k * steps // points))
                continue
            lo, hi = 1, steps  # the first n with total(n) * points >= whole * k (total never decreases)
            while lo < hi:
                mid = (lo + hi) // 2
                if self.total(mid) * points >= whole * k:
                    hi = mid
                else:
                    lo = mid + 1
            out.append(lo)
        return sorted(set(out))

    def as_dict(self) -> dict[str, Any]:
        return {"phases": [[int(s), int(f)] for s, f in self.phases]}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> StepCost:
        return cls(tuple((int(s), int(f)) for s, f in values["phases"]))


def _mv_flop(a_shape: Any, b_shape: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    """``[m,n] @ [n]``: 2·m·n."""
    return 2 * int(a_shape[0]) * int(a_shape[1])


def _addmv_flop(self_shape: Any, a_shape: Any, b_shape: Any, *args: Any, out_shape: Any = None,
                **kwargs: Any) -> int:
    return _mv_flop(a_shape, b_shape)


def _dot_flop(a_shape: Any, b_shape: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    """``[n] · [n]``: 2·n."""
    return 2 * int(a_shape[0])


EXTRA_FORMULAS = {torch.ops.aten.mv: _mv_flop, torch.ops.aten.addmv: _addmv_flop, torch.ops.aten.dot: _dot_flop,
                  torch.ops.aten.vdot: _dot_flop}
"""FLOP formulas (of the ops' shapes) for the matrix-vector products FlopCounterMode has none for."""

_MEMO: dict[str, StepCost] = {}
"""Cache key -> the step cost measured or read in this process."""


# ------------------------------------------------------------------------------------------------- public
def step_flops(spec: RunSpec, step: int = 0) -> int:
    """FLOPs of one training step of ``spec`` at global step ``step`` (default: the first), measured once per
    method, variant, config, crop, batch and dataset (see the module docstring)."""
    return step_cost(spec).at(step)


def step_cost(spec: RunSpec) -> StepCost:
    """The FLOPs of every step of ``spec`` (:class:`StepCost`): from this process's cache, else ``runs/flops/``,
    else measured (and written there)."""
    if spec.instance is not None:  # a method the caller built: measured on a copy, never cached
        return _measure(spec)
    inputs = cache_inputs(spec)
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:16]
    if key in _MEMO:
        return _MEMO[key]
    path = FLOPS_DIR / f"{spec.name}-{key}.json"
    cost = _read(path)
    if cost is None:
        cost, exact = _measure_checked(spec)
        if exact:
            atomic.write_json(path, {"inputs": inputs, **cost.as_dict()})
    _MEMO[key] = cost
    return cost


def cache_inputs(spec: RunSpec) -> dict[str, Any]:
    """What a step's FLOPs depend on (JSON-ready): the run's JSON form without seed, length and the overrides that
    made its config, the dataset's file fingerprint, the code hash and the library versions."""
    from colorbench.data import data_fingerprint

    run = {k: v for k, v in spec.as_dict().items() if k not in ("seed", "steps", "epochs", "overrides")}
    data = None if spec.dataset is None else data_fingerprint(spec.dataset, spec.data_options.get("data_dir"))
    return {"format": FORMAT, "run": run, "data": data, "code": fingerprint.code_hash(spec.method),
            "versions": fingerprint.environment(1)["versions"]}


def synthetic_batch(batch_size: int, size: int, num_classes: int | None = None, seed: int = 0) -> dict[str, Any]:
    """One batch of random photos in the data layer's format (:func:`colorbench.data.transforms.to_batch`):
    ``L [B,1,S,S]`` L/50-1, ``ab [B,2,S,S]`` ab/110, ``rgb [B,3,S,S]`` in [0, 1], ``index [B]`` int64 and, with
    ``num_classes``, ``label [B]`` int64; ``B = batch_size``, ``S = size`` px. Values come from ``seed``."""
    from colorbench.data.transforms import to_batch

    rng = np.random.default_rng(seed)
    images = list(rng.integers(0, 256, (batch_size, size, size, 3), dtype=np.uint8))
    labels = [int(v) for v in rng.integers(0, num_classes, batch_size)] if num_classes else [None] * batch_size
    return to_batch(images, list(range(batch_size)), labels, [False] * batch_size)


def count_flops(fn: Any, *args: Any, by_module: bool = False, **kwargs: Any) -> Any:
    """FLOPs of ``fn(*args, **kwargs)`` as :class:`~torch.utils.flop_counter.FlopCounterMode` counts them, with
    :data:`EXTRA_FORMULAS` (see the module docstring); with ``by_module``, ``(total, {module path: {op: FLOPs}})``
    (``"Global"`` is the total)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False, custom_mapping=EXTRA_FORMULAS) as counter:
        fn(*args, **kwargs)
    total = int(counter.get_total_flops())
    if not by_module:
        return total
    return total, {m: {str(op): int(n) for op, n in ops.items()} for m, ops in counter.get_flop_counts().items()}


# ---------------------------------------------------------------------------------------------- measuring
def _read(path: Path) -> StepCost | None:
    if not path.is_file():
        return None
    try:
        return StepCost.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError):  # a damaged file: measure again
        return None


def _dataset_facts(spec: RunSpec) -> tuple[int | None, int | None, bool]:
    """``(num_classes, steps_per_epoch, exact)`` of the run's train split, as the trainer sees them; without a
    dataset name ``(None, None, True)``; while the dataset cannot be read, a placeholder class count and
    ``exact=False``."""
    if spec.dataset is None:
        return None, None, True
    try:
        train = spec.data("train")
    except (UserError, OSError):
        return (PLACEHOLDER_CLASSES if spec.method.labels_needed(spec.config) else None), None, False
    return getattr(train, "num_classes", None), max(1, len(train) // spec.batch_size), True


def _measure_checked(spec: RunSpec) -> tuple[StepCost, bool]:
    num_classes, per_epoch, exact = _dataset_facts(spec)
    return _measure(spec, num_classes, per_epoch), exact


def _measure(spec: RunSpec, num_classes: int | None = None, steps_per_epoch: int | None = None) -> StepCost:
    """One step of each phase of ``spec``'s method, counted (on the CPU, in train mode, torch's RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        if spec.instance is not None:
            method = copy.deepcopy(spec.instance).cpu()
            num_classes = num_classes or getattr(method, "num_classes", None)
        else:
            method = spec.build(num_classes=num_classes)
        method.steps_per_epoch = steps_per_epoch or method.steps_per_epoch
        method.train()
        starts = sorted({0, *(int(s) for s in method.phase_starts())})
        batch = synthetic_batch(spec.batch_size, spec.size, num_classes)
        return StepCost(tuple((s, count_flops(method.train_step, batch, s)) for s in starts))

"""The shared conformance suite: the checks every registered method must pass, with no per-method code.

Run it on an installed method with ``colorbench check-method NAME`` (no checkout, no pytest: nothing is written but
the runs in a temporary folder, removed afterwards); the repository's ``tests/test_conformance.py`` runs the same
checks over every registered method.

Each method is built with ``variant="default"`` and its own ``test_overrides`` (a tiny configuration), trained by
``colorbench.train`` on the generated ``synthetic`` dataset at its test crop (the config's ``image_size`` when it
has one, else 32; clamped to 16-32), batch 8, on the CPU, and must:

* ``five_steps_without_nan``: train 5 steps with finite float losses, parameters and buffers;
* ``watch_loss_falls``: make its ``watch_loss`` fall over 50 steps (mean of the last 10 below the mean of the first
  10; skipped for ``trainable = False``);
* ``colorize_keeps_size``: return ``[B,2,H,W]`` float32 ab without gradients for a 37×53 input and for batch 1;
* ``colorize_changes_nothing``: leave every parameter, buffer and train/eval flag as it was (train mode and a mix);
* ``save_then_load``: give identical outputs after save -> :func:`colorbench.checkpoint.load_method`;
* ``same_seed_same_result``: give identical weights and losses for the same seed on the CPU.
"""
from __future__ import annotations

import math
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import torch

    from colorbench.method import Method
    from colorbench.train import TrainResult

BATCH, STEPS = 8, 50
CHECKS = ("five_steps_without_nan", "watch_loss_falls", "colorize_keeps_size", "colorize_changes_nothing",
          "save_then_load", "same_seed_same_result")


class Skip(Exception):
    """A check that does not apply to this method (the message says why)."""


class CheckFailed(AssertionError):
    """A check the method fails; the message names the method, what was expected and what it gave."""


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise CheckFailed(message)


def crop(name: str) -> int:
    """The suite's training crop for ``name`` in px: the test config's ``image_size`` (else 32), clamped to 16-32."""
    from colorbench.config import build_config
    from colorbench.registry import get_method

    cls = get_method(name)
    size = getattr(build_config(cls, cls.test_overrides), "image_size", None) or 32
    return int(min(max(size, 16), 32))


def train_tiny(name: str, steps: int, seed: int = 0, out_dir: str | Path | None = None, *, batch_size: int = BATCH,
               images: int = 64, **settings: Any) -> TrainResult:
    """``name`` at its ``test_overrides`` trained ``steps`` steps of ``batch_size`` on ``images`` ``synthetic``
    crops (:func:`crop` px), on the CPU unless ``settings`` (:class:`~colorbench.train.settings.TrainSettings`
    fields: ``device``, ``precision``, ...) say otherwise."""
    from colorbench.data import build_dataset
    from colorbench.registry import get_method
    from colorbench.train import resolve, train

    cls = get_method(name)
    size = crop(name)
    data = build_dataset("synthetic", "train", size=size, seed=seed, length=images)
    settings = {"device": "cpu", "ckpt_every": None, "progress": False, **settings}
    spec = resolve(cls, overrides=cls.test_overrides, steps=steps, batch_size=batch_size, size=size, seed=seed,
                   **settings)
    return train(spec, data, out_dir=out_dir)


def random_L(b: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """``[b,1,h,w]`` uniform L/50-1 in [-1, 1] from a seeded generator."""
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 1, h, w, generator=g) * 2 - 1


class Suite:
    """The checks of one method; the 50-step run they share is trained once, into ``work_dir``."""

    def __init__(self, name: str, work_dir: str | Path) -> None:
        from colorbench.registry import get_method

        self.name, self.cls, self.work_dir = name, get_method(name), Path(work_dir)
        self._trained: TrainResult | None = None

    def trained(self) -> TrainResult:
        if self._trained is None:
            steps = STEPS if self.cls.trainable else 5
            self._trained = train_tiny(self.name, steps, out_dir=self.work_dir / "run")
        return self._trained

    def run(self, check: str) -> None:
        """Run one check by name; raises :class:`CheckFailed` or :class:`Skip`."""
        if check not in CHECKS:
            raise ValueError(f"unknown conformance check {check!r}; the checks are {', '.join(CHECKS)}")
        getattr(self, check)()

    # ------------------------------------------------------------------------------------------------ checks
    def five_steps_without_nan(self) -> None:
        import torch

        result, name = self.trained(), self.name
        first = result.history[:5]
        _require(len(first) == 5 and all(first[0].keys() == r.keys() for r in first),
                 f"{name}: the first 5 steps logged {len(first)} rows or different keys")
        losses = {k: v for r in first for k, v in r.items() if k not in ("step", "epoch", "images_per_s", "elapsed_s")}
        _require(bool(losses), f"{name}.train_step returned no losses")
        bad = sorted({k for r in first for k, v in r.items() if isinstance(v, float) and not math.isfinite(v)})
        _require(not bad, f"{name}: non-finite losses in the first 5 steps: {', '.join(bad)}")
        _require(all(torch.isfinite(p).all() for p in result.method.parameters()),
                 f"{name}: non-finite parameters after 5 steps")
        _require(all(torch.isfinite(b).all() for b in result.method.buffers() if b.is_floating_point()),
                 f"{name}: non-finite buffers after 5 steps")

    def watch_loss_falls(self) -> None:
        if not self.cls.trainable:
            raise Skip(f"{self.name} does not learn (trainable = False)")
        history, watch = self.trained().history, self.cls.watch_loss
        _require(watch in history[0], f"{self.name}.watch_loss={watch!r} is not among {sorted(history[0])}")
        series = [r[watch] for r in history]
        first, last = sum(series[:10]) / 10, sum(series[-10:]) / 10
        _require(last < first, f"{self.name}: {watch} did not fall over {STEPS} steps ({first:.4g} -> {last:.4g})")

    def colorize_keeps_size(self) -> None:
        import torch

        method = self.trained().method
        for shape in [(1, 37, 53), (2, 37, 53), (1, 32, 32)]:
            ab = method.colorize(random_L(*shape))
            _require(ab.shape == (shape[0], 2, shape[1], shape[2]),
                     f"{self.name}: colorize of L {shape} gave {tuple(ab.shape)}, expected {(shape[0], 2, *shape[1:])}")
            _require(ab.dtype == torch.float32 and bool(torch.isfinite(ab).all()),
                     f"{self.name}: colorize gave {ab.dtype} or non-finite values, expected finite float32")
            _require(not ab.requires_grad, f"{self.name}: colorize returned a tensor that requires grad")

    def colorize_changes_nothing(self) -> None:
        for mode in ("train", "mixed"):
            colorize_changes_nothing(self.trained().method, mode)

    def save_then_load(self) -> None:
        import torch

        from colorbench.checkpoint import load_method

        result = self.trained()
        loaded = load_method(result.checkpoint)
        _require(type(loaded) is type(result.method) and loaded.config == result.method.config,
                 f"{self.name}: load_method rebuilt {type(loaded).__name__} with another config")
        L = random_L(1, 37, 53, seed=1)
        torch.manual_seed(0)  # a method may sample noise in predict (pix2pix's test-time dropout)
        before = result.method.colorize(L)
        torch.manual_seed(0)
        after = loaded.colorize(L)
        _require(torch.equal(before, after), f"{self.name}: outputs differ after save -> load")

    def same_seed_same_result(self) -> None:
        import torch

        a, b = train_tiny(self.name, 3, seed=1), train_tiny(self.name, 3, seed=1)
        sa, sb = a.method.state_dict(), b.method.state_dict()
        _require(sa.keys() == sb.keys(), f"{self.name}: same seed, different state_dict keys")
        differ = [k for k in sa if not torch.equal(sa[k], sb[k])]
        _require(not differ, f"{self.name}: same seed, different weights ({', '.join(differ[:3])})")
        _require(a.losses == b.losses, f"{self.name}: same seed, different losses ({a.losses} vs {b.losses})")


def colorize_changes_nothing(method: Method, mode: str = "train") -> None:
    """Check that ``method.colorize`` leaves every parameter, buffer and train/eval flag as they were, with the
    method in train mode (``mode="train"``) or in train mode with its first child in eval (``"mixed"``)."""
    import torch

    method.train()
    if mode == "mixed":
        for child in list(method.children())[:1]:
            child.eval()
    flags = {n: m.training for n, m in method.named_modules()}
    before = {k: v.detach().clone() for k, v in method.state_dict(keep_vars=True).items()}
    ab = method.colorize(random_L(2, 32, 32))
    _require(tuple(ab.shape) == (2, 2, 32, 32) and not ab.requires_grad,
             f"{method.name}: colorize gave {tuple(ab.shape)} (requires_grad={ab.requires_grad}), "
             "expected (2, 2, 32, 32)")
    after = method.state_dict(keep_vars=True)
    changed = [k for k in before if k not in after or not torch.equal(before[k], after[k].detach())]
    _require(not changed and after.keys() == before.keys(),
             f"{method.name}: colorize ({mode} mode) changed {', '.join(changed[:5]) or 'the state_dict keys'}")
    now = {n: m.training for n, m in method.named_modules()}
    moved = sorted(n or "(the method)" for n in flags if now.get(n) != flags[n])
    _require(not moved, f"{method.name}: colorize ({mode} mode) left other train/eval flags on {', '.join(moved[:5])}")


@dataclass
class Outcome:
    """One check's result: ``status`` is ``passed``, ``failed`` or ``skipped``; ``detail`` says why."""

    check: str
    status: str
    detail: str
    seconds: float


def run_checks(name: str, checks: tuple[str, ...] = CHECKS, work_dir: str | Path | None = None,
               echo: Callable[[Outcome], Any] | None = None) -> list[Outcome]:
    """Run ``checks`` on method ``name`` (on the CPU, one thread's worth of work, seconds for a small
    ``test_overrides``); runs are written under ``work_dir`` (default: a temporary folder, removed afterwards).
    A check that raises anything but :class:`Skip` fails with that error's first line."""
    temp = None if work_dir is not None else tempfile.mkdtemp(prefix=f"colorbench-check-{name}-")
    suite = Suite(name, work_dir if work_dir is not None else temp)
    outcomes = []
    try:
        for check in checks:
            start = time.perf_counter()
            try:
                suite.run(check)
                status, detail = "passed", ""
            except Skip as exc:
                status, detail = "skipped", str(exc)
            except Exception as exc:  # noqa: BLE001 (a method's own error is that check's failure)
                text = str(exc).strip().splitlines()
                status, detail = "failed", f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
            outcomes.append(Outcome(check, status, detail, time.perf_counter() - start))
            if echo is not None:
                echo(outcomes[-1])
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    return outcomes

"""The training loop: seeded, resumable, distributed, with logs, validation, image grids and atomic checkpoints."""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import resource
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Collection, Mapping

import torch
from torch.utils.data import Dataset

from colorbench import _atomic as atomic
from colorbench import checkpoint as ckpt
from colorbench.config import config_dict
from colorbench.errors import UserError
from colorbench.method import Method
from colorbench.registry import method_origin
from colorbench.train import distributed, graphs, speed
from colorbench.data.transforms import to_device
from colorbench.train.batches import BatchPlan, iterate, seed_for
from colorbench.train.finite import FiniteWatch, weights_finite
from colorbench.train.best import Best
from colorbench.train.grid import val_grid
from colorbench.train.logs import RunLogs, postfix, progress_bar
from colorbench.train.lossbook import LossBook
from colorbench.train.settings import PRECISIONS, TrainSettings
from colorbench.train.spec import RunSpec, of_method
from colorbench.train.state import rng_state, set_rng_state
from colorbench.train.validate import validate

# Settings that must match for a run folder to be resumed (steps may grow: that extends a run). The config is
# compared without its batch_size, which the trainer's batch_size sets (runs saved before it did recorded the default).
_RESUME_KEYS = ("method", "variant", "config", "dataset", "size", "seed", "batch_size")


@dataclasses.dataclass
class TrainResult:
    """What a training run produced. ``method`` is the trained method (networks unwrapped, ``eval()`` mode)."""

    method: Method
    out_dir: Path | None
    checkpoint: Path | None          # newest checkpoint folder (None without out_dir)
    steps: int                       # steps trained in total (including earlier, resumed sessions)
    start_step: int                  # the step this session started from (0 unless resumed)
    train_seconds: float             # time in train steps over all sessions (no validation, no checkpoints)
    images_per_s: float              # training images per second (all ranks together)
    peak_memory_mb: float            # CUDA: max allocated on this rank; CPU: peak resident set of the process
    losses: dict[str, float]         # the last step's losses
    history: list[dict[str, float]]  # this session's logged rows
    val: list[dict[str, float]]      # this session's validation rows
    device: str
    world_size: int = 1
    interrupted: bool = False


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (2**20 if sys.platform == "darwin" else 2**10)


def _autocast(device: torch.device, precision: str, cache: bool = True):
    """A factory of the autocast context of ``precision`` on ``device`` (``cache=False``: no weight-cast cache, as
    CUDA-graph capture needs)."""
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "fp32"
    if precision == "fp32":
        return contextlib.nullcontext
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return lambda: torch.autocast(device.type, dtype=dtype, cache_enabled=cache)


STOP_SIGNALS_ENV = "COLORBENCH_STOP_SIGNALS"
"""Names of further signals (``USR1``, comma-separated) that stop a run as SIGTERM does: a scheduler job sets it to
the signal SLURM sends before the time limit (:mod:`colorbench.bench.cluster`)."""


class Stopped(KeyboardInterrupt):
    """Training stopped on signal ``signum`` after saving a checkpoint (or, outside training, on a stop signal)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def stop_signals() -> list[int]:
    """SIGINT (Ctrl-C), SIGTERM (kill, systemd, a scheduler's pre-emption) and those ``COLORBENCH_STOP_SIGNALS``
    names; a name this platform lacks is a UserError."""
    import os

    found = [signal.SIGINT, signal.SIGTERM]
    for name in filter(None, (n.strip().upper() for n in os.environ.get(STOP_SIGNALS_ENV, "").split(","))):
        sig = getattr(signal, name if name.startswith("SIG") else f"SIG{name}", None)
        if not isinstance(sig, signal.Signals):
            raise UserError(f"{STOP_SIGNALS_ENV}={os.environ[STOP_SIGNALS_ENV]!r}: {name} is not a signal here; "
                            "give names such as USR1")
        found.append(sig)
    return list(dict.fromkeys(found))


_requested: int | None = None


def request_stop(signum: int) -> None:
    """Ask the running training loop of this process to stop after its current step, checkpoint and raise
    :class:`Stopped` (``signum``) as a first stop signal would; callable from any thread, and never an immediate
    interrupt however often it is called (a bench worker calls it when the bench process is gone)."""
    global _requested
    _requested = int(signum)


class _StopFlag:
    """The first stop signal (:func:`stop_signals`: Ctrl-C, SIGTERM, ...) asks the loop to stop after the current step
    (it then checkpoints and raises :class:`Stopped`); a second one interrupts at once."""

    def __init__(self, enabled: bool) -> None:
        self.set = False
        self.signum: int | None = None
        self._old: dict[int, Any] = {}
        self.enabled = enabled and threading.current_thread() is threading.main_thread()

    def __enter__(self) -> "_StopFlag":
        if self.enabled:
            for sig in stop_signals():
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.set:
            raise Stopped(signum)
        self.set, self.signum = True, signum

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _data_record(spec: RunSpec) -> dict[str, Any]:
    """``{"data_options": ...}``: the dataset options the run was given (``--data``), less ``data_dir`` (a path on
    this machine); empty when none."""
    options = {k: v for k, v in dict(spec.data_options).items() if k != "data_dir"}
    return {"data_options": options} if options else {}


def _scale_record(dataset: Dataset) -> dict[str, Any]:
    """``{"train_short_side": px}``: the shorter side a folder dataset resized its photos to before cropping (the
    scale the model learns colours at; ``colorize`` predicts at it by default); empty for native-size data."""
    resize = getattr(dataset, "resize", None)
    return {"train_short_side": int(resize)} if isinstance(resize, int) and getattr(dataset, "crop", "") == "square" \
        else {}


def _check_resume(saved: dict[str, Any], now: dict[str, Any], out_dir: Path) -> None:
    """Refuse to resume ``out_dir`` with other settings: one line naming only the keys (and config fields) that
    differ, and how to start a separate run instead."""
    diffs = []
    if saved.get("data_options", {}) != now.get("data_options", {}):
        diffs.append(f"data_options {saved.get('data_options', {})!r} -> {now.get('data_options', {})!r}")
    for key in _RESUME_KEYS:
        if key not in saved or key not in now:
            continue
        if key == "config" and isinstance(saved[key], dict) and isinstance(now[key], dict):
            fields = sorted((set(saved[key]) | set(now[key])) - {"batch_size"})
            diffs += [f"config.{f} {saved[key].get(f)!r} -> {now[key].get(f)!r}" for f in fields
                      if saved[key].get(f) != now[key].get(f)]
        elif saved[key] != now[key]:
            diffs.append(f"{key} {saved[key]!r} -> {now[key]!r}")
    if diffs:
        raise UserError(f"{out_dir} holds a run with other settings ({'; '.join(diffs)}): to resume it use its "
                        f"settings; for a separate run give another --out (or delete {out_dir})")


def finished(spec: RunSpec, out_dir: str | Path) -> Path | None:
    """The last checkpoint of ``out_dir`` when it already holds ``spec`` trained to its ``steps`` (None when there is
    something left to train, or the length is given in epochs); a run with other settings is refused as a resume
    would be. Reads two small JSON files, no data: a rerun of a finished command answers at once."""
    out = Path(out_dir)
    last = ckpt.find_last(out)
    if last is None or spec.instance is not None:
        return None
    saved = ckpt.read_config(out)
    now = {"method": spec.name, "variant": spec.variant, "config": config_dict(spec.config), "dataset": spec.dataset,
           "size": spec.size, "seed": spec.seed, "batch_size": spec.batch_size, **_data_record(spec)}
    _check_resume(saved, now, out)
    steps = spec.settings.steps
    return last if steps is not None and spec.settings.epochs is None and int(saved.get("step", -1)) >= steps \
        else None


def _lrs(method: Method) -> dict[str, float]:
    return {f"lr_{name}": float(opt.param_groups[0]["lr"]) for name, opt in method.optimizers().items()
            if opt.param_groups}


def train(
    run: RunSpec | Method,
    dataset: Dataset | None = None,
    settings: TrainSettings | None = None,
    *,
    out_dir: str | Path | None = None,
    val_dataset: Dataset | None = None,
    on_step: Callable[[int, Mapping[str, Any]], None] | None = None,
    val_at: Collection[int] = (),
    **changes: Any,
) -> TrainResult:
    """Train ``run`` and return a :class:`TrainResult`.

    ``run``: a :class:`~colorbench.train.spec.RunSpec` (:func:`~colorbench.train.spec.resolve` makes one from a
    method name, variant, config overrides, dataset name and settings: the only place names are looked up), or a
    :class:`Method` the caller built (with ``settings``, a :class:`TrainSettings`; its ``size`` and
    ``batch_size`` default to the config's ``image_size`` and ``batch_size``, else 64 and 16). ``changes``: trainer
    settings as keywords (``steps=500, out_dir=...``), replacing the run's (not ``size`` or ``batch_size``, which
    shaped a resolved config). ``dataset``: a torch Dataset of batch items; default, the spec's dataset (train
    split at its crop; validation on its protocol's val split).

    With ``out_dir`` the run writes ``train_log.csv``, ``val_log.csv`` and ``checkpoints/step_NNNNNNN/`` (every
    ``ckpt_every`` steps and at the end; the newest ``keep_checkpoints`` stay, and only the one
    ``checkpoints/LAST`` names keeps ``train_state.pt``), and running the same call again resumes from it, giving
    the same weights as an uninterrupted run (on CPU). ``keep_best="psnr"`` (any metric whose declared goal is
    higher or lower) also keeps ``checkpoints/best-psnr/`` (weights only), the validation step with the best value.
    ``logger``: ``"csv"`` or ``"tensorboard"`` (also writes TensorBoard events, see
    :class:`~colorbench.train.logs.RunLogs`). ``grid_every``: every that many steps (and at the end) a grid of the
    first val images (grey | prediction | truth) goes to the logger. Logging, validation and grids never touch the
    training RNG: the weights do not depend on them. Step ``s`` always sees the same batch and reseeds torch from
    ``(seed, s, rank)``. ``on_step(step_done, losses)`` is called after every step with the losses as the step
    returned them (floats, or tensors on the device: reading one waits for the device, and a graphed step's are
    overwritten by the next step). ``val_at``: step counts after
    which to validate besides every ``val_every`` (e.g. points of a curve along the training budget). Under
    ``torchrun`` it trains with DDP. ``compile``: ``torch.compile`` the networks (:mod:`colorbench.train.speed`);
    ``cuda_graphs``: the whole step in one CUDA graph (:mod:`colorbench.train.graphs`), refused with a
    :class:`UserError` saying why when the device, the run or the method cannot have one.

    A non-finite loss for ``nonfinite_patience`` consecutive steps stops the run with
    :class:`~colorbench.train.finite.NonFiniteLoss` (a one-line error naming the step and the loss); checkpoints are
    written only while losses and weights are finite, so ``checkpoints/LAST`` keeps naming the last finite one.
    Losses a step leaves on the device are read at read points only (a ``log_every`` row, a checkpoint, a
    validation, a grid, the last step, a stop; :mod:`colorbench.train.lossbook`): the watch then sees every step
    since the last read in order and names the same step, but training runs on to that read point first.
    """
    if isinstance(run, RunSpec):
        if settings is not None:
            raise TypeError("a RunSpec carries its settings: give changes as keywords or resolve it with them")
        spec = run.replace(**changes)
    elif isinstance(run, Method):
        spec = of_method(run, settings, **changes)
    else:
        raise TypeError(f"train() takes a RunSpec (colorbench.train.resolve(name, ...)) or a built Method, not "
                        f"{type(run).__name__}")
    s = spec.settings
    watch = FiniteWatch(s.nonfinite_patience)  # a bad patience fails before any data loads
    s.length()  # exactly one of steps and epochs
    info, dev = distributed.setup(s.device)
    try:
        return _Session(spec, info, dev, watch, out_dir, on_step, val_at).run(dataset, val_dataset)
    finally:
        distributed.teardown(info)


class _Session:
    """One call of :func:`train`: the data, the method, the resume point, the loop and the checkpoints, in the order
    :meth:`run` reads them."""

    def __init__(self, spec: RunSpec, info: distributed.DistInfo, dev: torch.device, watch: FiniteWatch,
                 out_dir: str | Path | None, on_step: Callable[[int, Mapping[str, Any]], None] | None,
                 val_at: Collection[int] = ()) -> None:
        self.spec, self.s, self.info, self.dev = spec, spec.settings, info, dev
        self.watch, self.on_step, self.val_at = watch, on_step, frozenset(int(v) for v in val_at)
        self.out = Path(out_dir) if out_dir is not None else None
        self.writes = self.out is not None and info.is_main
        self.best = Best(self.s.keep_best, self.out) if self.s.keep_best else None
        if self.best is not None and not self.s.val_every:
            raise UserError(f"--keep-best {self.s.keep_best} needs validation: give --val-every N (steps between "
                            "validations)")
        self.start, self.prev_seconds, self.last_ckpt, self.prev = 0, 0.0, None, {}
        self.losses: dict[str, float] = {}  # the newest losses read (floats)
        self.book = LossBook(watch)
        self.step_fn: Callable[[Any, int], Mapping[str, Any]] | None = None  # set by build()
        self.step_losses: Mapping[str, Any] = {}  # the newest step's losses as it returned them
        self.seconds, self.images = 0.0, 0

    # --------------------------------------------------------------------------------------------- steps
    def run(self, dataset: Dataset | None, val_dataset: Dataset | None) -> TrainResult:
        self.data(dataset, val_dataset)
        self.build()
        self.resume()
        done, interrupted = self.loop()
        return self.finish(done, interrupted)

    def data(self, dataset: Dataset | None, val_dataset: Dataset | None) -> None:
        """The train split (and the protocol's val split when validation or grids are on) unless given."""
        spec, s = self.spec, self.s
        if dataset is None:
            dataset = spec.data("train")
            if val_dataset is None and (s.val_every or s.grid_every or self.val_at):  # the protocol, on its val split
                val_dataset = spec.scored_data(spec.protocol.validation(s.val_images))
        self.dataset_name = spec.dataset if spec.dataset is not None else \
            getattr(dataset, "name", type(dataset).__name__)
        if self.dev.type == "cuda" and getattr(dataset, "uint8_batches", None) is False:
            dataset.uint8_batches = True  # uint8 RGB crosses the bus, Lab is made on the GPU (to_device)
        self.dataset, self.val_dataset = dataset, val_dataset

    def build(self) -> None:
        """The method (initialised from the run's seed), on the device, in its memory format and precision."""
        spec, s, dev = self.spec, self.s, self.dev
        if spec.instance is None:
            torch.manual_seed(spec.seed)  # network initialisation
        method = spec.build(num_classes=getattr(self.dataset, "num_classes", None))
        self.plan = BatchPlan(len(self.dataset), spec.batch_size, spec.seed, rank=self.info.rank,
                              world=self.info.world)
        method.steps_per_epoch = self.plan.steps_per_epoch  # schedules given in epochs (Method.epoch_steps)
        self.total = s.steps if s.steps is not None else s.epochs * self.plan.steps_per_epoch
        self.channels_last = s.channels_last if s.channels_last is not None else dev.type == "cuda"
        method.to(dev)
        if self.channels_last:
            method.to(memory_format=torch.channels_last)
        self.autocast = _autocast(dev, s.precision, cache=not s.cuda_graphs)
        self.step_fn = method.train_step
        if s.cuda_graphs:
            backend = graphs.backend_for(dev)
            if why := graphs.refusal(method, self.info.world, s.compile):
                raise UserError(why)
            self.step_fn = graphs.GraphedStep(method, backend)
        if s.compile:
            speed.compile_networks(method)
        self.method = method
        # where the code came from: later commands name it, never import it
        self.record = {"method": method.name, "variant": spec.variant, "config": config_dict(method.config),
                       "dataset": self.dataset_name, "size": spec.size, "seed": spec.seed,
                       "batch_size": spec.batch_size, "world_size": self.info.world,
                       "origin": method_origin(type(method)), **_data_record(spec), **_scale_record(self.dataset)}

    def resume(self) -> None:
        """Continue from ``out_dir``'s last checkpoint (weights, RNG, step, time) when there is one."""
        out, method = self.out, self.method
        if out is not None and ckpt.find_last(out) is not None:
            saved = ckpt.read_config(out)
            _check_resume(saved, self.record, out)
            loaded = ckpt.load_checkpoint(out, method, map_location="cpu")  # refuses non-finite weights
            self.start, self.last_ckpt = int(loaded["state"]["step"]), loaded["path"]
            self.prev_seconds = float(loaded["state"].get("train_seconds", 0.0))
            self.prev = {k: loaded["state"][k] for k in ("images_per_s", "peak_memory_mb", "losses")
                         if k in loaded["state"]}
            if "rng" in loaded["state"]:
                set_rng_state(loaded["state"]["rng"])
            if saved.get("world_size", 1) != self.info.world:
                warnings.warn(f"resuming a run made with {saved.get('world_size', 1)} process(es) on "
                              f"{self.info.world}: the batch order changes from here on", stacklevel=3)
        if self.writes:
            out.mkdir(parents=True, exist_ok=True)
            atomic.write_text(out / "run.json", json.dumps({**self.record, "steps": self.total}, indent=2) + "\n")
        self.logs = RunLogs(out if self.writes else None, self.s.logger, self.start)

    def loop(self) -> tuple[int, bool]:
        """The steps from the resume point to the end; returns ``(steps done, interrupted)``."""
        s, info, dev, method = self.s, self.info, self.dev, self.method
        wrapped = distributed.wrap(method, dev) if info.world > 1 else []
        self.history: list[dict[str, float]] = []
        self.val_rows: list[dict[str, float]] = []
        done, interrupted = self.start, False
        bar = progress_bar(self.total, self.start, s.progress and info.is_main,
                           f"{method.name} on {self.dataset_name}")
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        method.train()
        try:
            with _StopFlag(True) as stop:
                tick = time.perf_counter()
                for step, epoch, batch in iterate(self.dataset, self.plan, self.start, self.total,
                                                  num_workers=s.num_workers, pin_memory=dev.type == "cuda"):
                    batch = to_device(batch, dev, self.channels_last)
                    torch.manual_seed(seed_for(s.seed, step, info.rank))
                    with self.autocast():
                        self.step_losses = self.step_fn(batch, step)
                    done = step + 1
                    self.book.record(done, self.step_losses)  # no wait for the device
                    diverged = self.read_losses() if self.read_due(done) else False
                    self.images += int(batch["L"].shape[0]) * info.world
                    now = time.perf_counter()
                    self.seconds += now - tick
                    self.after_step(done, epoch, bar, diverged)
                    if diverged:
                        break
                    signum = distributed.stop_signal(stop.signum if stop.set else _requested, info)
                    if signum is not None:  # on every rank after the same step
                        interrupted, self.stopped_by = True, signum
                        self.read_losses()  # the checkpoint needs this step's losses and the watch's verdict
                        break
                    tick = time.perf_counter()
        except KeyboardInterrupt:  # a second Ctrl-C in the middle of a step: keep the last checkpoint, save nothing
            bar.close()
            raise
        finally:
            bar.close()
            self.logs.close()
        if done > self.start or (self.writes and self.last_ckpt is None):
            self.save(done)
        distributed.barrier(info)
        distributed.unwrap(method, wrapped)
        return done, interrupted

    def read_losses(self) -> bool:
        """Read the losses recorded since the last read (waits for the device) into :attr:`losses`; True when the
        non-finite watch stops the run (on any rank)."""
        stop = distributed.any_rank(self.book.read(), self.info, self.dev)
        self.losses = self.book.latest
        return stop

    def _due(self, done: int, every: int | None) -> bool:
        """Validation or grids every ``every`` steps (and at the end) are due after step ``done``."""
        return bool(every) and self.val_dataset is not None and (done % every == 0 or done == self.total)

    def read_due(self, done: int) -> bool:
        """Whether the host needs step ``done``'s losses: a log row, a validation, a grid, a checkpoint, the end
        (every rank reads at the same steps)."""
        s = self.s
        return (done % s.log_every == 0 or done == self.total or self._due(done, s.val_every)
                or self._due(done, s.grid_every) or (self.val_dataset is not None and done in self.val_at)
                or bool(s.ckpt_every and done % s.ckpt_every == 0))

    def after_step(self, done: int, epoch: int, bar: Any, diverged: bool) -> None:
        """Log and report; unless the run diverged (on any rank), validate, draw and checkpoint as the settings say
        (none of it touches the training RNG)."""
        s, method, losses = self.s, self.method, self.losses
        rate = self.images / self.seconds if self.seconds > 0 else 0.0
        if done % s.log_every == 0 or done == self.total:
            row = {"step": done, "epoch": epoch, **losses, **_lrs(method), "images_per_s": rate,
                   "elapsed_s": self.prev_seconds + self.seconds}
            self.history.append(row)
            self.logs.train(row)
            bar.set_postfix(postfix(losses, rate), refresh=False)
        bar.update(1)
        if self.on_step is not None:
            self.on_step(done, self.step_losses)
        if diverged or not self.watch.finite:
            return
        due = functools.partial(self._due, done)
        if due(s.val_every) or (self.val_dataset is not None and done in self.val_at):
            vrow = {"step": done, **validate(method, self.val_dataset, self.spec.batch_size, self.dev, s.val_images,
                                             self.autocast, self.channels_last)}
            self.val_rows.append(vrow)
            self.logs.val(vrow)
            bar.write(f"step {done}: " + ", ".join(f"{k} {v:.4g}" for k, v in vrow.items() if k != "step"))
            self.save_best(done, vrow)
            method.train()
        if due(s.grid_every):
            self.logs.grid(done, val_grid(method, self.val_dataset, self.dev, self.autocast, self.channels_last))
            self.logs.flush()
        if s.ckpt_every and done % s.ckpt_every == 0 and done < self.total:
            self.save(done)

    # ----------------------------------------------------------------------------------------- checkpoints
    def save(self, step: int) -> Path | None:
        """A checkpoint of ``step`` (only while losses and weights are finite: LAST keeps naming the last finite
        one), then LAST moved to it and older ones pruned."""
        if not self.writes or not self.watch.finite or not weights_finite(self.method):
            return None
        seconds = self.prev_seconds + self.seconds
        session = self.seconds
        path = ckpt.save_checkpoint(self.out / "checkpoints" / f"step_{step:07d}", self.method, step,
                                    info={k: v for k, v in self.record.items() if k != "config"},
                                    rng=rng_state(), train_seconds=seconds, losses=dict(self.losses),
                                    images_per_s=self.images / session if session > 0 else 0.0,
                                    peak_memory_mb=_peak_memory_mb(self.dev))
        ckpt.mark_last(self.out, path)
        self.last_ckpt = path
        ckpt.prune(self.out, self.s.keep_checkpoints)  # after LAST moved: a kill here leaves LAST whole
        return path

    def save_best(self, step: int, vrow: dict[str, float]) -> None:
        best = self.best
        if best is None or not best.offer(step, vrow) or not self.writes or not weights_finite(self.method):
            return
        ckpt.save_checkpoint(best.folder, self.method, step, train_state=False,
                             info={**{k: v for k, v in self.record.items() if k != "config"},
                                   "best": best.record()})

    # --------------------------------------------------------------------------------------------- result
    def finish(self, done: int, interrupted: bool) -> TrainResult:
        method, info, start = self.method, self.info, self.start
        if not self.watch.finite:
            raise self.watch.error(method.name, str(self.last_ckpt) if self.last_ckpt is not None else None)
        if interrupted:
            signum = getattr(self, "stopped_by", None) or signal.SIGINT
            if info.is_main:
                print(f"stopped at step {done} ({signal.Signals(signum).name}); checkpoint saved in {self.last_ckpt}; "
                      "run the same command to resume", file=sys.stderr)
            raise Stopped(signum)
        common = {"method": method.eval(), "out_dir": self.out, "checkpoint": self.last_ckpt, "steps": done,
                  "start_step": start, "train_seconds": self.prev_seconds + self.seconds, "device": str(self.dev),
                  "world_size": info.world}
        if done == start and self.prev:  # nothing left to train: report what the run that trained it measured
            return TrainResult(**common, images_per_s=float(self.prev.get("images_per_s", 0.0)),
                               peak_memory_mb=float(self.prev.get("peak_memory_mb", 0.0)),
                               losses=dict(self.prev.get("losses", {})), history=[], val=[])
        return TrainResult(**common, images_per_s=self.images / self.seconds if self.seconds > 0 else 0.0,
                           peak_memory_mb=_peak_memory_mb(self.dev), losses=self.losses, history=self.history,
                           val=self.val_rows, interrupted=interrupted)

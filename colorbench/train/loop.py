"""The training loop: seeded, resumable, distributed, with logs, validation, image grids and atomic checkpoints."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import resource
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch.utils.data import Dataset

from colorbench import checkpoint as ckpt
from colorbench.config import build_config, config_dict, follow_size
from colorbench.data import build_dataset, protocol_for
from colorbench.errors import UserError
from colorbench.method import Method
from colorbench.registry import create_method, get_method, method_origin
from colorbench.train import distributed, speed
from colorbench.data.transforms import to_device
from colorbench.train.batches import BatchPlan, iterate, seed_for
from colorbench.train.finite import FiniteWatch, weights_finite
from colorbench.train.best import Best
from colorbench.train.grid import val_grid
from colorbench.train.logs import RunLogs, postfix, progress_bar
from colorbench.train.settings import PRECISIONS, TrainSettings
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


def _autocast(device: torch.device, precision: str):
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "fp32"
    if precision == "fp32":
        return contextlib.nullcontext
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return lambda: torch.autocast(device.type, dtype=dtype)


class _StopFlag:
    """First Ctrl-C asks the loop to stop after the current step (it then checkpoints); a second one interrupts."""

    def __init__(self, enabled: bool) -> None:
        self.set = False
        self._old = None
        self.enabled = enabled and threading.current_thread() is threading.main_thread()

    def __enter__(self) -> "_StopFlag":
        if self.enabled:
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.set:
            raise KeyboardInterrupt
        self.set = True

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            signal.signal(signal.SIGINT, self._old)


def _check_resume(saved: dict[str, Any], now: dict[str, Any], out_dir: Path) -> None:
    def same(key: str) -> bool:
        if key == "config" and isinstance(saved[key], dict) and isinstance(now[key], dict):
            return {k: v for k, v in saved[key].items() if k != "batch_size"} == \
                {k: v for k, v in now[key].items() if k != "batch_size"}
        return saved[key] == now[key]

    for key in _RESUME_KEYS:
        if key in saved and key in now and not same(key):
            raise UserError(f"{out_dir} holds a run with {key}={saved[key]!r}, not {now[key]!r}; to resume it use "
                            f"the same settings, otherwise choose another --out or delete {out_dir}")


def _sizes(method: str | Method, overrides: Mapping[str, Any] | None, variant: str, size: int | None,
           batch_size: int | None) -> tuple[str | Method, dict[str, Any], int, int]:
    """Depth follows size: a config field ``image_size`` (the training crop) and the trainer's ``size`` agree.

    ``size=None`` takes the config's ``image_size`` (else 64); a given ``size`` sets ``image_size`` unless the
    overrides set it. ``batch_size=None`` takes the config's ``batch_size`` (else 16); a given one sets the config's
    ``batch_size`` (a method given by name; also over a ``batch_size`` override or variant), so the run records the
    one batch size it trained with."""
    overrides = dict(overrides or {})
    if isinstance(method, str):
        cls = get_method(method)
        config = build_config(cls, overrides, variant)
        overrides = follow_size(cls, overrides, size, batch_size)
    else:
        config = method.config
    default_size = getattr(config, "image_size", None)
    size = size if size is not None else (int(default_size) if default_size else 64)
    batch_size = batch_size if batch_size is not None else int(getattr(config, "batch_size", 0) or 16)
    return method, overrides, int(size), int(batch_size)


def _lrs(method: Method) -> dict[str, float]:
    return {f"lr_{name}": float(opt.param_groups[0]["lr"]) for name, opt in method.optimizers().items()
            if opt.param_groups}


def train(
    method: str | Method,
    dataset: str | Dataset,
    settings: TrainSettings | None = None,
    *,
    variant: str = "default",
    overrides: Mapping[str, Any] | None = None,
    out_dir: str | Path | None = None,
    val_dataset: Dataset | None = None,
    data_options: Mapping[str, Any] | None = None,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
    **changes: Any,
) -> TrainResult:
    """Train ``method`` on ``dataset`` as ``settings`` say (a :class:`TrainSettings`; ``changes``, its fields as
    keywords, e.g. ``steps=500, batch_size=8``, replace its values) and return a :class:`TrainResult`.

    ``method``: a registered name (built with ``variant`` and config ``overrides``, seeded with ``seed``) or a
    :class:`Method` instance. ``size`` is the square training crop; a config field ``image_size`` follows it
    (``size=None``: the config's ``image_size``, else 64); ``batch_size=None``: the config's, else 16.
    ``dataset``: a name for :func:`colorbench.data.build_dataset` (train split at
    ``size``, with ``data_options``) or a torch Dataset of batch items. With ``out_dir`` the run writes
    ``train_log.csv``, ``val_log.csv`` and ``checkpoints/step_NNNNNNN/`` (every ``ckpt_every`` steps and at the
    end; the newest ``keep_checkpoints`` stay, and only the one ``checkpoints/LAST`` names keeps ``train_state.pt``),
    and running the same call again resumes from it, giving the same weights as an uninterrupted run (on CPU).
    ``keep_best="psnr"`` (any metric whose declared goal is higher or lower) also keeps
    ``checkpoints/best-psnr/`` (weights only), the validation step with the best value. ``logger``: ``"csv"`` or
    ``"tensorboard"`` (also writes TensorBoard events, see :class:`~colorbench.train.logs.RunLogs`). ``grid_every``:
    every that many steps (and at the end) a grid of the first val images (grey | prediction | truth) goes to the
    logger. Logging, validation and grids never touch the training RNG: the weights do not depend on them.
    Step ``s`` always sees the same batch and reseeds torch from ``(seed, s, rank)``.
    ``on_step(step_done, losses)`` is called after every step. Under ``torchrun`` it trains with DDP.
    ``compile``: ``torch.compile`` the networks (:mod:`colorbench.train.speed`); ``cuda_graphs``: a whole-step CUDA
    graph, refused with a :class:`UserError` saying why when the device or the method cannot have one.

    A non-finite loss for ``nonfinite_patience`` consecutive steps stops the run with
    :class:`~colorbench.train.finite.NonFiniteLoss` (a one-line error naming the step and the loss); checkpoints are
    written only while losses and weights are finite, so ``checkpoints/LAST`` keeps naming the last finite one.
    """
    s = (settings or TrainSettings()).replace(**changes)
    watch = FiniteWatch(s.nonfinite_patience)  # a bad patience fails before any data loads
    s.length()  # exactly one of steps and epochs
    info, dev = distributed.setup(s.device)
    try:
        return _train(method, dataset, s, variant=variant, overrides=overrides, out_dir=out_dir,
                      val_dataset=val_dataset, data_options=data_options, on_step=on_step, watch=watch, info=info,
                      dev=dev)
    finally:
        distributed.teardown(info)


def _train(method: str | Method, dataset: str | Dataset, s: TrainSettings, *, variant: str,
           overrides: Mapping[str, Any] | None, out_dir: str | Path | None, val_dataset: Dataset | None,
           data_options: Mapping[str, Any] | None, on_step: Callable[[int, dict[str, float]], None] | None,
           watch: FiniteWatch, info: distributed.DistInfo, dev: torch.device) -> TrainResult:
    steps, epochs, seed, val_every, grid_every = s.steps, s.epochs, s.seed, s.val_every, s.grid_every
    channels_last = s.channels_last
    # ---------------------------------------------------------------------------------------- data, method
    best = Best(s.keep_best, Path(out_dir) if out_dir is not None else None) if s.keep_best else None
    if best is not None and not val_every:
        raise UserError(f"--keep-best {s.keep_best} needs validation: give --val-every N (steps between validations)")
    method, overrides, size, batch_size = _sizes(method, overrides, variant, s.size, s.batch_size)
    dataset_name = dataset if isinstance(dataset, str) else getattr(dataset, "name", type(dataset).__name__)
    if isinstance(method, str) and isinstance(dataset, str):  # e.g. a prior of the training set (Method.data_config)
        cls = get_method(method)
        extra = cls.data_config(build_config(cls, overrides, variant), dataset, size=size,
                                data_options=dict(data_options or {}))
        overrides = {**extra, **overrides}
    if isinstance(dataset, str):
        dataset = build_dataset(dataset_name, "train", size=size, seed=seed, **dict(data_options or {}))
        if val_dataset is None and (val_every or grid_every):  # the dataset's evaluation protocol, on its val split
            val = protocol_for(dataset_name).validation(s.val_images)
            val_dataset = build_dataset(dataset_name, val.split, size=val.size, seed=seed, **dict(data_options or {}))
    if isinstance(method, str):
        torch.manual_seed(seed)  # network initialisation
        name = method
        try:
            method = create_method(name, variant=variant, num_classes=getattr(dataset, "num_classes", None),
                                   **dict(overrides or {}))
        except ValueError as exc:  # a value of the right type the method still refuses
            if isinstance(exc, UserError):
                raise
            raise UserError(f"method {name!r} [{variant}] cannot be built with config overrides "
                            f"{dict(overrides or {})}: {str(exc).splitlines()[0]}") from None
    elif overrides:
        raise UserError("config overrides apply only when the method is given by name; build the Method with them")
    if dev.type == "cuda" and getattr(dataset, "uint8_batches", None) is False:
        dataset.uint8_batches = True  # uint8 RGB crosses the bus, Lab is made on the GPU (to_device)
    plan = BatchPlan(len(dataset), batch_size, seed, rank=info.rank, world=info.world)
    method.steps_per_epoch = plan.steps_per_epoch  # schedules given in epochs (Method.epoch_steps)
    total = steps if steps is not None else epochs * plan.steps_per_epoch
    if channels_last is None:
        channels_last = dev.type == "cuda"
    method.to(dev)
    if channels_last:
        method.to(memory_format=torch.channels_last)
    autocast = _autocast(dev, s.precision)
    if s.cuda_graphs and (why := speed.graph_refusal(method, dev)):
        raise UserError(why)
    if s.compile:
        speed.compile_networks(method)

    run = {"method": method.name, "variant": variant, "config": config_dict(method.config),
           "dataset": dataset_name, "size": size, "seed": seed, "batch_size": batch_size, "world_size": info.world,
           "origin": method_origin(type(method))}  # where the code came from: later commands name it, never import it
    out = Path(out_dir) if out_dir is not None else None
    writes = out is not None and info.is_main

    # ----------------------------------------------------------------------------------------------- resume
    start, prev_seconds, last_ckpt, prev = 0, 0.0, None, {}
    if out is not None and ckpt.find_last(out) is not None:
        saved = ckpt.read_config(out)
        _check_resume(saved, run, out)
        loaded = ckpt.load_checkpoint(out, method, map_location="cpu")
        start, last_ckpt = int(loaded["state"]["step"]), loaded["path"]
        if not weights_finite(method):  # written by an older colorbench, which kept training on NaN losses
            raise UserError(f"{last_ckpt} holds non-finite weights (NaN or infinite), so {out} cannot be resumed; "
                            "delete it and train again with a lower learning rate")
        prev_seconds = float(loaded["state"].get("train_seconds", 0.0))
        prev = {k: loaded["state"][k] for k in ("images_per_s", "peak_memory_mb", "losses") if k in loaded["state"]}
        if "rng" in loaded["state"]:
            set_rng_state(loaded["state"]["rng"])
        if saved.get("world_size", 1) != info.world:
            warnings.warn(f"resuming a run made with {saved.get('world_size', 1)} process(es) on {info.world}: "
                          "the batch order changes from here on", stacklevel=2)
    if writes:
        out.mkdir(parents=True, exist_ok=True)
    logs = RunLogs(out if writes else None, s.logger, start)
    if writes:
        (out / "run.json").write_text(json.dumps({**run, "steps": total}, indent=2) + "\n")

    wrapped = distributed.wrap(method, dev) if info.world > 1 else []

    def save(step: int, seconds: float) -> Path | None:
        nonlocal last_ckpt
        if not writes or not watch.finite or not weights_finite(method):
            return None  # never a non-finite checkpoint: LAST keeps naming the last finite one
        path = ckpt.save_checkpoint(out / "checkpoints" / f"step_{step:07d}", method, step,
                                    info={k: v for k, v in run.items() if k != "config"},
                                    rng=rng_state(), train_seconds=seconds, losses=dict(losses),
                                    images_per_s=images / session if (session := seconds - prev_seconds) > 0 else 0.0,
                                    peak_memory_mb=_peak_memory_mb(dev))
        ckpt.mark_last(out, path)
        last_ckpt = path
        ckpt.prune(out, s.keep_checkpoints)  # after LAST moved: a kill here leaves LAST whole, with its state
        return path

    def save_best(step: int, vrow: dict[str, float]) -> None:
        if best is None or not best.offer(step, vrow) or not writes or not weights_finite(method):
            return
        ckpt.save_checkpoint(best.folder, method, step, train_state=False,
                             info={**{k: v for k, v in run.items() if k != "config"}, "best": best.record()})

    # ------------------------------------------------------------------------------------------------- loop
    history: list[dict[str, float]] = []
    val_rows: list[dict[str, float]] = []
    losses: dict[str, float] = {}
    seconds, images, done, interrupted = 0.0, 0, start, False
    bar = progress_bar(total, start, s.progress and info.is_main, f"{method.name} on {dataset_name}")
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    method.train()
    pin = dev.type == "cuda"
    try:
        with _StopFlag(info.world == 1) as stop:
            tick = time.perf_counter()
            for step, epoch, batch in iterate(dataset, plan, start, total, num_workers=s.num_workers, pin_memory=pin):
                batch = to_device(batch, dev, channels_last)
                torch.manual_seed(seed_for(seed, step, info.rank))
                with autocast():
                    losses = method.train_step(batch, step)
                done = step + 1
                diverged = distributed.any_rank(watch.update(done, losses), info, dev)
                images += int(batch["L"].shape[0]) * info.world
                now = time.perf_counter()
                seconds += now - tick
                rate = images / seconds if seconds > 0 else 0.0
                if done % s.log_every == 0 or done == total:
                    row = {"step": done, "epoch": epoch, **losses, **_lrs(method), "images_per_s": rate,
                           "elapsed_s": prev_seconds + seconds}
                    history.append(row)
                    logs.train(row)
                    bar.set_postfix(postfix(losses, rate), refresh=False)
                bar.update(1)
                if on_step is not None:
                    on_step(done, losses)
                if diverged:
                    break
                if watch.finite and val_every and val_dataset is not None and (done % val_every == 0
                                                                               or done == total):
                    vrow = {"step": done, **validate(method, val_dataset, batch_size, dev, s.val_images, autocast,
                                                     channels_last)}
                    val_rows.append(vrow)
                    logs.val(vrow)
                    bar.write(f"step {done}: " + ", ".join(f"{k} {v:.4g}" for k, v in vrow.items() if k != "step"))
                    save_best(done, vrow)
                    method.train()
                if watch.finite and grid_every and val_dataset is not None and (done % grid_every == 0
                                                                                or done == total):
                    logs.grid(done, val_grid(method, val_dataset, dev, autocast, channels_last))
                    logs.flush()
                if s.ckpt_every and done % s.ckpt_every == 0 and done < total:
                    save(done, prev_seconds + seconds)
                if stop.set:
                    interrupted = True
                    break
                tick = time.perf_counter()
    except KeyboardInterrupt:
        interrupted = True  # a second Ctrl-C in the middle of a step: keep the last checkpoint, save nothing new
        bar.close()
        raise
    finally:
        bar.close()
        logs.close()
    if done > start or (writes and last_ckpt is None):
        save(done, prev_seconds + seconds)
    distributed.barrier(info)
    distributed.unwrap(method, wrapped)
    if not watch.finite:
        raise watch.error(method.name, str(last_ckpt) if last_ckpt is not None else None)
    if interrupted:
        if info.is_main:
            print(f"stopped at step {done}; checkpoint saved in {last_ckpt}; run the same command to resume",
                  file=sys.stderr)
        raise KeyboardInterrupt
    total_seconds = prev_seconds + seconds
    if done == start and prev:  # nothing left to train: report what the run that trained it measured
        return TrainResult(method=method.eval(), out_dir=out, checkpoint=last_ckpt, steps=done, start_step=start,
                           train_seconds=total_seconds, images_per_s=float(prev.get("images_per_s", 0.0)),
                           peak_memory_mb=float(prev.get("peak_memory_mb", 0.0)), losses=dict(prev.get("losses", {})),
                           history=[], val=[], device=str(dev), world_size=info.world)
    return TrainResult(method=method.eval(), out_dir=out, checkpoint=last_ckpt, steps=done, start_step=start,
                       train_seconds=total_seconds, images_per_s=images / seconds if seconds > 0 else 0.0,
                       peak_memory_mb=_peak_memory_mb(dev), losses=losses, history=history, val=val_rows,
                       device=str(dev), world_size=info.world, interrupted=interrupted)

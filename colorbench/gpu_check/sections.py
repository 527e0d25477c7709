"""The GPU check's sections: each takes a :class:`Context` and returns ``(rows, notes)`` (CSV rows, report lines).

A section never raises for a missing optional package or an exhausted budget: its rows say ``skipped: <why>``.
"""
from __future__ import annotations

import dataclasses
import math
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import torch

LOADER_WORKERS = min(8, os.cpu_count() or 1)  # PNG decoding of 64 crops of 256² per step: ~2 ms each
TRAINER_METHOD = "pix2pix"  # the anchors' method (pix2pix at 256², batch 64); any registered method works
RESUME_TOL_CPU = 1e-6  # max |w_resumed - w_straight| / max(1, max |w|): fp32 on the CPU resumes exactly
RESUME_TOL_BF16 = 2e-2  # bf16 autocast on CUDA: non-deterministic kernels (cuDNN, atomics) differ in a few ulps


@dataclasses.dataclass
class Sizes:
    """What each section runs; ``quick()`` is the toy set the CPU test uses."""

    conf_steps: int = 4
    trainer_size: int = 256
    trainer_batch: int = 64
    trainer_warmup: int = 3
    trainer_steps: int = 10
    graph_steps: int = 30
    metric_size: int = 256
    metric_pairs: tuple[int, ...] = (64, 512)
    metric_repeats: int = 10
    runtime_sizes: tuple[tuple[int, int], ...] = ((256, 256), (750, 500), (1500, 1000), (3000, 2000), (6000, 4000))
    runtime_small_config: bool = False  # True: each method's test_overrides (a tiny network), not the paper's
    runtime_repeats: int = 3

    @classmethod
    def quick(cls) -> "Sizes":
        return cls(conf_steps=2, trainer_size=32, trainer_batch=4, trainer_warmup=1, trainer_steps=2, graph_steps=2,
                   metric_size=32, metric_pairs=(4, 8), metric_repeats=2, runtime_sizes=((48, 32),),
                   runtime_small_config=True, runtime_repeats=1)


@dataclasses.dataclass
class Context:
    device: torch.device
    sizes: Sizes
    deadline: float  # time.monotonic() after which sections skip
    workdir: Path

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def precisions(self) -> list[tuple[str, bool]]:
        """``(precision, channels_last)`` pairs to train with: fp32, and bf16 + channels_last on CUDA."""
        return [("fp32", False), ("bf16", True)] if self.cuda else [("fp32", False)]


BUDGET = "skipped: --budget-s spent"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def missing_module(exc: BaseException) -> str | None:
    """``"skipped: X not installed"`` for an ImportError of an optional package, else None."""
    if isinstance(exc, ImportError):
        return f"skipped: {getattr(exc, 'name', None) or exc} not installed"
    return None


# ------------------------------------------------------------------------------------------------ conformance
def _conformance_checks(name: str, ctx: Context, precision: str, channels_last: bool) -> dict[str, Any]:
    """A few steps, ``colorize`` at odd sizes and batch 1, and resume equality of ``name`` on the device.

    Trained as the conformance suite trains (:func:`colorbench.conformance.train_tiny`: its crop, the test config),
    on the device, at batch 4 on 32 synthetic crops."""
    from colorbench.conformance import train_tiny

    steps = ctx.sizes.conf_steps

    def run(out: Path, n: int):
        return train_tiny(name, n, out_dir=out, batch_size=4, images=32, device=ctx.device, precision=precision,
                          channels_last=channels_last)

    root = Path(tempfile.mkdtemp(prefix=f"conf-{name}-", dir=ctx.workdir))
    t0 = time.perf_counter()
    straight = run(root / "straight", steps)
    losses = {k: v for r in straight.history for k, v in r.items() if isinstance(v, float)}
    finite = all(math.isfinite(v) for v in losses.values())
    method = straight.method.eval()
    shapes_ok = True
    for shape in ((1, 37, 53), (2, 37, 53), (1, 32, 32)):
        L = torch.rand(shape[0], 1, *shape[1:], device=ctx.device) * 2 - 1
        ab = method.colorize(L)
        shapes_ok &= tuple(ab.shape) == (shape[0], 2, *shape[1:]) and bool(torch.isfinite(ab).all())
    run(root / "resumed", steps // 2)
    resumed = run(root / "resumed", steps)
    a, b = straight.method.state_dict(), resumed.method.state_dict()
    diff = max((float((a[k].float() - b[k].float()).abs().max()) for k in a if a[k].numel()), default=0.0)
    scale = max((float(a[k].float().abs().max()) for k in a if a[k].numel() and a[k].is_floating_point()),
                default=1.0)
    rel = diff / max(1.0, scale)
    tol = RESUME_TOL_BF16 if precision != "fp32" else RESUME_TOL_CPU if not ctx.cuda else RESUME_TOL_BF16
    ok = finite and shapes_ok and rel <= tol
    return {"steps_finite": finite, "colorize_sizes_ok": shapes_ok, "resume_max_rel_diff": rel, "resume_tol": tol,
            "status": "ok" if ok else "FAILED", "seconds": time.perf_counter() - t0}


def conformance(ctx: Context) -> tuple[list[dict], list[str]]:
    """Every variant built once; every method's default variant through the conformance checks."""
    import colorbench
    from colorbench.config import build_config
    from colorbench.registry import create_method, get_method

    rows: list[dict] = []
    precision, channels_last = ctx.precisions()[-1]
    for name in colorbench.list_methods():
        cls = get_method(name)
        for variant in cls.variants:
            row = {"method": name, "variant": variant, "check": "build", "precision": "", "status": "ok"}
            try:
                try:
                    create_method(name, build_config(cls, cls.test_overrides, variant), variant=variant,
                                  num_classes=10)
                except ValueError:  # the tiny overrides clash with the variant: build it at the paper's size
                    create_method(name, build_config(cls, {}, variant), variant=variant, num_classes=10)
            except Exception as exc:  # noqa: BLE001 - reported in the row
                row["status"] = missing_module(exc) or f"FAILED: {type(exc).__name__}: {exc}"
            rows.append(row)
        row = {"method": name, "variant": "default", "check": "train+colorize+resume",
               "precision": f"{precision}{' + channels_last' if channels_last else ''}"}
        if ctx.left() <= 0:
            rows.append({**row, "status": BUDGET})
            continue
        try:
            row.update(_conformance_checks(name, ctx, precision, channels_last))
        except Exception as exc:  # noqa: BLE001 - reported in the row
            row["status"] = missing_module(exc) or f"FAILED: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        rows.append(row)
    checked = [r for r in rows if r["check"] != "build"]
    notes = [f"{sum(r['status'] == 'ok' for r in checked)} of {len(checked)} methods pass the checks "
             f"({precision}{' + channels_last' if channels_last else ''}); resume tolerance: max |Δw| / max(1, max |w|)"
             f" ≤ {RESUME_TOL_BF16:g} under bf16 on CUDA, ≤ {RESUME_TOL_CPU:g} in fp32 on the CPU",
             f"{sum(r['status'] == 'ok' for r in rows if r['check'] == 'build')} of "
             f"{sum(r['check'] == 'build' for r in rows)} variants build"]
    notes += [f"{r['method']} [{r['variant']}] {r['check']}: {r['status']}" for r in rows if r["status"] != "ok"]
    return rows, notes


# ---------------------------------------------------------------------------------------------------- trainer
def write_sample_pngs(folder: Path, size: int, at_least: int) -> Path:
    """``at_least`` PNG tiles of ``size``² cut from the embedded sample photos (colour tiles only, spread over every
    photo, mirrored copies when there are too few) in ``folder``: a ``folder`` dataset the loader decodes."""
    from PIL import Image

    from colorbench.data.sample import _photos

    folder.mkdir(parents=True, exist_ok=True)
    tiles = []
    for view, _, image in _photos():
        h, w = image.shape[:2]
        step = max(1, size // 2)
        for y in range(0, max(1, h - size + 1), step):
            for x in range(0, max(1, w - size + 1), step):
                tile = image[y:y + size, x:x + size]
                spread = tile.max(axis=2).astype(int) - tile.min(axis=2)  # 0 on grey pixels
                if tile.shape[:2] == (size, size) and float(spread.mean()) > 4:  # the loader skips grey tiles
                    tiles.append((f"{view}_{y}_{x}", tile))
    tiles = tiles[:: max(1, len(tiles) // at_least)]  # spread over every photo
    n = 0
    while n < at_least:
        for key, tile in tiles:
            if n >= at_least:
                break
            Image.fromarray(tile[:, ::-1] if (n // len(tiles)) % 2 else tile).save(folder / f"{n:05d}_{key}.png")
            n += 1
    return folder


class StepClock:
    """A ``train(on_step=...)`` hook timing the steps after step ``first`` up to step ``last`` (1-based counts):
    CUDA events recorded behind each step's work on CUDA (no wait inside the run), ``perf_counter`` on the CPU."""

    def __init__(self, device: torch.device, first: int, last: int) -> None:
        self.device, self.first, self.last = device, first, last
        self.marks: dict[int, Any] = {}

    def __call__(self, done: int, losses: Any) -> None:
        if done in (self.first, self.last):
            if self.device.type == "cuda":
                self.marks[done] = torch.cuda.Event(enable_timing=True)
                self.marks[done].record()
            else:
                self.marks[done] = time.perf_counter()

    def seconds(self) -> float:
        """Seconds from the end of step ``first`` to the end of step ``last``."""
        start, end = self.marks[self.first], self.marks[self.last]
        if self.device.type == "cuda":
            end.synchronize()
            return start.elapsed_time(end) / 1e3
        return end - start


def _timed_train(ctx: Context, dataset: Any, batch: int, size: int, precision: str, channels_last: bool,
                 warmup: int, steps: int, **extra: Any) -> float:
    """Images/s of ``colorbench.train`` over ``steps`` after ``warmup`` steps, timed by :class:`StepClock`."""
    from colorbench.train import resolve, train

    clock = StepClock(ctx.device, warmup, warmup + steps)
    spec = resolve(TRAINER_METHOD, steps=warmup + steps, batch_size=batch, size=size, device=ctx.device,
                   precision=precision, channels_last=channels_last, ckpt_every=None, progress=False, **extra)
    train(spec, dataset, on_step=clock)
    return batch * steps / clock.seconds()


def _bare_loop(ctx: Context, dataset: Any, batch: int, size: int, precision: str, channels_last: bool,
               warmup: int, steps: int) -> float:
    """Images/s of ``train_step`` alone on one batch already on the device (no loader, no logging)."""
    from torch.utils.data import DataLoader

    from colorbench.config import follow_size
    from colorbench.registry import create_method, get_method
    from colorbench.data.transforms import to_device
    from colorbench.train.loop import _autocast

    torch.manual_seed(0)
    method = create_method(TRAINER_METHOD, **follow_size(get_method(TRAINER_METHOD), {}, size)).to(ctx.device)
    if channels_last:
        method.to(memory_format=torch.channels_last)
    method.train()
    items = to_device(next(iter(DataLoader(dataset, batch_size=batch))), ctx.device, channels_last)
    autocast = _autocast(ctx.device, precision)
    for step in range(warmup):
        with autocast():
            method.train_step(items, step)
    sync(ctx.device)
    t0 = time.perf_counter()
    for step in range(warmup, warmup + steps):
        with autocast():
            method.train_step(items, step)
    sync(ctx.device)
    return batch * steps / (time.perf_counter() - t0)


def trainer(ctx: Context) -> tuple[list[dict], list[str]]:
    from colorbench.data import build_dataset

    s = ctx.sizes
    # one epoch covers every step: the trainer builds a DataLoader (and starts its workers) per epoch
    folder = write_sample_pngs(ctx.workdir / "photos", s.trainer_size,
                               s.trainer_batch * (s.trainer_warmup + s.trainer_steps))
    data = build_dataset("folder", "train", size=s.trainer_size, data_dir=folder, ratios=(1.0, 0.0, 0.0))
    rows, notes = [], []
    for precision, cl in ctx.precisions():
        label = f"{precision}{' + channels_last' if cl else ''}"
        if ctx.left() <= 0:
            rows.append({"precision": label, "status": BUDGET})
            continue
        args = (ctx, data, s.trainer_batch, s.trainer_size, precision, cl, s.trainer_warmup, s.trainer_steps)
        real = _timed_train(*args, num_workers=LOADER_WORKERS if ctx.cuda else 0)
        bare = _bare_loop(*args)
        rows.append({"method": TRAINER_METHOD, "size": s.trainer_size, "batch": s.trainer_batch, "precision": label,
                     "trainer_images_per_s": real, "bare_loop_images_per_s": bare, "trainer_share": real / bare,
                     "status": "ok"})
        notes.append(f"{label}: trainer {real:,.1f} img/s, bare loop {bare:,.1f} img/s ({real / bare:.0%})")
    return rows, notes


def graphs(ctx: Context) -> tuple[list[dict], list[str]]:
    """Batch 1, timed with CUDA events: the trainer eager reading its losses every step (its default,
    ``log_every=1``), eager reading them once at the end, and the whole step in one CUDA graph (read at the end)."""
    from colorbench.data import build_dataset
    from colorbench.errors import UserError
    from colorbench.train.graphs import WARMUP_STEPS

    s = ctx.sizes
    warmup = max(WARMUP_STEPS + 2, s.trainer_warmup)  # the eager warm-up and the capture step are not timed
    data = build_dataset("synthetic", "train", size=s.trainer_size, seed=0, length=max(64, s.graph_steps + 16))
    precision, cl = ctx.precisions()[-1]
    args = (ctx, data, 1, s.trainer_size, precision, cl, warmup, s.graph_steps)
    once = {"log_every": warmup + s.graph_steps}  # one read, after the last step
    row: dict[str, Any] = {"method": TRAINER_METHOD, "size": s.trainer_size, "batch": 1, "precision": precision}
    if ctx.left() <= 0:
        return [{**row, "status": BUDGET}], [BUDGET]
    row["eager_images_per_s"] = _timed_train(*args)
    row["eager_read_once_images_per_s"] = _timed_train(*args, **once)
    eager = (f"eager {row['eager_images_per_s']:,.1f} img/s (losses read every step), "
             f"{row['eager_read_once_images_per_s']:,.1f} img/s (read at the end)")
    try:
        row["graph_images_per_s"] = _timed_train(*args, cuda_graphs=True, **once)
        row["status"] = "ok"
        note = f"{eager}, CUDA graph {row['graph_images_per_s']:,.1f} img/s (read at the end)"
    except UserError as exc:
        row["status"] = f"skipped: {exc}"
        note = f"{eager}; CUDA graph {row['status']}"
    return [row], [note]


# ---------------------------------------------------------------------------------------------------- metrics
def _median_ms(fn: Callable[[], Any], device: torch.device, repeats: int) -> float:
    fn()  # warm-up (allocator, kernels)
    times = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _metric_row(ctx: Context, n: int, torchmetrics: Any) -> dict[str, Any]:
    """ms per call on ``n`` random pairs (``torchmetrics``: its ``functional.image`` module, or None)."""
    from colorbench.color import network_to_rgb
    from colorbench.evaluator import Evaluator
    from colorbench.metrics import psnr, ssim

    size, repeats = ctx.sizes.metric_size, ctx.sizes.metric_repeats
    g = torch.Generator(device="cpu").manual_seed(n)
    L = (torch.rand(n, 1, size, size, generator=g) * 2 - 1).to(ctx.device)
    ab = ((torch.rand(n, 2, size, size, generator=g) - 0.5) * 0.6).to(ctx.device)
    pred = (ab + 0.05 * torch.randn(ab.shape, generator=g).to(ctx.device)).clamp(-1, 1)
    batch = {"L": L, "ab": ab, "rgb": network_to_rgb(L, ab), "index": torch.arange(n)}
    pred_rgb, true_rgb = network_to_rgb(L, pred), batch["rgb"]

    def full() -> None:
        ev = Evaluator(keep_records=False)
        ev.update(pred, batch)
        ev.compute()

    row: dict[str, Any] = {"pairs": n, "size": size, "status": "ok",
                           "metric_set_ms": _median_ms(full, ctx.device, repeats),
                           "ssim_psnr_ms": _median_ms(lambda: (ssim(pred_rgb, true_rgb), psnr(pred_rgb, true_rgb)),
                                                      ctx.device, repeats)}
    if torchmetrics is not None:
        row["torchmetrics_ssim_psnr_ms"] = _median_ms(
            lambda: (torchmetrics.structural_similarity_index_measure(pred_rgb, true_rgb, data_range=1.0),
                     torchmetrics.peak_signal_noise_ratio(pred_rgb, true_rgb, data_range=1.0)),
            ctx.device, repeats)
        row["metric_set_speedup"] = row["torchmetrics_ssim_psnr_ms"] / row["metric_set_ms"]
        row["ssim_psnr_speedup"] = row["torchmetrics_ssim_psnr_ms"] / row["ssim_psnr_ms"]
    return row


def metrics(ctx: Context) -> tuple[list[dict], list[str]]:
    """ms per batch: the evaluator's whole metric set (update + compute), its SSIM + PSNR alone, torchmetrics'."""

    s = ctx.sizes
    rows, notes = [], []
    try:
        from torchmetrics.functional import image as torchmetrics
    except ImportError:
        torchmetrics = None
        notes.append("torchmetrics: not installed (no comparison)")
    for n in s.metric_pairs:
        if ctx.left() <= 0:
            rows.append({"pairs": n, "status": BUDGET})
            continue
        row = _metric_row(ctx, n, torchmetrics)
        rows.append(row)
        text = f"{n} pairs of {s.metric_size}²: metric set {row['metric_set_ms']:.2f} ms, SSIM + PSNR " \
               f"{row['ssim_psnr_ms']:.2f} ms"
        if "torchmetrics_ssim_psnr_ms" in row:
            text += f", torchmetrics SSIM + PSNR {row['torchmetrics_ssim_psnr_ms']:.2f} ms (metric set " \
                    f"{row['metric_set_speedup']:.2f}×, SSIM + PSNR {row['ssim_psnr_speedup']:.2f}× as fast)"
        notes.append(text)
    return rows, notes

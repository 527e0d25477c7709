"""``colorbench bench --dry-run``: prove every cell of a profile runs, and say what the full cell would cost here.

For each cell of the expanded grid (:func:`colorbench.bench.grid.expand`) the dry run builds the method from the
cell's exact config, counts its parameters (trainable and frozen), trains two steps through the shared trainer and
colourises one evaluation batch, then projects the full cell on this device:

* **data**: synthetic stand-in images of the cell's shape (random sRGB ``[B,3,S,S]``, its L and ab, random labels
  when the configuration trains on labels), or the first items of the real training split when the dataset is found
  under ``data_dir`` (``DATA_DIR/<dataset>``) or at the profile's ``data_dirs`` path; there the dataset recipes are
  checked too (:mod:`colorbench.bench.datacheck`: split counts against the papers', file lists), and without the
  data the table says which checks it skipped;
* **batch**: the cell's; ``max_batch`` caps it (marked ``cap``); a batch whose projected peak memory exceeds what
  the device has free is not run: the largest batch that fits is (marked ``fit``), and a run that still meets
  out-of-memory halves its batch until it fits;
* **size**: the cell's training crop; ``max_size`` caps it (marked), and the method is then built at the capped
  crop (methods whose depth follows the crop get shallower), while the parameter column still counts the network
  at the cell's own crop;
* **memory**: peak during the two steps. CUDA: ``torch.cuda.max_memory_allocated`` (tensors only). CPU: growth of
  the resident set above its value before the method was built (:mod:`colorbench.profiler`'s sampler); memory the
  allocator kept from an earlier cell is reused without showing, so CPU figures after the first cell are lower
  bounds. The projection is linear in the batch: ``fixed + per_image · B`` with ``fixed`` = 16 bytes per trainable
  parameter (weights, gradients, two Adam moments) + 4 per frozen one;
* **time**: seconds of the second (warm) training step; at the cell's batch and crop when it ran at them,
  otherwise scaled linearly by batch and by pixel count (marked ``*``). The projected wall time is that step time ×
  the cell's steps (``epochs × train images // batch``; the image counts of the papers' splits when the data are
  not here, marked ``≈``) plus the evaluation batches at the measured rate.

Pretrained backbones are never downloaded: the local-first loader leaves a network random when its file is not in
the caches, and the ``pretrained`` column says so. Runtime-only cells build their method and time one ``colorize``
at the smallest runtime size (capped by ``max_size``).
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from colorbench.bench.grid import Cell

TRAIN_STEPS = 2
FIT_MARGIN = 0.9  # a projected peak must stay under this share of the free device memory


@dataclass
class DryRow:
    """One cell's dry run. Times in seconds, memory in MB; ``marks`` explain reduced or extrapolated figures."""

    label: str
    kind: str
    method: str = ""
    variant: str = ""
    dataset: str | None = None
    status: str = "ok"
    error: str = ""
    trainable: int = 0
    frozen: int = 0
    batch: int = 0  # batch the steps ran at
    paper_batch: int = 0
    size: int = 0  # training crop the steps ran at
    paper_size: int = 0
    data: str = "stand-in"
    step_s: float | None = None
    eval_s: float | None = None  # one colorize of eval_batch images
    eval_batch: int = 0
    peak_mb: float | None = None
    projected_peak_mb: float | None = None  # at the paper batch
    fits: bool | None = None
    largest_batch: int | None = None  # projected largest batch that fits, when the paper batch does not
    projected_step_s: float | None = None
    total_steps: int | None = None
    wall_s: float | None = None
    pretrained: str = ""
    marks: list[str] = field(default_factory=list)


def _free_memory_mb(device: torch.device) -> float | None:
    from colorbench import profiler

    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free / 2**20
    return profiler._available_memory_mb() if device.type == "cpu" else None


def _stand_in(batch: int, size: int, num_classes: int | None, seed: int) -> dict[str, torch.Tensor]:
    """A batch of the cell's shape: random sRGB ``[B,3,S,S]`` and its L/50-1, ab/110 (and labels)."""
    from colorbench.color import rgb_to_network

    g = torch.Generator().manual_seed(seed)
    rgb = torch.rand(batch, 3, size, size, generator=g)
    L, ab = rgb_to_network(rgb)
    out = {"L": L, "ab": ab, "rgb": rgb, "index": torch.arange(batch)}
    if num_classes:
        out["label"] = torch.randint(0, num_classes, (batch,), generator=g)
    return out


class _Batches(torch.utils.data.Dataset):
    """A dataset of ``n`` items that hands the trainer whole batches (``get_batch``), from a stand-in or real set."""

    def __init__(self, n: int, size: int, num_classes: int | None, real: Any = None) -> None:
        self.n, self.size, self.num_classes, self.real = n, size, num_classes, real

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self.get_batch([i]).items()}

    def get_batch(self, indices: list[int]) -> dict[str, torch.Tensor]:
        if self.real is not None:
            items = [self.real[i % len(self.real)] for i in indices]
            return torch.utils.data.default_collate(items)
        return _stand_in(len(indices), self.size, self.num_classes, seed=int(indices[0]))


def _real_dataset(cell: Cell, split: str, size: int, data_dir: Path | None) -> Any:
    """The cell's dataset at ``size`` when its files are here (``data_dir/<dataset>`` or the profile's path)."""
    from colorbench.bench.datacheck import data_folder
    from colorbench.data import build_dataset

    opts = dict(cell.settings["data"].get("options") or {})
    where, _ = data_folder(cell, data_dir)
    if where is not None:
        return build_dataset(cell.dataset, split, size=size, seed=cell.seed, data_dir=where, **opts)
    if cell.dataset in ("sample", "synthetic"):  # built in: no files to find
        return build_dataset(cell.dataset, split, size=size, seed=cell.seed, **opts)
    return None


def _counts(method: torch.nn.Module) -> tuple[int, int]:
    trainable = sum(p.numel() for p in method.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in method.parameters()) - trainable


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _measure(cell: Cell, batch: int, size: int, device: torch.device, real: Any, test_real: Any,
             eval_batch: int) -> dict[str, Any]:
    """Build the method at ``size``, train ``TRAIN_STEPS`` steps at ``batch``, colourise one eval batch."""
    from colorbench import profiler
    from colorbench.train import resolve, train

    spec = cell.spec()  # the cell's run, resolved again at the measured crop and batch (depth follows the crop)
    small = resolve(spec.method, None, variant=cell.variant, size=size, batch_size=batch, seed=cell.seed,
                    overrides={k: v for k, v in spec.overrides.items() if k not in ("image_size", "batch_size")})
    needs = spec.method.labels_needed(small.config)
    num_classes = getattr(real, "num_classes", None) if real is not None else (10 if needs else None)
    sampler = profiler._RssSampler() if device.type == "cpu" else None
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    torch.manual_seed(cell.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no local weights: random init" is reported in the row instead
        method = small.build(num_classes=num_classes)
    rss_before = profiler._rss_bytes() if sampler is not None else None  # after the build: imports do not count
    if sampler is not None:
        sampler.__enter__()
    try:
        data = _Batches(batch * TRAIN_STEPS, size, num_classes, real)
        times: list[float] = []
        tick = [time.perf_counter()]

        def on_step(done: int, losses: dict[str, float]) -> None:
            _sync(device)
            now = time.perf_counter()
            times.append(now - tick[0])
            tick[0] = now

        _sync(device)
        tick[0] = time.perf_counter()
        result = train(method, data, steps=TRAIN_STEPS, batch_size=batch, size=size, seed=cell.seed, device=device,
                       progress=False, on_step=on_step)
        method = result.method
        test_size = min(int(cell.settings["protocol"]["size"]), size)
        L = (torch.utils.data.default_collate([test_real[i % len(test_real)] for i in range(eval_batch)])["L"]
             if test_real is not None else _stand_in(eval_batch, test_size, None, 1)["L"]).to(device)
        _sync(device)
        t0 = time.perf_counter()
        ab = method.colorize(L)
        _sync(device)
        eval_s = time.perf_counter() - t0
        if ab.shape != (L.shape[0], 2, *L.shape[-2:]) or not torch.isfinite(ab).all():
            raise RuntimeError(f"colorize gave {tuple(ab.shape)} (finite: {bool(torch.isfinite(ab).all())}) for "
                               f"{tuple(L.shape)}")
    finally:
        if sampler is not None:
            sampler.__exit__(None, None, None)
    if device.type == "cuda":
        peak = (torch.cuda.max_memory_allocated(device) - base) / 2**20
    elif sampler is not None and rss_before:  # the weights (4 bytes a parameter) + the growth while training
        peak = (4 * sum(p.numel() for p in method.parameters()) + max(0, sampler.peak - rss_before)) / 2**20
    else:
        peak = float("nan")
    flags = method.pretrained_flags()
    return {"step_s": times[-1], "eval_s": eval_s, "peak_mb": peak, "counts": _counts(method),
            "pretrained": ", ".join(f"{k}={'yes' if v else 'random'}" for k, v in flags.items()),
            "method": method}


def _split_sizes(cell: Cell, real: Any, test_real: Any) -> tuple[int, int, bool]:
    """(train, test) image counts: the real split's when here, else the paper's (``approx=True``)."""
    if real is not None:
        return len(real), len(test_real) if test_real is not None else 0, False
    from colorbench.data import dataset_info

    paper = dataset_info(str(cell.dataset)).paper_splits or {}  # declared beside the dataset's recipe
    return int(paper.get("train", 0)), int(paper.get("test", 0)), True


def dry_run_cell(cell: Cell, device: torch.device, *, max_batch: int | None = None, max_size: int | None = None,
                 data_dir: Path | None = None) -> DryRow:
    """Dry-run one cell (see the module docstring); a failure is returned as ``status="failed"``, not raised."""
    row = DryRow(label=cell.label, kind=cell.kind, method=cell.method, variant=cell.variant, dataset=cell.dataset)
    try:
        if cell.kind == "runtime":
            return _runtime_cell(cell, device, row, max_size)
        return _train_cell(cell, device, row, max_batch, max_size, data_dir)
    except Exception as exc:  # one failing cell must not hide the others
        row.status, row.error = "failed", f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        return row


def _train_cell(cell: Cell, device: torch.device, row: DryRow, max_batch: int | None, max_size: int | None,
                data_dir: Path | None) -> DryRow:
    from colorbench import profiler

    s = cell.settings
    row.paper_batch, row.paper_size = int(s["train"]["batch_size"]), int(s["data"]["size"])
    size = min(row.paper_size, max_size) if max_size else row.paper_size
    if size < row.paper_size:
        row.marks.append(f"crop {row.paper_size}→{size} (--max-size)")
    batch = min(row.paper_batch, max_batch) if max_batch else row.paper_batch
    if batch < row.paper_batch:
        row.marks.append(f"batch {row.paper_batch}→{batch} (--max-batch)")
    real = _real_dataset(cell, "train", size, data_dir)
    test_real = _real_dataset(cell, str(s["protocol"]["split"]), size, data_dir) if real is not None else None
    row.data = "real" if real is not None else "stand-in"
    eval_paper = int(s["eval"].get("batch_size", 8))
    eval_batch = min(eval_paper, max_batch) if max_batch else eval_paper
    free = _free_memory_mb(device)
    if device.type == "cpu" and free is not None and batch > 2:  # foresee the OOM killer with a batch-1 probe
        probe = _measure(cell, 1, size, device, real, test_real, 1)
        fixed = _fixed_mb(*probe["counts"])
        per_image = max(probe["peak_mb"] - fixed, 1e-3)
        fitting = max(1, int((free * FIT_MARGIN - fixed) // per_image))
        if fitting < batch:
            row.marks.append(f"batch {batch}→{fitting} (projected memory)")
            batch = fitting
        del probe
    while True:
        try:
            m = _measure(cell, batch, size, device, real, test_real, eval_batch)
            break
        except Exception as exc:  # noqa: BLE001 - out of memory halves the batch, anything else is a failure
            if not profiler._is_oom(exc) or batch == 1:
                raise
            if device.type == "cuda":
                torch.cuda.empty_cache()
            row.marks.append(f"batch {batch}→{batch // 2} (out of memory)")
            batch //= 2
    row.batch, row.size, row.eval_batch = batch, size, eval_batch
    row.step_s, row.eval_s, row.peak_mb, row.pretrained = m["step_s"], m["eval_s"], m["peak_mb"], m["pretrained"]
    row.trainable, row.frozen = m["counts"]
    if size < row.paper_size:  # the parameter column counts the cell's own network
        row.trainable, row.frozen = _paper_counts(cell, getattr(m["method"], "num_classes", None))
    del m
    _project(row, cell, real, eval_paper, free)
    return row


def _paper_counts(cell: Cell, num_classes: int | None) -> tuple[int, int]:
    """(trainable, frozen) parameters of the cell's network at its own crop, built on the meta device when the
    method allows it (no memory, no initialisation), else on the CPU."""
    spec = cell.spec()
    cls, config = spec.method, spec.config
    num_classes = num_classes or (10 if cls.labels_needed(config) else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with torch.device("meta"):
                return _counts(cls(config, num_classes=num_classes))
        except Exception:  # noqa: BLE001 - e.g. a constructor that reads a tensor's value
            return _counts(cls(config, num_classes=num_classes))


def _fixed_mb(trainable: int, frozen: int) -> float:
    return (16 * trainable + 4 * frozen) / 2**20


def _project(row: DryRow, cell: Cell, real: Any, eval_paper: int, free: float | None) -> None:
    """Fill the projected memory, fit, step time and wall time of the full cell (see the module docstring)."""
    fixed = _fixed_mb(row.trainable, row.frozen)
    area = (row.paper_size / row.size) ** 2
    if row.peak_mb is not None and math.isfinite(row.peak_mb):
        per_image = max(row.peak_mb - fixed, 0.0) / row.batch * area
        row.projected_peak_mb = fixed + per_image * row.paper_batch
        if free is not None:
            row.fits = row.projected_peak_mb <= free * FIT_MARGIN
            if not row.fits and per_image > 0:
                row.largest_batch = max(0, int((free * FIT_MARGIN - fixed) // per_image))
    scale = (row.paper_batch / row.batch) * area
    row.projected_step_s = row.step_s * scale
    if scale != 1:
        row.marks.append("* step time scaled to the cell's batch and crop")
    train_n, test_n, approx = _split_sizes(cell, real, None)
    tr = cell.settings["train"]
    if tr.get("epochs"):
        row.total_steps = int(tr["epochs"]) * (train_n // row.paper_batch) if train_n else None
    else:
        row.total_steps = int(tr.get("steps") or 0)
    if approx and tr.get("epochs"):
        row.marks.append("≈ steps from the paper's split size (data not here)")
    if row.total_steps is not None and row.projected_step_s is not None:
        eval_batches = math.ceil(test_n / eval_paper) if test_n else 0
        eval_s = (row.eval_s or 0.0) * eval_paper / max(1, row.eval_batch) * area  # one batch at the cell's size
        row.wall_s = row.total_steps * row.projected_step_s + eval_batches * eval_s


def _runtime_cell(cell: Cell, device: torch.device, row: DryRow, max_size: int | None) -> DryRow:
    from colorbench.bench.cell import parse_size, timing_method

    sizes = sorted((parse_size(x) for x in cell.settings["runtime"].get("sizes") or ["256x256"]),
                   key=lambda hw: hw[0] * hw[1])
    h, w = sizes[0]
    row.paper_size = max(h, w)
    if max_size and max(h, w) > max_size:
        row.marks.append(f"colorize {w}x{h}→{min(w, max_size)}x{min(h, max_size)} (--max-size)")
        h, w = min(h, max_size), min(w, max_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        method = timing_method(cell).to(device).eval()
    row.trainable, row.frozen = _counts(method)
    row.size = max(h, w)
    flags = method.pretrained_flags()
    row.pretrained = ", ".join(f"{k}={'yes' if v else 'random'}" for k, v in flags.items())
    L = torch.zeros(1, 1, h, w, device=device)
    _sync(device)
    t0 = time.perf_counter()
    ab = method.colorize(L)
    _sync(device)
    row.eval_s = time.perf_counter() - t0
    if ab.shape != (1, 2, h, w):
        raise RuntimeError(f"colorize gave {tuple(ab.shape)} for {tuple(L.shape)}")
    row.marks.append(f"runtime only: one colorize at {w}x{h}")
    return row


def dry_run(cells: list[Cell], device: torch.device, *, max_batch: int | None = None, max_size: int | None = None,
            data_dir: Path | None = None, echo: Any = None) -> list[DryRow]:
    """Dry-run ``cells`` in order; ``echo(row)`` is called after each (e.g. to print progress).

    The first training cell is run once untimed at batch 1 and a 16 px crop first, so the first measured cell
    does not carry the process's one-off allocations (lazy imports, the allocator's first arenas)."""
    first = next((c for c in cells if c.kind == "train"), None)
    if first is not None:
        dry_run_cell(first, device, max_batch=1, max_size=16)
    rows = []
    for cell in cells:
        row = dry_run_cell(cell, device, max_batch=max_batch, max_size=max_size, data_dir=data_dir)
        rows.append(row)
        if echo is not None:
            echo(row)
    return rows


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    h = seconds / 3600
    return f"{h:,.1f} h" if h >= 1 else f"{seconds / 60:,.1f} min"


def _num(x: float | None, fmt: str) -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def format_table(rows: list[DryRow], device: torch.device) -> str:
    """Markdown: one line per cell, then the notes that explain every reduced or extrapolated figure."""
    head = ("| cell | trainable | frozen | batch run/cell | crop run/cell | data | s/step | peak MB | "
            "peak MB at cell batch | fits | s/step at cell | steps | projected wall | pretrained |")
    cols = head.count("|") - 1
    lines = [f"Dry run on {device} (memory: {'CUDA max allocated' if device.type == 'cuda' else 'CPU RSS growth'})",
             "", head, "|" + "---|" * cols]
    notes: list[str] = []
    for r in rows:
        if r.status != "ok":
            lines.append(f"| {r.label} | failed: {r.error} |" + " |" * (cols - 2))
            continue
        fits = "–" if r.fits is None else ("yes" if r.fits else f"no (≤ {r.largest_batch})")
        star = "*" if any(m.startswith("*") for m in r.marks) else ""
        approx = "≈" if any(m.startswith("≈") for m in r.marks) else ""
        steps = "–" if r.total_steps is None else f"{approx}{r.total_steps:,}"
        batch = f"{r.batch}/{r.paper_batch}" if r.kind == "train" else "1/1"
        lines.append(
            f"| {r.label} | {r.trainable:,} | {r.frozen:,} | {batch} | {r.size}/{r.paper_size} | "
            f"{r.data} | {_num(r.step_s if r.kind == 'train' else r.eval_s, '.3f')} | {_num(r.peak_mb, ',.0f')} | "
            f"{_num(r.projected_peak_mb, ',.0f')} | {fits} | {_num(r.projected_step_s, '.3f')}{star} | {steps} | "
            f"{approx}{_hours(r.wall_s)}{star} | {r.pretrained or '–'} |")
        notes += [f"- {r.label}: {m}" for m in r.marks if not m.startswith(("*", "≈"))]
    if any("*" in ln for ln in lines[4:]):
        notes.append("- *: the step time is scaled linearly from the batch and crop it ran at to the cell's")
    if any("≈" in ln for ln in lines[4:]):
        notes.append("- ≈: the dataset is not on this machine; steps use the image count of the paper's split")
    failed = sum(r.status != "ok" for r in rows)
    lines += ["", f"cells: {len(rows)}, {len(rows) - failed} ran, {failed} failed"]
    return "\n".join(lines + ([""] + notes if notes else []))


def dry_run_profile(profile: str, *, methods: list[str] | None = None, datasets: list[str] | None = None,
                    seeds: int | None = None, sets: list[str] | None = None, device: str = "auto",
                    max_batch: int | None = None, max_size: int | None = None, data_dir: Path | None = None,
                    echo: Any = None, baselines: bool = True,
                    recipe_checks: list | None = None) -> tuple[list[DryRow], torch.device]:
    """Expand ``profile`` as ``colorbench bench`` would (same filters and ``--set`` items) and dry-run its cells.
    ``recipe_checks``, when a list, receives the dataset-recipe checks (:mod:`colorbench.bench.datacheck`: split
    counts and file lists where the data are here, the checks skipped where not)."""
    from colorbench.bench import grid
    from colorbench.bench.cell import resolve_device
    from colorbench.bench.profiles import apply_profile_sets, load_profile
    from colorbench.errors import UserError

    for name, value in (("--max-batch", max_batch), ("--max-size", max_size)):
        if value is not None and int(value) < 1:
            raise UserError(f"{name} must be a positive integer, got {value}")
    prof, global_cfg, per_method_cfg = apply_profile_sets(load_profile(profile), sets or [])
    dev = resolve_device(device)
    cells = grid.expand(prof, methods=methods, datasets=datasets, seeds=seeds, global_cfg=global_cfg,
                        per_method_cfg=per_method_cfg, device=str(dev), baselines=baselines)
    if not cells:
        raise UserError(f"profile {prof.name}: the grid is empty; check the names with `colorbench list`")
    if recipe_checks is not None:
        from colorbench.bench.datacheck import check_datasets

        recipe_checks.extend(check_datasets(cells, data_dir))
    return dry_run(cells, dev, max_batch=max_batch, max_size=max_size, data_dir=data_dir, echo=echo), dev


def write_dry_run(results: Path, profile: str, rows: list[DryRow], device: torch.device, table: str) -> list[Path]:
    """``results/<profile>/dryrun.md`` (this run's table) and ``dryrun.csv`` (a row per cell, with its device and
    time; rows of cells this run left out are kept), then the
    reproduction tables of the sources whose data the profile uses (:mod:`colorbench.report.reproduction`), which
    quote each cell's projected wall time until the cell has run. Returns the paths written."""
    from colorbench import _atomic as atomic
    from colorbench.bench.profiles import load_profile
    from colorbench.report.reproduction import dry_rows_frame, write_reproduction

    import csv
    import datetime

    prof = load_profile(profile)
    folder = Path(results) / prof.name
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    new = [{**r, "when": when} for r in dry_rows_frame(rows, str(device))]
    ran = {r["label"] for r in new}
    old = []  # a filtered or capped dry run keeps the other cells' rows (each row says when it ran)
    if (folder / "dryrun.csv").is_file():
        with open(folder / "dryrun.csv", newline="", encoding="utf-8") as f:
            old = [r for r in csv.DictReader(f) if r.get("label") not in ran]
    written = [atomic.write_text(folder / "dryrun.md", table + "\n"),
               atomic.write_csv(folder / "dryrun.csv", old + new)]
    variants: dict[str, list[str]] = {}
    for r in rows:
        if r.kind == "train" and r.variant not in variants.setdefault(r.method, []):
            variants[r.method].append(r.variant)
    datasets = sorted({r.dataset for r in rows if r.dataset})
    return written + write_reproduction(folder, prof.name, datasets, variants)

"""``colorbench bench``: expand the profile's grid, run the cells that are not done, write the results.

Cells are cached under ``<cache>/<key>/`` (default ``runs/bench/``); a rerun reuses every finished cell, a killed
run picks up where it stopped (the trainer resumes the interrupted cell from its last checkpoint), ``force`` redoes
the selected cells. ``shard="i/N"`` runs every N-th cell and copies the finished cell records into
``results/<profile>/shards/i-of-N/``; :func:`merge` joins the shards' records into the same tables.
"""
from __future__ import annotations

import shutil
import signal
import sys
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from colorbench import _atomic as atomic
from colorbench import numeric
from colorbench.bench import cluster, grid
from colorbench.bench.cell import run_cell
from colorbench.bench.progress import cell_bar
from colorbench.bench.cluster import JobOptions
from colorbench.bench.outputs import load_record, write_outputs
from colorbench.bench.profiles import apply_profile_sets, check_bench_sets, check_profile, load_profile
from colorbench.errors import UserError
from colorbench.registry import UnknownNameError

RECORD_FILES = ("row.json", "per_image.csv", "hist.npz", "samples.npz", "loss.csv")


@dataclass
class Summary:
    """What a bench run did: cell counts (the resume test asserts ``computed == 0`` on a rerun) and paths."""

    profile: str
    total: int = 0
    computed: int = 0
    cached: int = 0
    failed: list[str] = field(default_factory=list)
    submitted: int = 0  # scheduler jobs submitted by this call (--launcher local/submitit)
    running: list[str] = field(default_factory=list)  # cells whose job is still queued or running
    missing: list[str] = field(default_factory=list)  # cells with no row yet (their job died, or has not run)
    skipped: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def line(self) -> str:
        jobs = f", {self.submitted} submitted" if self.submitted else ""
        waiting = f", {len(self.running)} still queued or running" if self.running else ""
        missing = f", {len(self.missing)} missing" if self.missing else ""
        return (f"cells: {self.total} total, {self.computed} computed, {self.cached} cached{jobs}{waiting}, "
                f"{len(self.failed)} failed{missing}")


def run_bench(profile: str = "quick", *, methods: list[str] | None = None, datasets: list[str] | None = None,
              seeds: int | None = None, sets: list[str] | None = None, data: list[str] | None = None,
              force: bool = False, device: str = "auto",
              shard: str | None = None, results: Path = Path("results"), cache: Path = Path("runs/bench"),
              progress: bool = True, jobs: int | None = None, baselines: bool = True,
              launcher: str = "inprocess", job_opts: JobOptions | None = None, wait: bool = False,
              numeric_mode_name: str | None = None) -> Summary:
    """Run (or resume) the grid of ``profile`` and write ``results/<profile>/``; returns a :class:`Summary`.

    ``jobs`` (default: the profile's ``jobs``, else 1): train cells run that many at once, each in its own process
    on one torch thread (on a CPU; a GPU runs one at a time); a worker whose bench process is killed stops its cell
    after the current step with a checkpoint. Released models' cells (``kind = "pretrained"``) are then scored in
    this process, and runtime cells run one by one, so nothing else competes with the timed calls.
    ``baselines=False`` drops the profile's baselines. ``data``: ``--data KEY=VALUE`` options for every dataset
    (:mod:`colorbench.data.options`), over the profile's ``[data] options``.

    ``numeric_mode_name`` (:mod:`colorbench.numeric`; default ``portable`` on a CPU, ``native`` on a GPU): the mode
    the train cells run in. This process is put under it first (before the grid computes any training-set
    config), train cells in spawned processes start under it, released models are scored under it (their figures
    travel as the trained rows' do), and runtime cells time the native kernels in a process of their own. On a CPU
    where the portable mode cannot hold (no AVX2, or no C compiler for MKL's vendor shim on a CPU not made by Intel)
    the run falls back to ``native`` with a warning; in a process where a tensor op already ran it refuses
    (:class:`TooLate`).

    ``launcher="submitit"`` (SLURM) or ``"local"`` (processes on this machine) submits one job per cell not yet
    in the cache instead (:mod:`colorbench.bench.cluster`, resources in ``job_opts``); with ``wait`` it blocks
    until the jobs end and writes the tables, else :func:`collect` writes them later.
    """
    prof = load_profile(profile)
    prof, global_cfg, per_method_cfg = apply_profile_sets(prof, sets or [])
    check_profile(prof), check_bench_sets(global_cfg, per_method_cfg, seeds)  # every value before any cell runs
    job_opts = job_opts or JobOptions()
    if launcher != "inprocess":
        cluster.require_submitit(launcher)
    dev = cluster.device_for(device, launcher, job_opts)
    saved_env = numeric.pinned_environ()
    mode = numeric_mode(numeric_mode_name, dev)
    jobs = int(prof.jobs or 1) if jobs is None else jobs
    if jobs < 1:  # 0 is refused, not read as "the profile's"
        raise UserError(f"--jobs {jobs}: give a positive number of cells to run at once, e.g. --jobs 2")
    if dev.type != "cpu" or launcher != "inprocess":
        jobs = 1
    threads = job_opts.cpus_per_cell if launcher != "inprocess" else (1 if jobs > 1 else None)
    summary = Summary(prof.name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cells = grid.expand(prof, methods=methods, datasets=datasets, seeds=seeds, global_cfg=global_cfg,
                                per_method_cfg=per_method_cfg, device=str(dev), threads=threads,
                                baselines=baselines, numeric=mode, data=data)
        except UnknownNameError:
            _raise_recorded_origin(methods or [], cache)
            raise
    for w in caught:
        msg = str(w.message)
        if msg.startswith("bench:"):
            summary.skipped.append(msg)
            print(f"warning: {msg}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    cells = grid.shard(cells, shard)
    if not cells:
        raise UserError(f"profile {prof.name}: the grid is empty (methods {methods or prof.methods}, "
                        f"datasets {datasets or prof.datasets}); check the names with `colorbench list`")
    summary.total = len(cells)
    if launcher != "inprocess":
        return _submit(prof, cells, summary, cache=cache, results=results, device=dev, launcher=launcher,
                       opts=job_opts, force=force, wait=wait, progress=progress, shard=shard)
    bar = cell_bar(len(cells), progress)

    def record(cell: grid.Cell, row: dict[str, Any], computed: bool) -> None:
        summary.computed += computed
        summary.cached += not computed
        if row.get("status") == "skipped":  # a released model whose weights are not on disk
            summary.skipped.append(f"{cell.label}: {row.get('error')}")
            print(f"skipped: {cell.label}: {row.get('error')}", file=sys.stderr)
        elif row.get("status") != "ok":
            summary.failed.append(f"{cell.label}: {row.get('error')}")
        row["_folder"] = str(cache / cell.key)
        rows[cell.key] = row
        bar.set_description(cell.label[:48] + ("" if computed else " (cached)"))
        bar.update(1)

    rows: dict[str, dict[str, Any]] = {}
    run_train_cells([c for c in cells if c.kind == "train"], cache, dev, force=force, jobs=jobs, progress=progress,
                    record=record, numeric=mode)
    for cell in (c for c in cells if c.kind == "pretrained"):  # figures: in this process, under the run's mode
        record(cell, *run_cell(cell, cache, dev, force=force, progress=progress))
    timed = [c for c in cells if c.kind == "runtime"]
    if mode == "native":
        for cell in timed:
            record(cell, *run_cell(cell, cache, dev, force=force, progress=progress))
    elif timed:  # timings measure the native kernels, in a process of their own (this one is pinned)
        _run_native(timed, cache, dev, force, saved_env, record)
    bar.close()
    summary.rows = [rows[c.key] for c in cells]
    _write(summary, results, shard, device=str(dev))
    return summary


def _write(summary: Summary, results: Path, shard: str | None, device: str = "") -> None:
    """The finished rows of ``summary`` into the tables (or, for a shard, into its shard folder)."""
    if shard:
        i, n = shard.split("/")
        dest = results / summary.profile / "shards" / f"{i}-of-{n}"
        for row in summary.rows:
            if row.get("status") == "ok":
                _copy_record(Path(row["_folder"]), dest / row["key"])
        summary.written.append(dest)
    elif summary.rows:
        summary.written += write_outputs(results, summary.profile, summary.rows, device=device,
                                         readme=results.parent / "README.md")


def _submit(prof: Any, cells: list[grid.Cell], summary: Summary, *, cache: Path, results: Path, device: Any,
            launcher: str, opts: JobOptions, force: bool, wait: bool, progress: bool, shard: str | None) -> Summary:
    """The scheduler path of :func:`run_bench`: submit the cells that are not done, optionally wait, collect."""
    from colorbench.bench.cell import done

    placed = cluster.place(cells, prof, opts)
    cells = [c for c, _ in placed]
    if force:
        for c in cells:
            shutil.rmtree(cache / c.key, ignore_errors=True)
    todo = [(c, n) for c, n in placed if done(c, cache) is None]
    summary.cached = len(placed) - len(todo)
    jobs, summary.running = cluster.submit(todo, profile=prof.name, cache=cache, device_kind=device.type,
                                           launcher=launcher, opts=opts)
    summary.submitted = len(jobs)
    summary.written.append(cluster.record_grid(cache, prof.name, cells, jobs, launcher, str(device)))
    if jobs:
        ids = sorted({str(j.job_id).split("_")[0] for _, j in jobs})
        print(f"submitted {len(jobs)} job(s) ({launcher}: {', '.join(ids)}); logs under {cache / cluster.JOBS_DIR}/",
              file=sys.stderr)
    if not wait and (jobs or summary.running):
        return summary  # `--collect` writes the tables once the jobs have ended
    cluster.wait(jobs, progress)
    return _gather(summary, cells, cache, results, shard, computed={c.key for c, _ in jobs}, device=str(device))


def _gather(summary: Summary, cells: list[grid.Cell], cache: Path, results: Path, shard: str | None,
            computed: set[str], device: str = "") -> Summary:
    """Read every cell's record from the cache into ``summary`` (missing ones named with why) and write them."""
    entries = cluster.read_grid(cache, summary.profile)["cells"]
    summary.rows, summary.missing, summary.computed = [], [], 0
    for c in cells:
        row = load_record(cache / c.key)
        if row is None:
            if c.label not in summary.running:
                summary.missing.append(f"{c.label}: {cluster.job_failure(c, cache, entries.get(c.key, {}))}")
            continue
        summary.computed += c.key in computed
        summary.rows.append(row)
    summary.cached = len(summary.rows) - summary.computed
    summary.failed = list(summary.missing)
    _write(summary, results, shard, device)
    return summary


def collect(profile: str = "quick", *, results: Path = Path("results"), cache: Path = Path("runs/bench"),
            shard: str | None = None) -> Summary:
    """Write the tables of the grid last submitted for ``profile`` (``<cache>/_grids/<profile>.json``) from the
    cells in the cache: the ``--merge`` step for scheduler runs. Cells without a row are listed as missing."""
    prof = load_profile(profile)
    entries = cluster.read_grid(cache, prof.name)["cells"]
    if not entries:
        raise UserError(f"--collect: nothing submitted for profile {prof.name} under {cache}; run `colorbench bench "
                        f"--profile {prof.name} --launcher submitit ...` first (with the same --cache)")
    cells = [grid.Cell(e.get("kind", "train"), "", "", None, 0, {}, key) for key, e in entries.items()]
    labelled = [_Labelled(c, entries[c.key]["label"]) for c in cells]
    summary = Summary(prof.name, total=len(cells))
    summary.running = [lab.label for lab in labelled
                       if load_record(cache / lab.key) is None and cluster.is_alive(entries[lab.key], cache)]
    result = _gather(summary, labelled, cache, results, shard, computed=set())
    if not result.rows:
        raise UserError(f"--collect: no cell of profile {prof.name} has finished yet under {cache} "
                        f"({len(result.running)} still queued or running)")
    return result


@dataclass(frozen=True)
class _Labelled:
    """A cell known by its key and label only (what the grid file records)."""

    cell: grid.Cell
    label: str

    @property
    def key(self) -> str:
        return self.cell.key


def _raise_recorded_origin(names: list[str], cache: Path) -> None:
    """If a cached cell was trained with one of ``names`` (not registered here), raise naming where that method
    came from (its ``run.json``'s origin) and what loads it. Reads JSON only: nothing it names is imported."""
    import json

    from colorbench.registry import how_to_load, list_methods

    missing = [n for n in names if n not in list_methods()]
    for run_json in sorted(Path(cache).glob("*/train/run.json")) if missing else []:
        try:
            record = json.loads(run_json.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("method") in missing:
            raise UnknownNameError(f"method {record['method']!r} is not registered here, but the cached cell "
                                   f"{run_json.parent.parent} was trained with it; {how_to_load(record.get('origin'))}")


def numeric_mode(requested: str | None, dev: Any) -> str:
    """The numeric mode of a run's train cells, put in force in this process (see :func:`run_bench`)."""
    mode = requested or (numeric.DEFAULT if dev.type == "cpu" else "native")
    if mode not in numeric.MODES:
        raise UserError(f"--numeric {mode!r}: use one of {', '.join(numeric.MODES)}")
    if mode == "native":
        return mode
    try:
        numeric.apply(mode)
    except numeric.UnsupportedCPU as exc:
        numeric.relax()
        print(f"warning: {exc}. Running the native mode instead: rows say numeric_mode=native, and `colorbench "
              "bench --verify` compares them with the committed ones within the seed spread", file=sys.stderr)
        return "native"
    return mode


def run_train_cells(cells: list[grid.Cell], cache: Path, dev: Any, *, force: bool, jobs: int, progress: bool,
                    record: Callable[[grid.Cell, dict[str, Any], bool], None], numeric: str = "native") -> None:
    """Run the train ``cells`` (``jobs`` at once in spawned processes on a CPU, each under ``numeric``, else here,
    one by one, in this process's mode), calling ``record(cell, row, computed)`` as each finishes."""
    if jobs > 1 and len(cells) > 1:
        _run_parallel(cells, cache, dev, force, jobs, record, numeric)
    else:
        for cell in cells:
            record(cell, *run_cell(cell, cache, dev, force=force, progress=progress))


def _worker_init(mode: str = "native") -> None:
    import torch

    if mode != "native":
        numeric.apply(mode)  # the variables came with the environment; the flags are this process's
    torch.set_num_threads(1)  # the thread count every key of a parallel run records
    _stop_when_orphaned()


_ORPHANED = threading.Event()  # in a worker: the bench process is gone
_IDLE = threading.Lock()  # in a worker: held while a cell runs


def _stop_when_orphaned(every_s: float = 0.5) -> None:
    """Once the bench process is gone (a SIGTERM to it alone: ``kill``, ``timeout``, a container's stop), stop this
    worker's cell after its current step with a checkpoint, start no other, and exit, instead of training on unseen
    (or, idle, waiting forever on a queue its siblings keep open). A daemon thread polls the parent's pid: no
    signal, so a worker the same signal also reached does not take it for a second one and lose the step."""
    import os
    import time

    from colorbench.train.loop import request_stop

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        _ORPHANED.set()
        request_stop(signal.SIGTERM)
        with _IDLE:  # the cell in flight has checkpointed and stopped
            os._exit(128 + signal.SIGTERM)

    threading.Thread(target=watch, name="colorbench-orphan-watch", daemon=True).start()


def _native_init(saved: dict[str, str | None], threads: int) -> None:
    import torch

    numeric.unpin(saved)  # before this process's first tensor op: ATen and MKL choose their own kernels
    torch.set_num_threads(threads)


def _run_native(cells: list[grid.Cell], cache: Path, dev: Any, force: bool, saved: dict[str, str | None],
                record: Any) -> None:
    """Time the runtime ``cells`` one by one in one spawned process with the native kernels (nothing else runs)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    todo = _not_done(cells, cache, force, record)
    if not todo:
        return
    threads = int(todo[0].settings["environment"]["threads"])
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_native_init, initargs=(saved, threads)) as pool:
        for cell in todo:
            record(cell, *pool.submit(_worker_run, cell, cache, str(dev), force).result())


def _not_done(cells: list[grid.Cell], cache: Path, force: bool, record: Any) -> list[grid.Cell]:
    """The cells still to run; a cached one is recorded here (read in this process, not sent out)."""
    from colorbench.bench.cell import done

    todo = []
    for cell in cells:
        row = None if force else done(cell, cache)
        if row is not None:
            record(cell, row, False)
        else:
            todo.append(cell)
    return todo


def _worker_run(cell: grid.Cell, cache: Path, device: str, force: bool) -> tuple[dict[str, Any], bool]:
    import torch

    with _IDLE:
        if _ORPHANED.is_set():  # a cell queued before the bench process died: leave it for the next run
            raise KeyboardInterrupt(signal.SIGTERM)
        return run_cell(cell, cache, torch.device(device), force=force, progress=False)


def _run_parallel(cells: list[grid.Cell], cache: Path, dev: Any, force: bool, jobs: int, record: Any,
                  mode: str = "native") -> None:
    """Run ``cells`` ``jobs`` at a time in fresh processes (spawned: no state shared with this one), each on one
    torch thread; a finished cell is recorded as soon as it is done. A cached cell is read here, not sent out."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    todo = _not_done(cells, cache, force, record)
    if not todo:
        return
    with ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=multiprocessing.get_context("spawn"),
                             initializer=_worker_init, initargs=(mode,)) as pool:
        futures = {pool.submit(_worker_run, cell, cache, str(dev), force): cell for cell in todo}
        for future in as_completed(futures):
            record(futures[future], *future.result())


def _copy_record(src: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in RECORD_FILES[1:] + RECORD_FILES[:1]:  # row.json last: its presence means the copy is whole
        if (src / name).is_file():
            atomic.copy_file(src / name, dest / name)


def merge(profile: str = "quick", *, results: Path = Path("results"), extra: list[Path] | None = None) -> Summary:
    """Join every shard under ``results/<profile>/shards/`` (and ``extra`` folders of shards) into the tables."""
    prof = load_profile(profile)
    roots = [results / prof.name / "shards", *(extra or [])]
    rows: dict[str, dict[str, Any]] = {}
    for root in roots:
        for row_file in sorted(Path(root).glob("*/*/row.json")):
            row = load_record(row_file.parent)
            if row is not None:
                rows.setdefault(row["key"], row)
    if not rows:
        raise UserError(f"--merge: no finished shard rows under {', '.join(map(str, roots))}; run "
                        f"`colorbench bench --profile {prof.name} --shard i/N` first (and copy each shard's "
                        f"results/{prof.name}/shards/ folder here)")
    summary = Summary(prof.name, total=len(rows), cached=len(rows), rows=list(rows.values()))
    summary.written = write_outputs(results, prof.name, summary.rows, readme=results.parent / "README.md")
    return summary

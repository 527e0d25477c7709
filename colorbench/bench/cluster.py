"""The grid's cells as scheduler jobs, through submitit (``colorbench bench --launcher submitit|local``).

One job per cell not yet in the cache, submitted as a job array (one array per resource shape). Each job runs
:func:`colorbench.bench.cell.run_cell`, which writes the cell's record into the shared cache atomically, exactly as
an in-process run does; so a killed, timed-out or pre-empted job is redone by running the same command again, and a
finished cell is never recomputed. A cell with ``gpus > 1`` (the profile's ``[per_method.NAME] gpus``, or
``--gpus-per-cell``) runs under torch's distributed launcher (``python -m torch.distributed.run``, i.e. torchrun)
inside its job: DDP through :mod:`colorbench.train.distributed`, NCCL on GPUs, gloo processes on a CPU.

Files: ``<cache>/<key>/job.json`` (what one job runs: the cell, the cache, the device, the process count; also the
argument of ``python -m colorbench.bench.cluster``), ``<cache>/_jobs/<job id>/`` (submitit's pickles and the job's
stdout/stderr logs) and ``<cache>/_grids/<profile>.json`` (the submitted grid: every cell key with its label and
job id; what ``--collect`` reads and what a rerun consults so that cells still queued are not submitted twice).
"""
from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from colorbench import _atomic as atomic
from colorbench.bench import grid
from colorbench.bench.profiles import Profile
from colorbench.errors import UserError

LAUNCHERS = ("inprocess", "local", "submitit")
JOBS_DIR, GRIDS_DIR, JOB_SPEC = "_jobs", "_grids", "job.json"
LOCAL_TIMEOUT_MIN = 7 * 24 * 60  # the local executor's own default (2 min) would kill any real cell
LIVE_STATES = {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING", "SUSPENDED"}
SBATCH_OPTIONS = (
    "account", "acctg-freq", "array", "batch", "bb", "begin", "chdir", "clusters", "comment", "constraint",
    "container", "contiguous", "core-spec", "cores-per-socket", "cpu-freq", "cpus-per-gpu", "cpus-per-task",
    "deadline", "delay-boot", "dependency", "distribution", "error", "exclude", "exclusive", "export", "extra",
    "get-user-env", "gid", "gpu-bind", "gpu-freq", "gpus", "gpus-per-node", "gpus-per-socket", "gpus-per-task",
    "gres", "gres-flags", "hint", "hold", "input", "job-name", "kill-on-invalid-dep", "licenses", "mail-type",
    "mail-user", "mcs-label", "mem", "mem-bind", "mem-per-cpu", "mem-per-gpu", "mincpus", "network", "nice",
    "no-requeue", "nodefile", "nodelist", "nodes", "ntasks", "ntasks-per-core", "ntasks-per-gpu", "ntasks-per-node",
    "ntasks-per-socket", "open-mode", "output", "overcommit", "oversubscribe", "partition", "power", "prefer",
    "priority", "profile", "propagate", "qos", "reboot", "requeue", "reservation", "signal", "sockets-per-node",
    "spread-job", "switches", "thread-spec", "threads-per-core", "time", "time-min", "tmp", "uid", "use-min-nodes",
    "wait-all-nodes", "wckey",
)
"""sbatch's long options (``--slurm-opt KEY=VALUE``; underscores read as dashes), checked before submission."""
OWNED = {"partition": "--slurm-partition", "time": "--time", "mem": "--mem", "cpus-per-task": "--cpus-per-cell",
         "gpus-per-node": "--gpus-per-cell", "signal": "--requeue-signal", "job-name": None, "output": None,
         "error": None, "array": None}
"""sbatch options this command sets itself: given through ``--slurm-opt`` they would contradict it."""


@dataclass(frozen=True)
class JobOptions:
    """Scheduler resources of one cell's job, validated (see :func:`job_options`)."""

    partition: str | None = None
    gpus_per_cell: int | None = None  # None: the profile's per-method ``gpus``, else 1 on a GPU device, else 0
    cpus_per_cell: int | None = None
    mem_gb: float | None = None
    timeout_min: int | None = None
    extra: dict[str, str] = field(default_factory=dict)  # further sbatch options, dashes in the names
    requeue_signal: str = "USR1"  # what SLURM sends before the time limit (as Lightning): save, then requeue
    signal_delay_s: int = 90  # ... that many seconds before it


def parse_requeue_signal(text: str) -> tuple[str, int]:
    """``--requeue-signal NAME[@SECONDS]`` (``USR1@90``) → ``("USR1", 90)``; a name this platform lacks or a bad
    count of seconds is a one-line error."""
    import signal

    name, _, secs = str(text).strip().upper().removeprefix("SIG").partition("@")
    if not isinstance(getattr(signal, f"SIG{name}", None), signal.Signals) or name in ("KILL", "STOP"):
        raise UserError(f"--requeue-signal {text!r}: {name or '(empty)'} is not a signal a job can catch; give "
                        "NAME[@SECONDS], e.g. USR1@90 (SLURM sends it that long before the time limit)")
    if not secs:
        return name, 90
    if not secs.isdigit() or not 1 <= int(secs) <= 65535:
        raise UserError(f"--requeue-signal {text!r}: {secs!r} is not a number of seconds (1-65535), e.g. USR1@90")
    return name, int(secs)


def parse_mem(text: str) -> float:
    """``--mem`` as sbatch reads it (``16G``, ``500M``, ``1T``, a bare number in MB) → gigabytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*", str(text), re.I)
    if not m or float(m.group(1)) <= 0:
        raise UserError(f"--mem {text!r}: expected a positive amount with a unit, e.g. --mem 16G or --mem 500M")
    scale = {"K": 1 / 1024**2, "M": 1 / 1024, "": 1 / 1024, "G": 1.0, "T": 1024.0}[m.group(2).upper()]
    return float(m.group(1)) * scale


def parse_time(text: str) -> int:
    """``--time`` as sbatch reads it (``90`` minutes, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM[:SS]``) → whole
    minutes, rounded up."""
    s = str(text).strip()
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", s)
    if not m:
        raise UserError(f"--time {text!r}: expected minutes or [D-]HH:MM:SS as sbatch reads it, e.g. --time 90 or "
                        "--time 2-00:00:00")
    days, a, b, c = (int(g) if g is not None else None for g in m.groups())
    if days is not None:  # D-HH, D-HH:MM, D-HH:MM:SS
        seconds = days * 86400 + a * 3600 + (b or 0) * 60 + (c or 0)
    elif c is not None:  # HH:MM:SS
        seconds = a * 3600 + b * 60 + c
    elif b is not None:  # MM:SS
        seconds = a * 60 + b
    else:
        seconds = a * 60
    if seconds <= 0:
        raise UserError(f"--time {text!r}: must be longer than zero, e.g. --time 90")
    return -(-seconds // 60)


def parse_slurm_opts(items: list[str]) -> dict[str, str]:
    """``--slurm-opt KEY=VALUE`` items → ``{key: value}`` with sbatch's dashed names; an unknown option, a missing
    ``=`` or an option this command sets itself is a one-line error."""
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = str(item).partition("=")
        key = key.strip().lstrip("-").replace("_", "-").lower()
        if not eq or not key or not value.strip():
            raise UserError(f"--slurm-opt {item!r}: expected KEY=VALUE (an sbatch option), e.g. "
                            "--slurm-opt qos=high or --slurm-opt constraint=a100")
        if key not in SBATCH_OPTIONS:
            close = difflib.get_close_matches(key, SBATCH_OPTIONS, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; see `man sbatch` for the options"
            raise UserError(f"--slurm-opt {item!r}: {key!r} is not an sbatch option{hint}")
        if key in OWNED:
            own = OWNED[key]
            raise UserError(f"--slurm-opt {item!r}: " + (f"use {own} instead" if own else
                                                         "colorbench sets this one itself for each job array"))
        out[key] = value.strip()
    return out


def job_options(*, launcher: str, partition: str | None = None, gpus_per_cell: Any = None,
                cpus_per_cell: Any = None, mem: str | None = None, time_limit: str | None = None,
                slurm_opts: list[str] | None = None, requeue_signal: str | None = None) -> JobOptions:
    """Check every scheduler option (before anything is submitted) and return them as :class:`JobOptions`."""
    from colorbench.checks import optional_integer

    if launcher not in LAUNCHERS:
        raise UserError(f"--launcher {launcher!r}: expected one of {', '.join(LAUNCHERS)}")
    if launcher == "inprocess":
        given = [n for n, v in (("--slurm-partition", partition), ("--gpus-per-cell", gpus_per_cell),
                                ("--cpus-per-cell", cpus_per_cell), ("--mem", mem), ("--time", time_limit),
                                ("--slurm-opt", slurm_opts), ("--requeue-signal", requeue_signal)) if v]
        if given:
            raise UserError(f"{given[0]} applies to scheduler jobs; add --launcher submitit (or local)")
        return JobOptions()
    opts = JobOptions(
        partition=partition or None,
        gpus_per_cell=optional_integer(gpus_per_cell, "--gpus-per-cell", minimum=0,
                                       fix="GPUs (on a CPU device: gloo processes) per cell, e.g. 1"),
        cpus_per_cell=optional_integer(cpus_per_cell, "--cpus-per-cell", minimum=1, fix="e.g. --cpus-per-cell 8"),
        mem_gb=parse_mem(mem) if mem is not None else None,
        timeout_min=parse_time(time_limit) if time_limit is not None else None,
        extra=parse_slurm_opts(list(slurm_opts or [])),
        **dict(zip(("requeue_signal", "signal_delay_s"), parse_requeue_signal(requeue_signal or "USR1@90"))),
    )
    if launcher == "submitit" and opts.timeout_min is None:
        raise UserError("--launcher submitit needs --time, each cell's wall-clock limit (submitit's default is 5 "
                        "minutes), e.g. --time 12:00:00; a job that runs out resumes when you run the command again")
    if partition is not None and not re.fullmatch(r"[\w.,-]+", partition):
        raise UserError(f"--slurm-partition {partition!r}: expected a partition name (or a comma-separated list)")
    return opts


def require_submitit(launcher: str = "local") -> Any:
    """submitit, or a one-line UserError; for ``launcher="submitit"`` also SLURM's ``sbatch`` and ``srun``."""
    import shutil

    try:
        import submitit
    except ModuleNotFoundError:
        raise UserError("--launcher local/submitit needs submitit: pip install 'colorbench[cluster]'") from None
    if launcher == "submitit" and not (shutil.which("sbatch") and shutil.which("srun")):
        raise UserError("--launcher submitit: no SLURM here (sbatch/srun not on PATH); run it on the cluster's "
                        "login node, or use --launcher local to run the jobs on this machine")
    return submitit


# ------------------------------------------------------------------------------------------- placing cells
def device_for(device: str, launcher: str, opts: JobOptions) -> Any:
    """The device the cells run on (its kind is part of every key). In-process and local: resolved here, as
    always. SLURM: resolved for the compute nodes, not this login node: ``auto`` is CUDA unless
    ``--gpus-per-cell 0``."""
    import torch

    from colorbench.train.distributed import resolve_device

    if launcher != "submitit":
        return resolve_device(device)
    if device == "auto":
        return torch.device("cpu" if opts.gpus_per_cell == 0 else "cuda")
    try:
        return torch.device(device)
    except RuntimeError:
        raise UserError(f"unknown device {device!r}; use auto, cpu or cuda") from None


def processes(cell: grid.Cell, profile: Profile, opts: JobOptions) -> int:
    """How many processes train ``cell`` (the DDP world size): ``--gpus-per-cell``, else the profile's
    ``[per_method.NAME] gpus``, else 1. Runtime cells and untrained methods always run in one process."""
    from colorbench.registry import get_method

    if cell.kind != "train" or not get_method(cell.method).trainable:
        return 1
    wanted = opts.gpus_per_cell if opts.gpus_per_cell is not None else profile.per_method.get(cell.method, {}).get(
        "gpus")
    return max(int(wanted or 1), 1)


def place(cells: list[grid.Cell], profile: Profile, opts: JobOptions) -> list[tuple[grid.Cell, int]]:
    """Each cell with its process count; a cell trained by several processes gets that world size in its key
    (global batch = world × batch_size, so its numbers differ from a one-process cell's)."""
    return [(grid.with_world(c, n), n) for c in cells for n in [processes(c, profile, opts)]]


def gpu_request(nproc: int, device_kind: str) -> int:
    """GPUs to ask the scheduler for: one per process on a GPU device, none on a CPU."""
    return nproc if device_kind == "cuda" else 0


# ------------------------------------------------------------------------------------------- the submitted grid
def grid_file(cache: Path, profile: str) -> Path:
    return cache / GRIDS_DIR / f"{profile}.json"


def read_grid(cache: Path, profile: str) -> dict[str, Any]:
    path = grid_file(cache, profile)
    return json.loads(path.read_text()) if path.is_file() else {"cells": {}}


def is_alive(entry: dict[str, Any], cache: Path) -> bool:
    """Is the job recorded for a cell still queued or running?"""
    job_id, launcher = str(entry.get("job_id", "")), entry.get("launcher")
    if not job_id:
        return False
    if launcher == "local":
        import psutil

        try:
            proc = psutil.Process(int(job_id))
            return proc.status() != psutil.STATUS_ZOMBIE and "submitit" in " ".join(proc.cmdline())
        except (psutil.Error, ValueError):
            return False
    submitit = require_submitit()
    try:
        return submitit.SlurmJob(cache / JOBS_DIR / "%j", job_id).state.split()[0] in LIVE_STATES
    except Exception:  # sacct unreachable or the job purged from accounting: the cell is submitted again
        return False


def submit(placed: list[tuple[grid.Cell, int]], *, profile: str, cache: Path, device_kind: str, launcher: str,
           opts: JobOptions) -> tuple[list[tuple[grid.Cell, Any]], list[str]]:
    """Submit one job per cell of ``placed`` (cells not yet done), skipping those whose recorded job is still
    queued or running. Returns ``([(cell, job)], [labels still running])``."""
    submitit = require_submitit()
    record = read_grid(cache, profile)
    running = [c.label for c, _ in placed if is_alive(record["cells"].get(c.key, {}), cache)]
    todo = [(c, n) for c, n in placed if c.label not in running]
    jobs: list[tuple[grid.Cell, Any]] = []
    shapes: dict[tuple[int, int], list[tuple[grid.Cell, int]]] = {}
    for c, n in todo:
        shapes.setdefault((n, gpu_request(n, device_kind)), []).append((c, n))
    for (nproc, gpus), group in shapes.items():
        executor = submitit.AutoExecutor(folder=cache / JOBS_DIR / "%j",
                                         cluster="local" if launcher == "local" else "slurm")
        params: dict[str, Any] = {"name": f"colorbench-{profile}", "nodes": 1, "tasks_per_node": 1,
                                  "gpus_per_node": gpus,
                                  "timeout_min": opts.timeout_min or LOCAL_TIMEOUT_MIN}
        if opts.cpus_per_cell is not None:
            params["cpus_per_task"] = opts.cpus_per_cell
        if opts.mem_gb is not None:
            params["mem_gb"] = opts.mem_gb
        if launcher == "submitit":
            if opts.partition:
                params["slurm_partition"] = opts.partition
            # SLURM signals each job this long before its limit; the job saves, then requeues itself (_run_spec)
            params["slurm_signal_delay_s"] = opts.signal_delay_s
            params["slurm_additional_parameters"] = {**opts.extra,
                                                     "signal": f"{opts.requeue_signal}@{opts.signal_delay_s}"}
        executor.update_parameters(**params)
        stop = opts.requeue_signal if launcher == "submitit" else None
        specs = [write_spec(c, cache, device_kind, nproc, requeue_signal=stop) for c, _ in group]
        with executor.batch():
            handles = [executor.submit(run_job, str(spec)) for spec in specs]
        jobs += [(c, h) for (c, _), h in zip(group, handles)]
    return jobs, running


def record_grid(cache: Path, profile: str, cells: list[grid.Cell], jobs: list[tuple[grid.Cell, Any]],
                launcher: str, device: str) -> Path:
    """Write ``<cache>/_grids/<profile>.json``: every cell of the grid (label, job id of its last submission)."""
    old = read_grid(cache, profile)["cells"]
    ids = {c.key: str(h.job_id) for c, h in jobs}
    cells_out = {}
    for c in cells:
        entry = {"label": c.label, "kind": c.kind, **{k: v for k, v in old.get(c.key, {}).items()
                                                      if k in ("job_id", "launcher")}}
        if c.key in ids:
            entry.update(job_id=ids[c.key], launcher=launcher)
        cells_out[c.key] = entry
    return atomic.write_json(grid_file(cache, profile), {"profile": profile, "device": device, "cells": cells_out})


def write_spec(cell: grid.Cell, cache: Path, device_kind: str, nproc: int, requeue_signal: str | None = None) -> Path:
    """``<cache>/<key>/job.json``: everything one job needs to run ``cell`` (``requeue_signal``: the signal name on
    which the job saves and requeues itself; SLURM jobs only)."""
    spec = {"cell": dataclasses.asdict(cell), "cache": str(Path(cache).resolve()), "device": device_kind,
            "processes": int(nproc)}
    if requeue_signal:
        spec["requeue_signal"] = requeue_signal
    return atomic.write_json(Path(cache) / cell.key / JOB_SPEC, spec)


def wait(jobs: list[tuple[grid.Cell, Any]], progress: bool, poll_s: float = 1.0) -> None:
    """Block until every job has ended, with a progress bar over the array."""
    from colorbench.bench.progress import cell_bar

    bar = cell_bar(len(jobs), progress)
    ended: set[int] = set()
    while len(ended) < len(jobs):
        for i, (cell, job) in enumerate(jobs):
            if i not in ended and job.done():
                ended.add(i)
                bar.set_description(cell.label[:48])
                bar.update(1)
        if len(ended) < len(jobs):
            time.sleep(poll_s)
    bar.close()


def job_failure(cell: grid.Cell, cache: Path, entry: dict[str, Any]) -> str:
    """Why ``cell`` has no row: the cell's own error, else where its job's log is."""
    err = cache / cell.key / "error.json"
    if err.is_file():
        lines = [ln for ln in err.read_text().splitlines() if ln.strip()]
        return lines[-1][:300] if lines else "failed"
    job_id = entry.get("job_id")
    where = f"; log: {cache / JOBS_DIR / str(job_id)}/" if job_id else ""
    return f"no result (job {job_id or '?'} was killed, timed out or is still running){where}"


# ------------------------------------------------------------------------------------------- inside a job
def run_job(spec_path: str) -> str:
    """Body of one job: run the cell of ``job.json`` (under torchrun when it needs several processes).
    Returns the cell's status."""
    spec = json.loads(Path(spec_path).read_text())
    if int(spec["processes"]) > 1 and "LOCAL_RANK" not in os.environ:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
               f"--nproc-per-node={int(spec['processes'])}", "-m", "colorbench.bench.cluster", str(spec_path)]
        subprocess.run(cmd, check=True)
        row = Path(spec["cache"]) / spec["cell"]["key"] / "row.json"
        return json.loads(row.read_text()).get("status", "?") if row.is_file() else "failed"
    return _run_spec(spec)


def _run_spec(spec: dict[str, Any]) -> str:
    import torch

    from colorbench.bench.cell import run_cell
    from colorbench.train.distributed import resolve_device

    cell = grid.Cell(**spec["cell"])
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world != int(spec["processes"]):
        raise UserError(f"cell {cell.label}: its key was made for {spec['processes']} process(es), this launch has "
                        f"{world}; start it with torchrun --nproc-per-node {spec['processes']} (in all)")
    from colorbench import numeric

    mode = cell.settings.get("numeric", {}).get("mode", "native")
    if mode != "native":
        numeric.apply(mode)  # before this job's first tensor op
    else:  # a runtime cell submitted by a portable run inherits its pins: time the native kernels
        numeric.unpin()
    torch.set_num_threads(int(cell.settings["environment"]["threads"]))  # the thread count its key records
    device = resolve_device(spec["device"], int(os.environ.get("LOCAL_RANK", "0")))
    with _requeue_on(spec.get("requeue_signal")):
        row, _ = run_cell(cell, Path(spec["cache"]), device, progress=False)
    return str(row.get("status", "?"))


@contextlib.contextmanager
def _requeue_on(name: str | None) -> Iterator[None]:
    """While a job runs its cell: signal ``name`` (what SLURM sends before the time limit) makes the trainer save a
    checkpoint after its current step and stop (:data:`colorbench.train.loop.STOP_SIGNALS_ENV`); outside training
    it stops at once (what is on disk is whole). Either way the job is put back in the queue (:func:`requeue`) and
    exits without a result, so its next start resumes the cell from that checkpoint. Other stops propagate."""
    import signal

    from colorbench.train.loop import STOP_SIGNALS_ENV, Stopped

    if not name:
        yield
        return
    sig = getattr(signal, f"SIG{name}")

    def stop_now(signum: int, frame: Any) -> None:
        raise Stopped(signum)

    saved_env, old = os.environ.get(STOP_SIGNALS_ENV), signal.signal(sig, stop_now)
    os.environ[STOP_SIGNALS_ENV] = name
    try:
        yield
    except Stopped as exc:
        if exc.signum != sig or int(os.environ.get("RANK", "0")) != 0:
            raise
        job = requeue()
        print(f"colorbench cell: {name} before the time limit: checkpoint kept, job {job} requeued", file=sys.stderr)
        raise SystemExit(-1) from None  # like submitit: no result file, the requeued job runs again
    finally:
        signal.signal(sig, old)
        if saved_env is None:
            os.environ.pop(STOP_SIGNALS_ENV, None)
        else:
            os.environ[STOP_SIGNALS_ENV] = saved_env


def requeue() -> str:
    """Put this SLURM job (an array task: ``ARRAY_TASK``) back in the queue with ``scontrol requeue``; its id."""
    env = os.environ
    job = (f"{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}" if env.get("SLURM_ARRAY_JOB_ID")
           else env.get("SLURM_JOB_ID", ""))
    if not job:
        raise UserError("cannot requeue: no SLURM_JOB_ID in this process's environment (not a SLURM job)")
    subprocess.run(["scontrol", "requeue", job], check=True)
    return job


def main(argv: list[str] | None = None) -> int:
    """``python -m colorbench.bench.cluster <cache>/<key>/job.json``: run one cell (each rank under torchrun)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m colorbench.bench.cluster CACHE/KEY/job.json", file=sys.stderr)
        return 2
    try:
        status = _run_spec(json.loads(Path(args[0]).read_text()))
    except UserError as exc:
        print(f"colorbench cell: error: {exc}", file=sys.stderr)
        return 2
    return 0 if status in ("ok", "rank") else 1


if __name__ == "__main__":
    sys.exit(main())

"""``colorbench bench``: the resumable comparison grid (methods × variants × datasets × seeds) into ``results/``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "run the comparison grid of a profile (resumable, cached under runs/bench) and write results/<profile>/"
EXAMPLES = """examples:
  colorbench bench --profile quick
  colorbench bench --profile quick --methods pix2pix --seeds 1 --set train.steps=20
  colorbench bench --profile quick --numeric native  # this CPU's fastest kernels (rows say so)
  colorbench bench --profile paper --dry-run
  colorbench bench --profile paper --shard 1/4     # then: --merge
  colorbench bench --verify                        # recompute one committed cell per method, compare bit for bit
  colorbench bench --verify 5                      # the first five committed rows (seed 0 of each method first)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="quick", help="profile name in profiles/ (smoke, quick, ablations, "
                        "runtime, paper) or a path to a .toml file")
    parser.add_argument("--methods", nargs="+", metavar="NAME", help="only these methods, beside the profile's "
                        "baselines (default: the profile's methods)")
    parser.add_argument("--no-baselines", action="store_true", help="leave out the profile's baselines")
    parser.add_argument("--jobs", type=int, metavar="N", help="train cells at once on a CPU, each in its own process "
                        "on one thread (default: the profile's `jobs`)")
    parser.add_argument("--datasets", nargs="+", metavar="NAME", help="only these datasets (default: the profile's)")
    parser.add_argument("--seeds", type=int, metavar="N", help="seeds 0..N-1 (default: the profile's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="sets",
                        help="train.steps=5 / data.size=32 (profile), pix2pix.lr=1e-4 (one method), lr=1e-4 "
                        "(every method with that field); repeatable (default: the profile's values)")
    parser.add_argument("--metrics", default=None, metavar="NAMES", help="metrics beyond the default weight-free "
                        "set: names and groups, comma-separated (paper, field, all; `colorbench list metrics`); the "
                        "weights they need are checked before any cell runs; asking for more changes the cells' keys "
                        "(their evaluation differs), so they are recomputed")
    parser.add_argument("--force", action="store_true", help="recompute the selected cells even if cached")
    parser.add_argument("--numeric", choices=("portable", "native"), default=None,
                        help="portable: train cells pin the CPU's code paths (one thread, oneDNN off, ATen and MKL "
                        "at AVX2) so their bits are the same on every x86-64 CPU with AVX2 (AMD ones through MKL's "
                        "vendor shim, built with the C compiler; docs/reproducibility.md); native: this CPU's "
                        "fastest kernels, bits for this CPU model only (default: portable on a "
                        "CPU, native on a GPU; rows record the mode)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    parser.add_argument("--shard", metavar="i/N", help="run shard i of N (1-based); rows go to "
                        "results/<profile>/shards/i-of-N/, join them with --merge (default: the whole grid)")
    parser.add_argument("--merge", action="store_true", help="join the shards' rows into the tables (runs nothing)")
    parser.add_argument("--verify", nargs="?", const=0, type=int, metavar="N", help="recompute committed cells of "
                        "the profile in a scratch cache and compare them with results/<profile>/: bit for bit for "
                        "rows made in the portable numeric mode, else within their seed spread; a verdict per row, "
                        "exit 1 if any differs (default N: one cell per method, seed 0; writes nothing)")
    parser.add_argument("--data", metavar="KEY=VALUE", action="append", default=[], dest="data_items",
                        help="a folder dataset's option for every dataset of the grid (repeatable; as train's --data; "
                        "part of each cell's key; default: the profile's [data] options)")
    parser.add_argument("--results", type=Path, default=Path("results"), help="results folder")
    parser.add_argument("--cache", type=Path, default=Path("runs/bench"), help="cell cache folder (git-ignored)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bars: one line per finished cell on stderr instead")
    jobs = parser.add_argument_group("scheduler jobs (colorbench.bench.cluster, docs/cluster.md; needs "
                                     "pip install 'colorbench[cluster]')")
    jobs.add_argument("--launcher", default="inprocess", choices=("inprocess", "local", "submitit"),
                      help="inprocess: run the cells here; submitit: one SLURM job per missing cell (a job array); "
                      "local: the same jobs as processes on this machine")
    jobs.add_argument("--wait", action="store_true", help="block until the jobs end (a progress bar over the "
                      "array), then write the tables")
    jobs.add_argument("--collect", action="store_true", help="write the tables of the grid last submitted for "
                      "this profile from the cells in --cache (runs nothing)")
    jobs.add_argument("--slurm-partition", metavar="NAME",
                      help="SLURM partition of every job (default: the cluster's default partition)")
    jobs.add_argument("--gpus-per-cell", metavar="N", help="GPUs per train cell, trained with DDP under torchrun "
                      "when above 1 (on a CPU device: gloo processes); default: the profile's per-method `gpus`, "
                      "else 1 on a GPU device")
    jobs.add_argument("--cpus-per-cell", metavar="N", help="CPU cores per job (also the torch thread count its "
                      "key records; default: not set, the scheduler's)")
    jobs.add_argument("--mem", metavar="SIZE", help="memory per job as sbatch reads it, e.g. 32G (default: "
                      "the partition's)")
    jobs.add_argument("--time", metavar="LIMIT", dest="time_limit", help="wall-clock limit per job, minutes or "
                      "[D-]HH:MM:SS, e.g. 2-00:00:00 (no default: required by --launcher submitit)")
    jobs.add_argument("--requeue-signal", metavar="NAME[@S]", help="SLURM sends signal NAME S seconds before each "
                      "job's time limit; the job then saves a checkpoint after its current step and requeues itself, "
                      "to resume there (default: USR1@90, as PyTorch Lightning)")
    jobs.add_argument("--slurm-opt", action="append", default=[], metavar="KEY=VALUE", dest="slurm_opts",
                      help="any further sbatch option, e.g. qos=high or constraint=a100; repeatable (default: none)")
    dry = parser.add_argument_group("dry run (colorbench.bench.dryrun)")
    dry.add_argument("--dry-run", action="store_true", help="build every cell, train 2 steps and colourise one "
                     "batch on stand-in data of the cell's shape, print parameters, s/step, peak memory and the "
                     "projected wall time of each full cell on this device into results/<profile>/dryrun.{md,csv} "
                     "(trains nothing), and the reproduction tables of the sources on the profile's data with them")
    dry.add_argument("--max-batch", type=int, metavar="N", help="dry run: cap every batch at N (marked; default: no "
                     "cap)")
    dry.add_argument("--max-size", type=int, metavar="PX", help="dry run: cap every training crop at PX (marked; "
                     "default: no cap)")
    dry.add_argument("--data-dir", type=Path, metavar="DIR", help="dry run: real data from DIR/<dataset> where "
                     "present (default: the profile's data_dirs, else stand-in data)")


def run(args: argparse.Namespace) -> int:
    if args.numeric != "native":  # an AMD CPU: MKL's vendor shim before anything imports torch (colorbench.mkl_shim)
        from colorbench import mkl_shim

        mkl_shim.prepare()
    from colorbench import checks
    from colorbench.bench import collect, merge, run_bench
    from colorbench.bench.cluster import job_options

    checks.optional_integer(args.jobs, "--jobs", minimum=1, fix="give the number of train cells to run at once, "
                            "e.g. --jobs 2 (leave it out for the profile's)")

    if args.metrics:
        from colorbench.metrics.table import METRICS, select
        from colorbench.metrics.weighted import require

        weighted = [m for m in select(args.metrics) if METRICS[m].weights]
        require(weighted)  # a missing file: exit 2 before any cell
        if weighted:  # the weight-free figures are always computed: naming only them changes nothing
            args.sets = [*args.sets, f"eval.metrics={','.join(weighted)}"]
    if args.dry_run:
        return _dry_run(args)
    if args.verify is not None:
        return _verify(args)
    opts = job_options(launcher=args.launcher, partition=args.slurm_partition, gpus_per_cell=args.gpus_per_cell,
                       cpus_per_cell=args.cpus_per_cell, mem=args.mem, time_limit=args.time_limit,
                       slurm_opts=args.slurm_opts,
                       requeue_signal=args.requeue_signal)  # every scheduler option before anything is submitted
    from colorbench import _atomic

    _atomic.check_writable(args.results, "--results", folder=True)  # before any cell runs
    if not args.merge:
        _atomic.check_writable(args.cache, "--cache", folder=True)
    if args.merge:
        summary = merge(args.profile, results=args.results)
    elif args.collect:
        summary = collect(args.profile, results=args.results, cache=args.cache, shard=args.shard)
    else:
        summary = run_bench(args.profile, methods=args.methods, datasets=args.datasets, seeds=args.seeds,
                            sets=args.sets, data=args.data_items, force=args.force, device=args.device,
                            shard=args.shard,
                            results=args.results, cache=args.cache, progress=not args.no_progress,
                            jobs=args.jobs, baselines=not args.no_baselines, launcher=args.launcher,
                            job_opts=opts, wait=args.wait, numeric_mode_name=args.numeric)
    tables = [p for p in summary.written if p.name == "table.md"]
    if tables:
        text = tables[0].read_text()
        start = text.find("| method |")
        print("\n" + text[start:text.find("\n\n", start)] + "\n")
    for line in summary.failed:
        print(f"failed: {line}", file=sys.stderr)
    for line in summary.running:
        print(f"still queued or running: {line}", file=sys.stderr)
    print(summary.line())
    if summary.submitted and not args.wait:
        print(f"collect the tables when the jobs end: colorbench bench --profile {args.profile} --collect "
              f"--cache {args.cache} --results {args.results}")
    print("wrote:")
    for p in summary.written:
        print(f"  {p}")
    return 1 if summary.failed else 0


def _verify(args: argparse.Namespace) -> int:
    from colorbench.bench.verify import format_verdicts, verify
    from colorbench.errors import UserError

    if args.verify < 0:
        raise UserError(f"--verify {args.verify}: give a positive number of cells, or none for one per method")

    def echo(v) -> None:
        if not args.no_progress:
            print(f"  {v.label}: {v.verdict} ({v.seconds:.0f} s) {v.detail}", file=sys.stderr, flush=True)

    verdicts = verify(args.profile, args.verify or None, results=args.results, device=args.device, jobs=args.jobs,
                      progress=not args.no_progress, echo=echo)
    print(format_verdicts(verdicts))
    return 0 if all(v.ok for v in verdicts) else 1


def _dry_run(args: argparse.Namespace) -> int:
    from colorbench.bench.datacheck import format_checks
    from colorbench.bench.dryrun import dry_run_profile, format_table, write_dry_run

    def echo(row) -> None:
        if not args.no_progress:
            print(f"  {row.label}: {row.status}", file=sys.stderr, flush=True)

    checks: list = []
    rows, device = dry_run_profile(args.profile, methods=args.methods, datasets=args.datasets, seeds=args.seeds,
                                   sets=args.sets, device=args.device, max_batch=args.max_batch,
                                   max_size=args.max_size, data_dir=args.data_dir, echo=echo,
                                   baselines=not args.no_baselines, recipe_checks=checks)
    table = format_table(rows, device)
    if checks:
        table += "\n\n" + format_checks(checks)
    print(table)
    print("wrote:")
    for path in write_dry_run(args.results, args.profile, rows, device, table):
        print(f"  {path}")
    return 1 if any(r.status != "ok" for r in rows) else 0

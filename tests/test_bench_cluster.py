"""`colorbench bench --launcher local`: the scheduler path (submitit jobs, one per cell) run for real as processes
on this machine. Same numbers as the in-process bench, a killed job redone alone by the same command, a cell with
``gpus = 2`` trained by two DDP (gloo) processes inside its job, bad scheduler options refused before any job."""
from __future__ import annotations

import json
import time

import pytest

from colorbench.bench import collect, run_bench
from colorbench.bench.cluster import JOBS_DIR, is_alive, job_options, parse_mem, parse_time, read_grid
from colorbench.cli import main
from colorbench.errors import UserError
from test_bench_resume import _comparable, _rows, _same

METHODS = ["unet_l1"]  # beside the smoke profile's baselines gray and mean_color


@pytest.mark.parametrize("argv, says", [
    (["--slurm-opt", "nonsense"], "--slurm-opt 'nonsense': expected KEY=VALUE"),
    (["--slurm-opt", "qoss=high"], "did you mean qos?"),
    (["--slurm-opt", "time=10"], "use --time instead"),
    (["--mem", "lots"], "--mem 'lots'"),
    (["--time", "soon"], "--time 'soon'"),
    (["--gpus-per-cell", "-1"], "--gpus-per-cell -1: must be at least 0"),
    (["--requeue-signal", "USR9@90"], "USR9 is not a signal a job can catch"),
    (["--slurm-opt", "signal=USR2@60"], "use --requeue-signal instead"),
])
def test_a_bad_scheduler_option_is_one_line_before_anything_is_submitted(tmp_path, capsys, argv, says):
    cache = tmp_path / "cache"
    rc = main(["bench", "--profile", "smoke", "--launcher", "submitit", "--time", "10", "--cache", str(cache),
               "--results", str(tmp_path / "results"), *argv])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and says in err and len(err.splitlines()) == 1, err
    assert not cache.exists()  # nothing expanded, nothing submitted


def test_submitit_launcher_without_slurm_is_one_line(tmp_path, capsys, monkeypatch):
    pytest.importorskip("submitit")
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, no srun
    rc = main(["bench", "--profile", "smoke", "--launcher", "submitit", "--time", "10", "--cache",
               str(tmp_path / "cache")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "no SLURM here" in err and len(err.splitlines()) == 1, err


def test_scheduler_values_read_as_sbatch_reads_them():
    assert parse_time("90") == 90 and parse_time("1:30:00") == 90 and parse_time("2:30") == 3  # MM:SS, rounded up
    assert parse_time("1-12") == 36 * 60 and parse_time("2-00:00:00") == 2880
    assert parse_mem("16G") == 16.0 and parse_mem("512M") == 0.5 and parse_mem("2048") == 2.0
    assert parse_mem("1T") == 1024.0
    opts = job_options(launcher="submitit", time_limit="4:00:00", mem="32G", gpus_per_cell="2",
                       slurm_opts=["qos=high", "--constraint=a100"])
    assert (opts.timeout_min, opts.mem_gb, opts.gpus_per_cell) == (240, 32.0, 2)
    assert opts.extra == {"qos": "high", "constraint": "a100"}
    with pytest.raises(UserError, match="needs --time"):
        job_options(launcher="submitit")
    with pytest.raises(UserError, match="add --launcher"):
        job_options(launcher="inprocess", mem="4G")


@pytest.fixture(scope="module")
def inprocess_and_local(tmp_path_factory):
    pytest.importorskip("submitit")
    tmp = tmp_path_factory.mktemp("launchers")
    kw = dict(methods=METHODS, device="cpu", progress=False)  # conftest: one torch thread in both
    here = run_bench("smoke", results=tmp / "inprocess", cache=tmp / "cache-inprocess", **kw)
    jobs = run_bench("smoke", results=tmp / "local", cache=tmp / "cache-local", launcher="local", wait=True, **kw)
    return tmp, here, jobs


@pytest.mark.slow
def test_local_launcher_gives_the_in_process_numbers(inprocess_and_local):
    tmp, here, jobs = inprocess_and_local
    assert not here.failed and not jobs.failed, jobs.failed
    assert jobs.submitted == jobs.computed == jobs.total == here.total == 6  # 3 train cells + 3 runtime cells
    assert [r["key"] for r in jobs.rows] == [r["key"] for r in here.rows]  # same thread count: same keys
    local, here_rows = _comparable(_rows(tmp / "local")), _comparable(_rows(tmp / "inprocess"))
    _same(local, here_rows)
    assert _exact(local) == _exact(here_rows)  # not merely close: the same figures, digit for digit
    # every job logged under <cache>/_jobs/<job id>/; the grid file names each cell's job
    grid = read_grid(tmp / "cache-local", "smoke")["cells"]
    assert set(grid) == {r["key"] for r in jobs.rows}
    assert all((tmp / "cache-local" / JOBS_DIR / e["job_id"]).is_dir() for e in grid.values())
    assert (tmp / "local" / "smoke" / "runtime.csv").is_file()


def _exact(rows: list[dict]) -> list[dict]:
    return [{k: None if isinstance(v, float) and v != v else v for k, v in r.items()} for r in rows]


@pytest.mark.slow
def test_collect_writes_the_same_tables_later(inprocess_and_local):
    tmp, _, _ = inprocess_and_local
    again = collect("smoke", results=tmp / "collected", cache=tmp / "cache-local")
    assert again.total == 6 and again.computed == 0 and not again.missing
    assert _rows(tmp / "collected") == _rows(tmp / "local")
    with pytest.raises(UserError, match="nothing submitted"):
        collect("smoke", results=tmp / "nothing", cache=tmp / "empty-cache")


def _kill_tree(pid: int) -> None:
    import psutil

    proc = psutil.Process(pid)
    for p in [*proc.children(recursive=True), proc]:
        p.kill()
    proc.wait(30)


def _until(condition, what: str, limit_s: float = 300.0) -> None:
    """Poll ``condition`` (a guard against a hang, not a timed assertion)."""
    end = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_a_killed_local_job_is_the_only_cell_the_same_command_recomputes(tmp_path):
    pytest.importorskip("submitit")
    cache = tmp_path / "cache"
    kw = dict(methods=["gray", "unet_l1"], baselines=False, device="cpu", progress=False, cache=cache,
              results=tmp_path / "results", launcher="local",
              sets=["runtime.sizes=[]", "per_method.unet_l1.steps=40"])  # two train cells, one long enough
    first = run_bench("smoke", **kw)
    assert first.submitted == 2
    grid = read_grid(cache, "smoke")["cells"]
    (victim,) = [k for k, e in grid.items() if e["label"].startswith("unet_l1")]
    (other,) = [k for k in grid if k != victim]
    _until(lambda: (cache / victim / "train" / "checkpoints" / "LAST").is_file(), "the first checkpoint")
    _kill_tree(int(grid[victim]["job_id"]))  # SIGKILL mid-cell: no cleanup, like a pre-empted job
    assert not (cache / victim / "row.json").exists()
    _until(lambda: (cache / other / "row.json").is_file() and not is_alive(grid[other], cache), "the other job")
    kept = (cache / other / "row.json").stat().st_mtime_ns

    again = run_bench("smoke", wait=True, **kw)
    assert (again.submitted, again.computed, again.cached, again.failed) == (1, 1, 1, [])
    assert read_grid(cache, "smoke")["cells"][victim]["job_id"] != grid[victim]["job_id"]
    assert (cache / other / "row.json").stat().st_mtime_ns == kept  # never recomputed
    row = json.loads((cache / victim / "row.json").read_text())
    assert row["status"] == "ok" and row["provenance"]["train_steps"] == 40
    with open(cache / victim / "train" / "train_log.csv") as f:  # resumed: each step logged once
        assert [int(line.split(",")[0]) for line in f.read().splitlines()[1:]] == list(range(1, 41))
    assert run_bench("smoke", **kw).submitted == 0  # nothing left to do


@pytest.mark.slow
def test_a_cell_declaring_two_gpus_trains_with_ddp_inside_its_job(tmp_path):
    pytest.importorskip("submitit")
    cache = tmp_path / "cache"
    kw = dict(methods=["unet_l1"], baselines=False, device="cpu", progress=False, cache=cache,
              results=tmp_path / "results", launcher="local", wait=True, sets=["runtime.sizes=[]"])
    summary = run_bench("smoke", **{**kw, "sets": kw["sets"] + ["per_method.unet_l1.gpus=2"]})
    assert (summary.submitted, summary.failed) == (1, [])
    (row,) = summary.rows
    run = json.loads((cache / row["key"] / "train" / "run.json").read_text())
    assert run["world_size"] == 2 and row["status"] == "ok"
    spec = json.loads((cache / row["key"] / "job.json").read_text())
    assert spec["processes"] == 2 and spec["cell"]["settings"]["train"]["world"] == 2
    from colorbench.bench import grid
    from colorbench.bench.profiles import load_profile

    (single,) = grid.expand(load_profile("smoke"), methods=["unet_l1"], baselines=False, device="cpu",
                            numeric=row["numeric_mode"])[:1]
    assert single.key != row["key"] and grid.with_world(single, 2).key == row["key"]  # world 2: its own key


def test_submitit_launcher_writes_one_sbatch_array_with_the_options(tmp_path, monkeypatch):
    """The SLURM path up to sbatch, with a stand-in ``sbatch`` on PATH that keeps the script it is given."""
    pytest.importorskip("submitit")
    bin_dir, kept = tmp_path / "bin", tmp_path / "sbatch"
    bin_dir.mkdir(), kept.mkdir()
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {kept}/\necho "Submitted batch job 4242"\n')
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")  # submitit looks for it to know it is on SLURM
    for tool in ("sbatch", "srun"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    cache = tmp_path / "cache"
    opts = job_options(launcher="submitit", partition="gpu", gpus_per_cell="2", mem="32G", time_limit="1-00:00:00",
                       slurm_opts=["qos=high"])
    summary = run_bench("smoke", methods=["unet_l1"], baselines=False, sets=["runtime.sizes=[]"], seeds=2,
                        progress=False, cache=cache, results=tmp_path / "results", launcher="submitit",
                        job_opts=opts)
    assert summary.submitted == 2 and not summary.rows  # queued, not waited for
    (script,) = [p.read_text() for p in kept.iterdir()]
    for line in ("--partition=gpu", "--gpus-per-node=2", "--mem=32GB", "--time=1440", "--qos=high",
                 "--array=0-1", "--job-name=colorbench-smoke", "--signal=USR1@90"):
        assert f"#SBATCH {line}" in script, (line, script)
    entries = read_grid(cache, "smoke")["cells"].values()
    assert sorted(e["job_id"] for e in entries) == ["4242_0", "4242_1"]
    spec = json.loads(next(cache.glob("*/job.json")).read_text())
    assert (spec["device"], spec["processes"]) == ("cuda", 2)  # auto on the compute nodes: CUDA, DDP on 2
    assert spec["requeue_signal"] == "USR1"  # the job saves and requeues on it


def test_the_signal_before_the_time_limit_saves_the_cell_and_requeues_its_job(tmp_path, monkeypatch, tiny):
    """A scheduled cell sent SIGUSR1 mid-training (what SLURM sends ``--signal`` seconds before the limit): the trainer
    saves after its step, the job requeues itself (``scontrol requeue``, mocked here) and exits with no row."""
    import os
    import signal
    import threading

    from colorbench import checkpoint as ckpt
    from colorbench.bench import cluster, grid
    from colorbench.bench.profiles import load_profile

    profile = tmp_path / "p.toml"
    profile.write_text('datasets = ["synthetic"]\nmethods = ["test_tiny"]\nbaselines = []\nseeds = 1\n'
                       '[data]\nsize = 16\n[train]\nsteps = 100000\nbatch_size = 4\nckpt_every = 100000\n'
                       '[runtime]\nsizes = []\n')
    from colorbench import numeric

    for key in numeric.environ("portable"):  # _run_spec sets the cell's pins: put this process's back afterwards
        if key in os.environ:
            monkeypatch.setenv(key, os.environ[key])
    mode = numeric.in_force()["mode"]  # portable where this CPU holds it (conftest), else native
    (cell,) = [c for c in grid.expand(load_profile(str(profile)), device="cpu", numeric=mode)
               if c.kind == "train"]
    cache = tmp_path / "cache"
    spec = json.loads(cluster.write_spec(cell, cache, "cpu", 1, requeue_signal="USR1").read_text())
    requeued = []
    monkeypatch.setattr(cluster, "requeue", lambda: requeued.append(1) or "77_0")
    log = cache / cell.key / "train" / "train_log.csv"

    def signal_mid_training() -> None:
        while not (log.is_file() and log.read_text().count("\n") > 2):
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGUSR1)

    threading.Thread(target=signal_mid_training, daemon=True).start()
    with pytest.raises(SystemExit):
        cluster._run_spec(spec)
    assert requeued == [1] and not (cache / cell.key / "row.json").exists()
    step = int(ckpt.load_checkpoint(cache / cell.key / "train")["state"]["step"])
    assert 2 <= step < 100000  # saved where the signal stopped it, not at the (never reached) ckpt_every
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL and "COLORBENCH_STOP_SIGNALS" not in os.environ

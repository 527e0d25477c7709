"""How fast the command line answers ``--help``, beside ``python -c "import torch"`` (what every help page cost
before the command modules imported torch lazily). Each round starts a fresh interpreter, as a user's shell does;
rounds alternate (help, import torch, help, ...) so machine load hits both alike. Goal: ``colorbench --help`` and
every sub-command's ``--help`` under 0.5 s on 2 CPU cores. Run by `make perf`."""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.perf
ROUNDS = 5
SCRIPT = Path(sys.executable).with_name("colorbench")  # the console script pip installed beside this Python
# the top page and the pages that imported most before (weights: 5.7 s, 4.2 s of it torch); tests/test_cli_help.py
# checks every page leaves torch unimported
PAGES = [[], ["train"], ["colorize"], ["weights"]]


def _command(argv: list[str]) -> list[str]:
    if SCRIPT.is_file():
        return [str(SCRIPT), *argv]
    return [sys.executable, "-m", "colorbench.cli", *argv]  # not installed as a script (e.g. a bare checkout)


def _seconds(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


@pytest.mark.parametrize("argv", PAGES, ids=lambda a: " ".join(a) or "colorbench")
def test_help_vs_import_torch(benchmark, argv):
    help_cmd = _command([*argv, "--help"])
    torch_cmd = [sys.executable, "-c", "import torch"]
    torch_times: list[float] = []

    def setup():  # untimed by the benchmark: `import torch`, timed by hand, right before each help round
        torch_times.append(_seconds(torch_cmd))
        return (help_cmd,), {}

    _seconds(help_cmd)  # warm-up: the file cache
    benchmark.pedantic(_seconds, setup=setup, rounds=ROUNDS, iterations=1)
    stats = benchmark.stats.stats
    benchmark.extra_info.update(import_torch_min_s=min(torch_times),
                                import_torch_median_s=statistics.median(torch_times),
                                help_min_s=stats.min, help_median_s=stats.median, goal_s=0.5,
                                command=" ".join(["colorbench", *argv, "--help"]))
    print(f"\n`colorbench {' '.join([*argv, '--help'])}`: median {stats.median:.2f} s (min {stats.min:.2f}); "
          f"`python -c 'import torch'`: median {statistics.median(torch_times):.2f} s "
          f"(min {min(torch_times):.2f}); goal < 0.5 s", file=sys.stderr)


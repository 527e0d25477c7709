"""Perf suites run at the issues' setting: ``OMP_NUM_THREADS`` torch threads (2 unless set; the Makefile sets 2),
whatever tests/conftest.py pinned for the ordinary tests, and in the native numeric mode (``make perf`` sets
``COLORBENCH_TEST_NUMERIC=native``; under the portable mode's one thread, AVX2 and no oneDNN they would time
kernels no user's run gets, so a benchmark run under it fails at once)."""
from __future__ import annotations

import os

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def threads(request):
    if request.config.getoption("benchmark_enable", False) and not torch.backends.mkldnn.enabled:
        pytest.fail("the speed suites time the native kernels, and this process runs the portable mode (one thread, "
                    "AVX2, no oneDNN): run `make perf`, or set COLORBENCH_TEST_NUMERIC=native", pytrace=False)
    before = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    yield
    torch.set_num_threads(before)

"""Perf suites run at the issues' setting: ``OMP_NUM_THREADS`` torch threads (2 unless set; the Makefile sets 2),
whatever tests/conftest.py pinned for the ordinary tests."""
from __future__ import annotations

import os

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def threads():
    before = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    yield
    torch.set_num_threads(before)

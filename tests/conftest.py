"""Shared test settings: the portable numeric mode (one torch thread; colorbench.numeric) and no network for weights.

Test tensors are tiny: on a busy 2-core machine two OpenMP threads made small steps 40-80x slower than one
(measured by the trainer and c2f work), and one thread keeps float summation order fixed for exact comparisons."""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TIMM_OFFLINE", "1")

from colorbench import numeric  # noqa: E402  (torch-free)

MODE = os.environ.get("COLORBENCH_TEST_NUMERIC", "portable")
"""The numeric mode of the test process: ``portable`` (every figure independent of the CPU model), or ``native``,
which ``make perf`` sets: the speed suites time the kernels a user's run gets (threads, AVX-512, oneDNN)."""
if MODE not in numeric.MODES:
    raise SystemExit(f"COLORBENCH_TEST_NUMERIC={MODE!r}: use one of {', '.join(numeric.MODES)}")
os.environ.update(numeric.environ(MODE))  # before torch's first tensor op: ATen and MKL read these once
from colorbench import mkl_shim  # noqa: E402  (torch-free)

if MODE == "portable":
    mkl_shim.prepare()  # an AMD CPU: MKL's AVX2 branch too (before torch is imported; the workers inherit LD_PRELOAD)

import pytest  # noqa: E402
import torch  # noqa: E402

try:  # every test runs in the portable numeric mode, so no figure depends on the CPU model
    numeric.apply(MODE)
except numeric.UnsupportedCPU:  # e.g. an AMD CPU without a C compiler: the native kernels, thresholds hold there too
    numeric.relax()
torch.set_num_threads(1)


@pytest.fixture
def tiny():
    """The trainer tests' tiny method, registered as ``test_tiny`` for one test and removed afterwards."""
    from trainer_support import registered

    with registered() as cls:
        yield cls


@pytest.fixture
def clean_registry():
    """Restore the method registry, its load errors and ``sys.modules`` after a test that registers or discovers
    methods (files on ``COLORBENCH_METHODS_PATH``, entry-point packages)."""
    import sys

    from colorbench import registry

    registry.discover()
    saved, errors, modules = dict(registry._REGISTRY), dict(registry._LOAD_ERRORS), set(sys.modules)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)
    registry._LOAD_ERRORS.clear()
    registry._LOAD_ERRORS.update(errors)
    for name in set(sys.modules) - modules:
        if name.startswith(("colorbench_user_methods", "cb_ep_")):
            del sys.modules[name]


@pytest.fixture
def caches(tmp_path, monkeypatch):
    """Empty torch hub and Hugging Face caches under ``tmp_path``, so weight lookups see only what a test puts there."""
    from colorbench import pretrained

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    pretrained.reset_warnings()
    yield tmp_path
    pretrained.reset_warnings()


@pytest.fixture
def trimmed_heap():
    """Freed heap handed back to the OS before the test (glibc's ``malloc_trim``; elsewhere a no-op). Tests that
    measure RSS growth need it: memory freed by earlier tests (full-size networks, weight files) stays resident,
    and a new allocation that reuses it does not grow the RSS."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    yield


@pytest.fixture(autouse=True, scope="session")
def _caches_in_tmp(tmp_path_factory):
    """Training-set priors (colorbench.ab_bins.prior_config), measured step FLOPs (colorbench.train.flops), FID truth
    features (colorbench.metrics.fid) and decoded photos (colorbench.data.decoded) go to temp folders for the session,
    not runs/ or datasets/cache/."""
    from colorbench import ab_bins
    from colorbench.metrics import fid
    from colorbench.train import flops

    saved = ab_bins.PRIOR_DIR, flops.FLOPS_DIR, fid.CACHE_DIR, os.environ.get("COLORBENCH_DECODED_CACHE")
    ab_bins.PRIOR_DIR = tmp_path_factory.mktemp("priors")
    flops.FLOPS_DIR = tmp_path_factory.mktemp("flops")
    fid.CACHE_DIR = tmp_path_factory.mktemp("fid_truth")
    os.environ["COLORBENCH_DECODED_CACHE"] = str(tmp_path_factory.mktemp("decoded"))
    yield
    ab_bins.PRIOR_DIR, flops.FLOPS_DIR, fid.CACHE_DIR = saved[:3]
    if saved[3] is None:
        os.environ.pop("COLORBENCH_DECODED_CACHE", None)
    else:
        os.environ["COLORBENCH_DECODED_CACHE"] = saved[3]

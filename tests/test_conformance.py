"""The shared conformance suite over every registered method: the checks live in the package
(:mod:`colorbench.conformance`, also run by ``colorbench check-method NAME``); this file runs each of them on each
method, sharing one 50-step run per method."""
from __future__ import annotations

import pytest

import colorbench
from colorbench.conformance import Skip, Suite

# Their shared 50-step runs are most of this module's time (8-15 s each on 2 busy cores, the rest 1-3 s): `make test`
# runs them, `make test-fast` keeps the checks of every other method.
SLOW = {"c2f", "ddcolor", "featrec", "gorriz"}
METHODS = [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in colorbench.list_methods()]
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """name -> its :class:`Suite` (the trained run cached for the module)."""
    cache: dict[str, Suite] = {}

    def get(name: str) -> Suite:
        if name not in cache:
            cache[name] = Suite(name, tmp_path_factory.mktemp(name))
        return cache[name]

    return get


def _run(suite, name: str, check: str) -> None:
    try:
        suite(name).run(check)
    except Skip as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("name", METHODS)
def test_five_steps_without_nan(suite, name):
    _run(suite, name, "five_steps_without_nan")


@pytest.mark.parametrize("name", METHODS)
def test_watch_loss_falls(suite, name):
    """Mean watch loss of the last 10 of 50 steps below that of the first 10 (the figure: last/first, under 1).
    Measured over seeds 0-4 and the numeric paths default/ONEDNN_MAX_CPU_ISA=AVX2/ATEN_CPU_CAPABILITY=avx2/
    ATEN_CPU_CAPABILITY=default/MKL_CBWR=COMPATIBLE/mkldnn off (this suite's seed is 0): unet_l2 0.18-0.21,
    featrec and gorriz 0.38-0.51, unet_l1 0.36-0.44, cic 0.52-0.65, vacgan 0.63-0.70, pix2pix 0.71-0.77,
    koalarization 0.78-0.98 (seed 0: 0.83), mean_color 0.03-0.12; c2f 0.91-1.003 (seed 0: 0.941-0.942 on every
    path, but seed 3 gives 1.000-1.003 on every path: its margin is the seed's, not a property of the method).
    Why c2f's is luck: its l1 starts at the floor of predicting grey (0.045-0.065 a step, the generator's N(0, 0.02)
    init outputs ab ~ 0) and stays there for all 50 steps, pretraining and GAN alike, on seeds 0-4; with
    pretrain_lr and lr raised to 1e-3 too (last/first 0.956-1.008). No smoothing or longer window can make a flat
    series fall: c2f needs a test configuration in which it learns colour within the run (not yet found)."""
    _run(suite, name, "watch_loss_falls")


@pytest.mark.parametrize("name", METHODS)
def test_colorize_keeps_size_for_odd_sizes_and_batch_one(suite, name):
    _run(suite, name, "colorize_keeps_size")


@pytest.mark.parametrize("name", METHODS)
def test_colorize_after_training_changes_nothing(suite, name):
    _run(suite, name, "colorize_changes_nothing")


@pytest.mark.parametrize("name", METHODS)
def test_save_then_load_gives_identical_outputs(suite, name):
    _run(suite, name, "save_then_load")


@pytest.mark.parametrize("name", METHODS)
def test_same_seed_same_result(suite, name):
    _run(suite, name, "same_seed_same_result")

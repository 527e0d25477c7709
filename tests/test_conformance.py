"""The shared conformance suite over every registered method: the checks live in the package
(:mod:`colorbench.conformance`, also run by ``colorbench check-method NAME``); this file runs each of them on each
method, sharing one 50-step run per method."""
from __future__ import annotations

import pytest

import colorbench
from colorbench.conformance import Skip, Suite

# Their shared 50-step runs are most of this module's time (8-15 s each on 2 busy cores, the rest 1-3 s): `make test`
# runs them, `make test-fast` keeps the checks of every other method.
SLOW = {"c2f", "featrec", "gorriz"}
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

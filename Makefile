# colorbench: `make bench` and `make test` each create the virtual environment when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.colorbench-installed
export OMP_NUM_THREADS ?= 2
# Threads sleep instead of spinning when they wait: on a busy 2-core machine spinning OpenMP threads made small
# training steps 10-40x slower (measured by the trainer and bench work); on an idle one the cost is negligible.
export OMP_WAIT_POLICY ?= PASSIVE
export PYTHONUNBUFFERED := 1

.PHONY: install test test-fast lint bench perf report clean

$(STAMP): setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -e '.[test,report,study,tensorboard,cluster]'
	@touch $@

install: $(STAMP)  ## create .venv and install colorbench (editable) with every extra

# The suite runs in worker processes, one per core (at most 4; each test uses one torch thread): on 2 cores it takes
# about half the serial time. `make test PYTEST_WORKERS=0` runs it in one process.
PYTEST_WORKERS ?= auto
test: $(STAMP)  ## the test suite (no timed assertions; speed lives in `make perf`)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --maxprocesses 4 --dist worksteal

test-fast: $(STAMP)  ## the edit loop (~1-2 min): the suite less `slow` and `browser` tests, stop at the first failure
	$(BIN)/python -m pytest -m "not slow and not browser" -x -q

lint: $(STAMP)  ## ruff (E, F, W, B at 120 columns; configured in pyproject.toml) over the whole tree
	$(BIN)/python -m ruff check .

bench: $(STAMP)  ## the quick comparison grid on the embedded `openphotos` dataset, into results/
	$(BIN)/colorbench bench --profile quick

perf: $(STAMP)  ## pytest-benchmark suites: Lab layer, metrics, FID/LPIPS vs torchmetrics, trainer overhead, `colorbench --help`
	COLORBENCH_TEST_NUMERIC=native $(BIN)/python -m pytest tests/perf -p no:cacheprovider --benchmark-enable --benchmark-only --benchmark-columns=min,median,mean,rounds -m perf

report: $(STAMP)  ## execute the notebooks against results/ into HTML
	$(BIN)/colorbench report

clean:  ## remove the venv, caches and runs (keeps the committed results/)
	rm -rf $(VENV) runs .pytest_cache .benchmarks build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

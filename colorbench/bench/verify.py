"""``colorbench bench --verify [N]``: recompute committed cells on this machine and compare them with the committed
rows, so a reader can check the published table without trusting it.

The chosen cells (default: one per method, the default variant where there is one, seed 0; ``N`` takes the first N
of every committed trained row in that order: seed 0 of each method first, then seed 1, ...) are trained and
evaluated again from scratch in a scratch cache (never the user's ``runs/bench``), with the profile's settings.
Each committed row then gets a verdict on every figure it holds (:data:`colorbench.metrics.METRICS`):

* ``identical``: every figure equal to the bit (the committed CSV keeps Python's shortest round-trip repr);
* ``within seed spread`` (rows made in the ``native`` numeric mode, whose bits are promised on the same CPU model
  alone, or recomputed where the portable mode cannot hold, e.g. a non-Intel CPU): every figure within twice the
  standard deviation of that method's committed seeds;
* ``DIFFERS``: a figure is neither; the largest difference is named. For a row made in the ``portable`` mode any
  difference is a failure of the mode's promise (docs/reproducibility.md);
* ``stale``: the row was made by other code than this checkout's (its ``code_hash``): regenerate ``results/``.
"""
from __future__ import annotations

import csv
import math
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from colorbench.errors import UserError

SPREAD = 2.0
"""A native row's figure passes within this many standard deviations of its method's committed seeds."""


@dataclass
class Verdict:
    """One committed row compared with its recomputation."""

    label: str
    mode: str
    verdict: str
    detail: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.verdict in ("identical", "within seed spread")


def committed_rows(results: Path, profile: str) -> list[dict[str, str]]:
    """The committed trained rows (``status == ok``) of ``results/<profile>/*/metrics.csv``, as the CSV's text."""
    rows = []
    for path in sorted((Path(results) / profile).glob("*/metrics.csv")):
        with open(path, newline="", encoding="utf-8") as f:
            rows += [r for r in csv.DictReader(f) if r.get("kind") == "train" and r.get("status") == "ok"]
    return rows


def _ident(row: dict[str, Any]) -> tuple[str, str, str, int]:
    return (str(row["method"]), str(row.get("variant") or "default"), str(row["dataset"]), int(row["seed"]))


def choose(rows: list[dict[str, str]], n: int | None) -> list[dict[str, str]]:
    """One row per (method, dataset) at seed 0, its default variant first (``n`` None); else the first ``n`` rows
    ordered by seed, then method, then variant (``default`` first)."""
    order = sorted(rows, key=lambda r: (int(r["seed"]), r["method"], r["dataset"],
                                        (r.get("variant") or "default") != "default", r.get("variant") or ""))
    if n is not None:
        return order[:n]
    first: dict[tuple[str, str], dict[str, str]] = {}
    for r in order:
        if int(r["seed"]) == 0:
            first.setdefault((r["method"], r["dataset"]), r)
    return list(first.values())


def _number(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _label(row: dict[str, str]) -> str:
    """As :attr:`colorbench.bench.grid.Cell.label` names the cell of a committed row."""
    variant = row.get("variant") or "default"
    return f"{row['method']}{'' if variant == 'default' else f'[{variant}]'} on {row['dataset']} seed {row['seed']}"


def compare(committed: dict[str, str], row: dict[str, Any], seeds: list[dict[str, str]],
            here: str = "portable") -> tuple[str, str]:
    """``(verdict, detail)`` of a recomputed ``row`` against the ``committed`` CSV row; ``seeds``: the committed rows
    of the same method, variant and dataset (for the spread). Bits are required of a row made in the portable mode
    and recomputed in it (``here``); anything else passes within the seed spread."""
    from colorbench.metrics import METRICS

    figures = row.get("metrics", {})
    worst: tuple[float, str, float, float] | None = None
    within = True
    for name in METRICS:
        old = _number(committed.get(name))
        if old is None or name not in figures:
            continue
        new = float(figures[name])
        if (math.isnan(old) and math.isnan(new)) or old == new:
            continue
        diff = abs(new - old)
        if worst is None or diff > worst[0]:
            worst = (diff, name, old, new)
        spread = [v for s in seeds if (v := _number(s.get(name))) is not None and math.isfinite(v)]
        sd = statistics.stdev(spread) if len(spread) > 1 else 0.0
        within = within and diff <= SPREAD * sd
    if worst is None:
        return "identical", ""
    diff, name, old, new = worst
    detail = f"largest: {name} {old!r} committed, {new!r} here (|Δ| {diff:.3g})"
    exact = (committed.get("numeric_mode") or "native") == "portable" == here
    if not exact and within:
        return "within seed spread", f"{detail}; every figure within {SPREAD:g} SD of the committed seeds"
    return "DIFFERS", detail


def verify(profile: str = "quick", n: int | None = None, *, results: Path = Path("results"),
           device: str = "cpu", jobs: int | None = None, progress: bool = True,
           echo: Callable[[Verdict], None] | None = None) -> list[Verdict]:
    """Recompute the chosen committed cells of ``profile`` in a scratch cache and compare (module docstring)."""
    from colorbench import fingerprint
    from colorbench.bench import grid
    from colorbench.bench.profiles import load_profile
    from colorbench.bench.runner import numeric_mode, run_train_cells
    from colorbench.registry import get_method, list_methods
    from colorbench.train.distributed import resolve_device

    prof = load_profile(profile)
    rows = committed_rows(results, prof.name)
    if not rows:
        raise UserError(f"--verify: no committed trained rows under {results / prof.name}/*/metrics.csv; run "
                        f"`colorbench bench --profile {prof.name}` first, or check --results")
    chosen = choose(rows, n)
    known = set(list_methods())
    verdicts: dict[tuple, Verdict] = {}
    wanted = []
    for r in chosen:
        mode = r.get("numeric_mode") or "native"
        if r["method"] not in known:
            verdicts[_ident(r)] = Verdict(_label(r), mode, "not run", f"method {r['method']!r} is not registered here")
        elif r.get("code_hash") != fingerprint.code_hash(get_method(r["method"])):
            verdicts[_ident(r)] = Verdict(_label(r), mode, "stale", f"made by other code (code_hash "
                                          f"{r.get('code_hash')}, this checkout's differs): regenerate results/ "
                                          "with `make bench`")
        else:
            wanted.append(r)
    dev = resolve_device(device)
    committed_modes = {r.get("numeric_mode") or "native" for r in wanted}
    mode = numeric_mode("portable" if "portable" in committed_modes else "native", dev)
    cells = []
    if wanted:
        top_seed = max(int(r["seed"]) for r in wanted)
        by_ident = {(c.method, c.variant, str(c.dataset), c.seed): c
                    for c in grid.expand(prof, methods=sorted({r["method"] for r in wanted}),
                                         datasets=sorted({r["dataset"] for r in wanted}), seeds=top_seed + 1,
                                         device=str(dev), threads=1 if (jobs or prof.jobs or 1) > 1 else None,
                                         numeric=mode)
                    if c.kind == "train"}
        for r in wanted:
            cell = by_ident.get(_ident(r))
            if cell is None:
                verdicts[_ident(r)] = Verdict(_label(r), r.get("numeric_mode") or "native", "not run",
                                              "the profile no longer has this cell")
            else:
                cells.append((cell, r))
    with tempfile.TemporaryDirectory(prefix="colorbench-verify-") as scratch:
        started = time.perf_counter()

        def record(cell: Any, row: dict[str, Any], computed: bool) -> None:
            committed = next(r for c, r in cells if c.key == cell.key)
            seeds = [s for s in rows if _ident(s)[:3] == _ident(committed)[:3]]
            mode = committed.get("numeric_mode") or "native"
            here = row.get("numeric_mode") or "native"
            if row.get("status") != "ok":
                v = Verdict(cell.label, mode, "failed", str(row.get("error")))
            else:
                v = Verdict(cell.label, mode, *compare(committed, row, seeds, here))
            v.seconds = round(time.perf_counter() - started, 1)
            verdicts[_ident(committed)] = v
            if echo is not None:
                echo(v)

        if cells:
            run_train_cells([c for c, _ in cells], Path(scratch), dev, force=True,
                            jobs=int(jobs or prof.jobs or 1), progress=progress, record=record, numeric=mode)
    return [verdicts[_ident(r)] for r in chosen if _ident(r) in verdicts]


def format_verdicts(verdicts: list[Verdict]) -> str:
    """A markdown table: cell, numeric mode, verdict, detail."""
    lines = ["| cell | numeric mode | verdict | detail |", "|---|---|---|---|"]
    lines += [f"| {v.label} | {v.mode} | {v.verdict} | {v.detail} |" for v in verdicts]
    ok = sum(v.ok for v in verdicts)
    lines.append(f"\n{ok} of {len(verdicts)} committed rows reproduced "
                 f"({sum(v.verdict == 'identical' for v in verdicts)} bit for bit).")
    return "\n".join(lines)

"""Run one cell: train (through ``colorbench.train``, which checkpoints and resumes itself) and evaluate it on its
dataset's protocol (:func:`colorbench.evaluator.evaluate`), or time ``colorize`` at the profile's sizes, and write
the cell's record under ``<cache>/<key>/``:

``row.json`` (written last and atomically: its presence means the cell is done), ``per_image.csv`` (one row per
test image), ``hist.npz`` (the evaluator's pooled a/b counts of truth and prediction, 220 one-unit bins on
[-110, 110): the same counts behind JS and KL), ``samples.npz`` (the first ``[eval] samples`` test photos of the
dataset, whole, and the trained method's colourisation of each, uint8: :mod:`colorbench.bench.samples`),
``loss.csv`` (a copy of the trainer's loss log). A runtime cell writes ``row.json`` only. A pretrained cell (a
released model, no training) writes ``row.json`` and ``per_image.csv``; while its weights file is not on disk it
writes nothing and returns a ``status="skipped"`` row naming ``colorbench weights fetch NAME``.
"""
from __future__ import annotations

import math
import os
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colorbench import _atomic as atomic
from colorbench import _lock, fingerprint
from colorbench.bench.grid import Cell
from colorbench.train.distributed import resolve_device

ROW = "row.json"
ERROR = "error.json"
LOCKS = ".locks"  # <cache>/.locks/<key>.lock: held while a process computes the cell
__all__ = ["Cell", "done", "parse_size", "resolve_device", "run_cell"]


def parse_size(size: str) -> tuple[int, int]:
    """``"750x500"`` (width × height, as the C2F paper writes it) → ``(H, W) = (500, 750)``."""
    w, h = (int(v) for v in str(size).lower().split("x"))
    return h, w


TIMING_CLASSES = 10
"""Class count a runtime cell gives a method that trains on labels: it only sizes a classifier head that
``colorize`` never runs, so the timed network is the same whatever the count."""


def timing_method(cell: Cell) -> Any:
    """The untrained method a runtime cell times: its resolved config, classes where it needs them."""
    spec = cell.spec()
    return spec.build(num_classes=TIMING_CLASSES if spec.method.labels_needed(spec.config) else None)


def provenance(device: torch.device) -> dict[str, Any]:
    from colorbench.provenance import git_commit, versions

    return {"git_commit": git_commit(), "versions": versions(), "device": _device_name(device)}


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"{device.type} ({torch.get_num_threads()} threads)"


def done(cell: Cell, cache: Path) -> dict[str, Any] | None:
    """The cell's finished row, or None."""
    path = cache / cell.key / ROW
    if path.is_file():
        import json

        return json.loads(path.read_text())
    return None


def run_cell(cell: Cell, cache: Path, device: torch.device, *, force: bool = False,
             progress: bool = True) -> tuple[dict[str, Any], bool]:
    """Run ``cell`` unless its row exists (and not ``force``). Returns ``(row, computed)``.

    A failure does not propagate: it is returned as a row with ``status="failed"`` and the error (also written to
    ``error.json``, so the next run tries again), so one broken method never stops the grid. Under torchrun (a
    cell trained by several DDP processes) every rank trains and rank 0 alone evaluates and writes the record;
    the other ranks return a row with ``status="rank"``.

    Rank 0 holds the cell's lock (``<cache>/.locks/<key>.lock``, :mod:`colorbench._lock`) while it trains and
    writes the record: a second process on the same cache that reaches the cell says so on stderr and waits, then
    uses the row the first one wrote, so no cell is ever trained twice at once.
    """
    main = int(os.environ.get("RANK", "0")) == 0
    if not force and (row := done(cell, cache)) is not None:
        return row, False
    if not main:  # rank 0 of this cell's DDP processes holds the lock for all of them
        return _run_unlocked(cell, cache, device, force=force, progress=progress, main=False)
    with _lock.held(cache / LOCKS / f"{cell.key}.lock", f"cell {cell.label}",
                    echo=lambda line: print(line, file=sys.stderr, flush=True)) as waited:
        if waited and (row := done(cell, cache)) is not None:  # the other process finished it: its row is used
            print(f"cell {cell.label}: done by the other process; its row is used", file=sys.stderr, flush=True)
            return row, False
        return _run_unlocked(cell, cache, device, force=force, progress=progress, main=True)


def _run_unlocked(cell: Cell, cache: Path, device: torch.device, *, force: bool, progress: bool,
                  main: bool) -> tuple[dict[str, Any], bool]:
    """:func:`run_cell`'s work, once this process holds the cell's lock (or is a DDP rank other than 0)."""
    folder = cache / cell.key
    if force and folder.exists() and main:
        shutil.rmtree(folder)
    if not force and (row := done(cell, cache)) is not None:
        return row, False
    folder.mkdir(parents=True, exist_ok=True)
    if main:
        atomic.write_json(folder / "cell.json", {"kind": cell.kind, "method": cell.method, "variant": cell.variant,
                                                 "dataset": cell.dataset, "seed": cell.seed,
                                                 "settings": cell.settings})
    mode = cell.settings.get("numeric", {}).get("mode", "native")
    base = {"key": cell.key, "kind": cell.kind, "method": cell.method, "variant": cell.variant,
            "dataset": cell.dataset, "seed": cell.seed, "code_hash": _code_hash(cell),
            "environment": cell.settings.get("environment"),
            "data_fingerprint": cell.settings.get("data", {}).get("fingerprint"),
            "numeric_mode": mode, "cpu_isa": cell.settings.get("numeric", {}).get("cpu_isa")}
    start = time.perf_counter()
    try:
        check_numeric(mode)
        if cell.kind == "pretrained":
            result = _evaluate_released(cell, folder, device)
            if result["status"] == "skipped":  # nothing written: the next run tries again
                return {**base, **result}, True
            row = {**base, **result}
        elif cell.kind == "train":
            result = _train_and_evaluate(cell, folder, device, progress, main=main)
            if result is None:
                return {**base, "status": "rank", "metrics": {}, "runtime": [], "provenance": {}}, True
            row = {**base, **result}
        else:
            method = timing_method(cell).to(device)
            run = cell.settings["run"]
            row = {**base, "status": "ok", "metrics": {}, "runtime": _runtime(method, cell.settings["runtime"], device),
                   "provenance": {**provenance(device), **_pretrained(method), "train_steps": 0,
                                  "config": run["config"], "overrides": run["overrides"]}}
    except Exception as exc:  # one cell's failure must not take the grid down
        err = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        if main:
            atomic.write_text(folder / ERROR, traceback.format_exc())
        return {**base, "status": "failed", "error": err, "metrics": {}, "runtime": [], "provenance": {}}, True
    row["provenance"]["cell_seconds"] = round(time.perf_counter() - start, 3)
    (folder / ERROR).unlink(missing_ok=True)
    atomic.write_json(folder / ROW, row)
    return row, True


def _code_hash(cell: Cell) -> str:
    """The code hash of the cell's method (a pretrained cell has no run spec: its method by name)."""
    if cell.kind == "pretrained":
        from colorbench.registry import get_method

        return fingerprint.code_hash(get_method(cell.method))
    return fingerprint.code_hash(cell.spec().method)


def _evaluate_released(cell: Cell, folder: Path, device: torch.device) -> dict[str, Any]:
    """A pretrained cell: the released model scored on its dataset's protocol, as a train cell's model is (a
    skipped result, naming the fetch command, while the weights file is not on disk)."""
    from colorbench import pretrained as pt
    from colorbench.data import build_dataset, protocol_for
    from colorbench.errors import UserError

    name, sha = cell.settings["zoo"], cell.settings["weights_sha256"]
    path = pt.zoo_path(name)
    if sha is None or not path.is_file():
        return {"status": "skipped", "metrics": {}, "runtime": [], "provenance": {},
                "error": f"released weights for {name} are not on disk (expected {path}); run `colorbench weights "
                         f"fetch {name}` and run the bench again"}
    method = pt.load_zoo(name, map_location=device)
    if method.weights_sha256 != sha:
        raise UserError(f"{path} changed since the grid was made (sha256 {method.weights_sha256[:12]}…, keyed "
                        f"{sha[:12]}…); run the bench again")
    data = cell.settings["data"]
    protocol = protocol_for(str(cell.dataset))
    options = {**dict(data.get("options") or {}), **({"data_dir": data["data_dir"]} if data.get("data_dir") else {})}
    test_ds = build_dataset(str(cell.dataset), protocol.split, size=protocol.size, seed=0, **options,
                            **protocol.dataset_options())
    res, eval_seconds, scored = _score(method, test_ds, protocol, cell, folder, device)
    prov = {**provenance(device), "pretrained": {name: True}, "random_frozen": [], "train_steps": 0,
            "weights": f"sha256:{sha}", "zoo": name, "eval_seconds": round(eval_seconds, 3), **scored,
            "config": dict(pt.get_zoo(name).config)}
    return {"status": "ok", "metrics": res.figures, "na_reasons": res.notes, "runtime": [], "provenance": prov}


def check_numeric(mode: str) -> None:
    """The values in force in this process at a cell's start: a cell keyed ``portable`` runs only where every pin
    of that mode holds (:func:`colorbench.numeric.in_force`), else it fails naming what is in force."""
    from colorbench import numeric

    if mode == "native":
        return
    now = numeric.in_force()
    if now["mode"] != mode:
        shown = {k: now[k] for k in ("aten_cpu_capability", "mkl_cbwr", "mkldnn", "nnpack", "threads",
                                     "deterministic")}
        raise numeric.TooLate(f"this process is not in the {mode} numeric mode ({shown}): run the cell through "
                              f"`colorbench bench`, or call colorbench.numeric.apply({mode!r}) before any tensor op")


def _pretrained(method: Any) -> dict[str, Any]:
    """``pretrained`` (backbone -> loaded?) and ``random_frozen`` (frozen backbones running with random weights:
    such a row is not the published method)."""
    flags = {k: bool(v) for k, v in method.pretrained_flags().items()}
    frozen = sorted(k for k, v in flags.items() if not v) if type(method).frozen_pretrained else []
    return {"pretrained": flags, "random_frozen": frozen}


def _seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _train_and_evaluate(cell: Cell, folder: Path, device: torch.device, progress: bool,
                        main: bool = True) -> dict[str, Any] | None:
    from colorbench.bench import compute
    from colorbench.bench import samples as sample_photos
    from colorbench.train import train
    from colorbench.train.flops import step_cost

    ev = cell.settings["eval"]
    spec = cell.spec().replace(device=str(device), progress=progress, val_images=int(ev.get("curve_images", 32)))
    world = int(cell.settings["train"].get("world", 1))
    cost = step_cost(spec)  # cached, or measured on a method of its own, torch's RNG put back: training unchanged
    curve_at = compute.curve_steps(cost, spec, int(ev.get("curve_points", 0)))
    _seed_everything(cell.seed)
    result = train(spec, out_dir=folder / "train", val_at=curve_at)
    if not main:  # a DDP rank other than 0: its replica is rank 0's
        return None
    method = result.method
    protocol = spec.protocol
    test_ds = spec.scored_data(protocol)
    res, eval_seconds, scored = _score(method, test_ds, protocol, cell, folder, device)
    n_samples = int(ev.get("samples", 4))  # whole test photos at their full SIDE px (not the protocol's crops)
    samples = sample_photos.colourise(method, spec.data(protocol.split, sample_photos.SIDE) if n_samples else test_ds,
                                      n_samples)
    _save_npz(folder / "samples.npz", **samples)
    loss_log = folder / "train" / "train_log.csv"
    if loss_log.is_file():
        atomic.write_bytes(folder / "loss.csv", loss_log.read_bytes())
    prov = {
        **provenance(device), **_pretrained(method), "train_steps": int(result.steps),
        "train_seconds": round(float(result.train_seconds), 3),
        "train_images_per_s": round(float(result.images_per_s), 2) if result.steps else None,
        "eval_seconds": round(eval_seconds, 3), "peak_memory_mb": round(float(result.peak_memory_mb), 1),
        "checkpoint": str(result.checkpoint) if result.checkpoint else None,
        "batch_size": spec.batch_size, "size": spec.size, **scored,
        "num_classes": getattr(test_ds, "num_classes", None),
        "config": cell.settings["run"]["config"], "overrides": cell.settings["run"]["overrides"],
        **compute.figures(cost, int(result.steps), spec.batch_size, world, cell.settings["train"].get("flops")),
    }
    curve = compute.curve(folder / "train", curve_at, cost, spec.batch_size, world)
    if int(ev.get("curve_points", 0)) and not result.steps:  # nothing trained: scored once, as it is
        curve = [compute.untrained_point(method, spec, cost, device)]
    return {"status": "ok", "metrics": res.figures, "na_reasons": res.notes, "runtime": [], "provenance": prov,
            "curve": curve}


def _score(method: Any, test_ds: Any, protocol: Any, cell: Cell, folder: Path,
           device: torch.device) -> tuple[Any, float, dict[str, Any]]:
    """Score ``method`` on ``test_ds`` under ``protocol`` with the cell's ``[eval]`` settings, writing
    ``per_image.csv`` (each row with the photo behind its item, when the dataset names it: tables resample photos)
    and ``hist.npz``. Returns the evaluation result, its seconds, and the row's ``protocol`` and ``histograms``
    provenance."""
    from colorbench.evaluator import evaluate

    ev = cell.settings["eval"]
    t1 = time.perf_counter()
    res = evaluate(method, test_ds, batch_size=int(ev.get("batch_size", 8)), device=device,
                   max_images=protocol.max_images, legacy_histograms=bool(ev.get("legacy_histograms")),
                   metrics=ev.get("metrics") or None)
    seconds = time.perf_counter() - t1
    ident = {"key": cell.key, "method": cell.method, "variant": cell.variant, "dataset": cell.dataset,
             "seed": cell.seed}
    source = getattr(test_ds, "source", None)
    atomic.write_csv(folder / "per_image.csv", [{**ident, **r, **({"photo": source(int(r["index"]))} if source else {})}
                                                for r in res.records])
    _save_npz(folder / "hist.npz", **res.histograms)
    scored = {"protocol": {**protocol.as_dict(), "n_images": res.n_images,
                           "preprocess": getattr(test_ds, "preprocessing", "")},  # crop, resize filter, size in words
              "histograms": res.protocol["histograms"]}
    return res, seconds, scored


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic.write_bytes(path, buf.getvalue())


def _runtime(method: Any, rt: dict, device: torch.device) -> list[dict[str, Any]]:
    """``colorize`` timings at ``rt["sizes"]`` through ``colorbench.profiler`` (one entry per size)."""
    from colorbench import profiler

    sizes = sorted(rt.get("sizes") or [], key=lambda s: parse_size(s)[0] * parse_size(s)[1])  # ascending: RSS
    out = []
    for size in sizes:
        h, w = parse_size(size)
        large = h * w / 1e6 >= float(rt.get("large_mp", 4.0))
        repeats = int(rt.get("repeats_large", 1) if large else rt.get("repeats", 3))
        warmup = int(rt.get("warmup_large", 0) if large else rt.get("warmup", 1))
        try:
            res = profiler.profile_colorize(method, [(w, h)], device=device, warmup=warmup, repeats=repeats)
            r = dict(res[0]) if isinstance(res, list) else dict(res)
            entry = {"size": f"{w}x{h}", "status": r.get("status", "ok"),
                     "ms_per_image": r.get("ms_per_image"), "ms_min": r.get("ms_min"), "ms_max": r.get("ms_max"),
                     "images_per_s": r.get("images_per_s"),
                     "peak_memory_mb": r.get("peak_memory_mb"), "memory_kind": r.get("memory_kind"),
                     "params": r.get("params"), "warmup": warmup, "repeats": repeats}
        except torch.cuda.OutOfMemoryError:
            entry = {"size": f"{w}x{h}", "status": "out of memory"}
        except MemoryError:
            entry = {"size": f"{w}x{h}", "status": "out of memory"}
        for k in ("ms_per_image", "ms_min", "ms_max", "images_per_s", "peak_memory_mb"):
            if isinstance(entry.get(k), float) and math.isfinite(entry[k]):
                entry[k] = round(entry[k], 3)
        out.append(entry)
    return out

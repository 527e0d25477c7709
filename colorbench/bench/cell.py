"""Run one cell: train (through ``colorbench.train``, which checkpoints and resumes itself), evaluate on the test
split, time ``colorize`` at the profile's sizes, and write the cell's record under ``<cache>/<key>/``:

``row.json`` (written last and atomically: its presence means the cell is done), ``per_image.csv`` (one row per
test image), ``hist.npz`` (pooled a/b histograms of truth and prediction, 220 one-unit bins on [-110, 110) for
the plots), ``samples.npz`` (L, true ab and predicted ab of the first test images, float16), ``loss.csv`` (a copy
of the trainer's loss log). A runtime-only cell writes ``row.json`` with its timings only.
"""
from __future__ import annotations

import math
import resource
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colorbench.bench import atomic
from colorbench.bench.grid import Cell, code_hash
from colorbench.registry import create_method, get_method

ROW = "row.json"
ERROR = "error.json"
HIST_EDGES = np.arange(-110, 111, dtype=np.float64)


def resolve_device(device: str) -> torch.device:
    """``auto`` → cuda, then mps, then cpu; anything else as given."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def parse_size(size: str) -> tuple[int, int]:
    """``"750x500"`` (width × height, as the C2F paper writes it) → ``(H, W) = (500, 750)``."""
    w, h = (int(s) for s in str(size).lower().split("x"))
    return h, w


def rss_mb() -> float:
    """Peak resident set size of this process in MB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def provenance(device: torch.device) -> dict[str, Any]:
    from colorbench.checkpoint import git_commit, versions

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
    ``error.json``, so the next run tries again), so one broken method never stops the grid.
    """
    folder = cache / cell.key
    if force and folder.exists():
        shutil.rmtree(folder)
    if not force and (row := done(cell, cache)) is not None:
        return row, False
    folder.mkdir(parents=True, exist_ok=True)
    atomic.write_json(folder / "cell.json", {"kind": cell.kind, "method": cell.method, "variant": cell.variant,
                                             "dataset": cell.dataset, "seed": cell.seed, "settings": cell.settings})
    base = {"key": cell.key, "kind": cell.kind, "method": cell.method, "variant": cell.variant,
            "dataset": cell.dataset, "seed": cell.seed, "code_hash": code_hash(cell.method)}
    start = time.perf_counter()
    try:
        if cell.kind == "train":
            row = {**base, **_train_and_evaluate(cell, folder, device, progress)}
        else:
            method = create_method(cell.method, variant=cell.variant, **cell.settings["overrides"]).to(device)
            row = {**base, "status": "ok", "metrics": {}, "runtime": _runtime(method, cell.settings["runtime"], device),
                   "provenance": {**provenance(device), "pretrained": _pretrained(method), "train_steps": 0,
                                  "config": cell.settings["config"], "overrides": cell.settings["overrides"]}}
    except Exception as exc:  # one cell's failure must not take the grid down
        err = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        atomic.write_text(folder / ERROR, traceback.format_exc())
        return {**base, "status": "failed", "error": err, "metrics": {}, "runtime": [], "provenance": {}}, True
    row["provenance"]["cell_seconds"] = round(time.perf_counter() - start, 3)
    (folder / ERROR).unlink(missing_ok=True)
    atomic.write_json(folder / ROW, row)
    return row, True


def _pretrained(method: Any) -> dict[str, bool]:
    try:
        return dict(method.pretrained_flags())
    except Exception:
        return {}


def _seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _train_and_evaluate(cell: Cell, folder: Path, device: torch.device, progress: bool) -> dict[str, Any]:
    from colorbench import train as trainer
    from colorbench.data import build_dataset

    s = cell.settings
    data, tr, ev = s["data"], s["train"], s["eval"]
    _seed_everything(cell.seed)
    opts = dict(data.get("options") or {})
    if data.get("data_dir"):
        opts["data_dir"] = data["data_dir"]
    length = ({"epochs": int(tr["epochs"])} if tr.get("epochs") else {"steps": int(tr["steps"])}) \
        if get_method(cell.method).trainable else {"steps": 0}
    result = trainer.train(cell.method, cell.dataset, variant=cell.variant, overrides=s["overrides"], **length,
                           batch_size=int(tr["batch_size"]), size=int(data["size"]), seed=cell.seed, device=device,
                           out_dir=folder / "train", ckpt_every=tr.get("ckpt_every"), data_options=opts,
                           num_workers=int(tr.get("num_workers", 0)), progress=progress)
    method = result.method
    t1 = time.perf_counter()
    test_size = int(data.get("test_size") or data["size"])
    test_ds = build_dataset(cell.dataset, ev.get("split", "test"), size=test_size, seed=cell.seed, **opts)
    metrics, na, records, hist, samples = _evaluate(method, test_ds, ev, device, cell)
    eval_seconds = time.perf_counter() - t1
    runtime = _runtime(method, s["runtime"], device)
    atomic.write_csv(folder / "per_image.csv", records)
    _save_npz(folder / "hist.npz", **hist)
    _save_npz(folder / "samples.npz", **samples)
    loss_log = folder / "train" / "train_log.csv"
    if loss_log.is_file():
        atomic.write_bytes(folder / "loss.csv", loss_log.read_bytes())
    prov = {
        **provenance(device), "pretrained": _pretrained(method), "train_steps": int(result.steps),
        "train_seconds": round(float(result.train_seconds), 3),
        "train_images_per_s": round(float(result.images_per_s), 2) if result.steps else None,
        "eval_seconds": round(eval_seconds, 3), "peak_memory_mb": round(float(result.peak_memory_mb), 1),
        "checkpoint": str(result.checkpoint) if result.checkpoint else None,
        "batch_size": int(tr["batch_size"]), "size": int(data["size"]), "test_size": test_size,
        "test_images": len(records), "num_classes": getattr(test_ds, "num_classes", None),
        "histograms": "legacy" if ev.get("legacy_histograms") else "canonical",
        "config": s["config"], "overrides": s["overrides"],
    }
    return {"status": "ok", "metrics": metrics, "na_reasons": na, "runtime": runtime, "provenance": prov}


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic.write_bytes(path, buf.getvalue())


def _evaluate(method: Any, test_ds: Any, ev: dict, device: torch.device, cell: Cell):
    """Stream the test split through ``method.colorize`` and the evaluator."""
    from torch.utils.data import DataLoader, Subset

    from colorbench.evaluator import Evaluator

    if ev.get("max_images"):
        test_ds = Subset(test_ds, range(min(len(test_ds), int(ev["max_images"]))))
    loader = DataLoader(test_ds, batch_size=int(ev.get("batch_size", 8)), shuffle=False)
    evaluator = Evaluator(method_name=cell.method, legacy_histograms=bool(ev.get("legacy_histograms")))
    method.to(device).eval()
    n_samples = int(ev.get("samples", 4))
    hist = {k: np.zeros(220, dtype=np.float64) for k in ("true_a", "true_b", "pred_a", "pred_b")}
    keep: dict[str, list[np.ndarray]] = {"L": [], "ab_true": [], "ab_pred": []}
    with torch.no_grad():
        for batch in loader:
            batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
            pred = method.colorize(batch["L"])
            evaluator.update(pred, batch)
            for name, ab in (("true", batch["ab"]), ("pred", pred)):
                ab_lab = ab.detach().float().cpu().numpy() * 110.0
                hist[f"{name}_a"] += np.histogram(ab_lab[:, 0], bins=HIST_EDGES)[0]
                hist[f"{name}_b"] += np.histogram(ab_lab[:, 1], bins=HIST_EDGES)[0]
            have = sum(len(x) for x in keep["L"])
            if have < n_samples:
                take = n_samples - have
                keep["L"].append(batch["L"][:take].float().cpu().numpy().astype(np.float16))
                keep["ab_true"].append(batch["ab"][:take].float().cpu().numpy().astype(np.float16))
                keep["ab_pred"].append(pred[:take].float().cpu().numpy().astype(np.float16))
    result = evaluator.compute()
    metrics, na = {}, {}
    for k, v in result.items():
        if k.endswith("_note"):  # e.g. lpips_note: why lpips is n/a
            na[k[: -len("_note")]] = str(v)
        elif k in ("n_images", "histogram_form"):
            continue  # provenance: test_images, histograms
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            metrics[k] = float(v)
        elif torch.is_tensor(v) and v.numel() == 1:
            metrics[k] = float(v)
    records = []
    for i, rec in enumerate(getattr(evaluator, "records", []) or []):
        r = {"key": cell.key, "method": cell.method, "variant": cell.variant, "dataset": cell.dataset,
             "seed": cell.seed, "image": i}
        r.update({k: (float(v) if torch.is_tensor(v) else v) for k, v in dict(rec).items()})
        records.append(r)
    samples = {k: (np.concatenate(v) if v else np.zeros((0,), np.float16)) for k, v in keep.items()}
    return metrics, na, records, hist, samples


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
                     "ms_per_image": r.get("ms_per_image"), "images_per_s": r.get("images_per_s"),
                     "peak_memory_mb": r.get("peak_memory_mb"), "memory_kind": r.get("memory_kind"),
                     "params": r.get("params"), "warmup": warmup, "repeats": repeats}
        except torch.cuda.OutOfMemoryError:
            entry = {"size": f"{w}x{h}", "status": "out of memory"}
        except MemoryError:
            entry = {"size": f"{w}x{h}", "status": "out of memory"}
        for k in ("ms_per_image", "images_per_s", "peak_memory_mb"):
            if isinstance(entry.get(k), float) and math.isfinite(entry[k]):
                entry[k] = round(entry[k], 3)
        out.append(entry)
    return out

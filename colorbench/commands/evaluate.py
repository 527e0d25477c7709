"""``colorbench eval CHECKPOINT --dataset D [--split test]``: score a trained method, print and append a CSV row."""
from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from colorbench.color import AB_SCALE, network_to_rgb
from colorbench.errors import UserError
from colorbench.method import Method

HELP = "evaluate a trained checkpoint on a dataset split: print the metrics and append a row to a CSV file"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="run folder or checkpoint folder (from `colorbench train`)")
    p.add_argument("--dataset", default=None, help="dataset name (default: the one it was trained on)")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--size", type=int, default=None, help="crop size in px (default: the training size)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    p.add_argument("--data-dir", default=None, help="where the dataset lives (folder/cifar10)")
    p.add_argument("--csv", type=Path, default=None, help="CSV to append the row to (default: <run folder>/eval.csv)")


def _fallback_metrics(pred_ab: torch.Tensor, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Per-image MAE of ab (Lab units) and PSNR (dB, data range 1) when ``colorbench.evaluator`` is absent."""
    mae = (pred_ab - batch["ab"]).abs().mean(dim=(1, 2, 3)) * AB_SCALE
    rgb = network_to_rgb(batch["L"], pred_ab)
    mse = (rgb - batch["rgb"]).pow(2).mean(dim=(1, 2, 3)).clamp_min(1e-12)
    return {"mae_ab": mae, "psnr": -10 * torch.log10(mse)}


@torch.no_grad()
def evaluate_method(method: Method, dataset: Dataset, batch_size: int = 16) -> dict[str, float]:
    """Colourise every item of ``dataset`` and score it with ``colorbench.evaluator.Evaluator`` when it exists
    (else MAE of ab in Lab units and PSNR); returns dataset-level metrics plus ``n_images``."""
    try:
        from colorbench.evaluator import Evaluator

        evaluator = Evaluator(method_name=method.name, keep_records=False)
    except ImportError:
        evaluator = None
    sums: dict[str, float] = {}
    n = 0
    method.eval()
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        batch = {k: v.to(method.device) if torch.is_tensor(v) else v for k, v in batch.items()}
        pred = method.colorize(batch["L"]).float()
        n += pred.shape[0]
        if evaluator is not None:
            try:
                evaluator.update(pred, batch)
            except ValueError as exc:  # NaN/inf predictions, wrong shapes: the evaluator names them
                raise UserError(str(exc).splitlines()[0]) from None
        else:
            for key, values in _fallback_metrics(pred, batch).items():
                sums[key] = sums.get(key, 0.0) + float(values.sum())
    if evaluator is not None:
        out = {k: float(v) for k, v in evaluator.compute().items()
               if isinstance(v, (int, float)) or (torch.is_tensor(v) and v.numel() == 1)}
    else:
        out = {k: v / max(n, 1) for k, v in sums.items()}
    out["n_images"] = n
    return out


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append ``row`` to CSV ``path``, writing the header when the file is new (new keys: a new header line is
    not written; they are appended at the end of the existing columns on a rewrite)."""
    rows: list[dict[str, Any]] = []
    fields = list(row)
    if path.is_file():
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            fields = list(reader.fieldnames or []) + [k for k in row if k not in (reader.fieldnames or [])]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows + [row])


def run(args: argparse.Namespace) -> int:
    from colorbench.checkpoint import load_method, read_config, resolve
    from colorbench.data import build_dataset
    from colorbench.train.distributed import resolve_device

    ckpt = resolve(args.checkpoint)
    record = read_config(ckpt)
    method = load_method(ckpt, map_location=resolve_device(args.device))
    dataset_name = args.dataset or record.get("dataset") or "sample"
    size = args.size or record.get("size") or getattr(method.config, "image_size", 64)
    options = {"data_dir": args.data_dir} if args.data_dir else {}
    dataset = build_dataset(dataset_name, args.split, size=int(size), seed=int(record.get("seed", 0)), **options)
    metrics = evaluate_method(method, dataset, args.batch_size)
    for key, value in metrics.items():
        print(f"{key:>16}  {value:.4f}" if isinstance(value, float) and math.isfinite(value) else f"{key:>16}  {value}")
    run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt
    target = args.csv or run_dir / "eval.csv"
    row = {"method": record.get("method"), "variant": record.get("variant", "default"), "dataset": dataset_name,
           "split": args.split, "size": size, "seed": record.get("seed"), "step": record.get("step"),
           **metrics, "pretrained": record.get("pretrained"), "device": str(method.device),
           "git_commit": record.get("git_commit"), "checkpoint": str(ckpt)}
    append_row(target, row)
    print(f"row appended to {target}")
    return 0

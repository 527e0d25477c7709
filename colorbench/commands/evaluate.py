"""``colorbench eval CHECKPOINT [--dataset D]``: score a trained method on the dataset's evaluation protocol (the
split, size and images the bench scores), print the figures and append a CSV row."""
from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colorbench.errors import UserError

if TYPE_CHECKING:  # torch loads in run(), so `colorbench eval --help` answers at once
    from torch.utils.data import Dataset

    from colorbench.method import Method

HELP = "evaluate a trained checkpoint on a dataset split: print the metrics and append a row to a CSV file"
EXAMPLES = """examples:
  colorbench eval runs/pix2pix-default-openphotos-s0
  colorbench eval runs/pix2pix-default-openphotos-s0 --split val --max-images 100 --csv scores.csv
  colorbench eval runs/pix2pix-default-openphotos-s0/checkpoints/step_0000500 --dataset folder --data-dir ~/photos"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="run folder or checkpoint folder (from `colorbench train` or a bench cell)")
    p.add_argument("--dataset", default=None, help="dataset name (default: the one it was trained on)")
    p.add_argument("--split", default=None, choices=["train", "val", "test"],
                   help="split to score (default: the dataset's evaluation protocol, as the bench scores it)")
    p.add_argument("--size", type=int, default=None,
                   help="square crop in px (default: the dataset's evaluation protocol, as the bench scores it)")
    p.add_argument("--max-images", type=int, default=None,
                   help="score only the first N images of the split (default: the protocol's, usually all)")
    p.add_argument("--batch-size", type=int, default=16,
                   help="images per colorize call (the figures do not depend on it)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    p.add_argument("--data-dir", default=None, help="where the dataset lives (folder, cifar10; default: "
                   "a recipe's own data_dir; built-in sets need none)")
    p.add_argument("--data", metavar="KEY=VALUE", action="append", default=[], dest="data_items",
                   help="a folder dataset's option (repeatable; as train's --data), over the ones the run was trained "
                   "with (default: those, from its record)")
    p.add_argument("--csv", type=Path, default=None, help="CSV to append the row to (default: <run folder>/eval.csv)")


def evaluate_method(method: Method, dataset: Dataset, batch_size: int = 16,
                    max_images: int | None = None) -> dict[str, float]:
    """Score ``method`` on ``dataset`` with :func:`colorbench.evaluator.evaluate` (the bench's own loop): the
    dataset-level figures plus ``n_images``. NaN/inf predictions are a :class:`UserError` naming the images."""
    from colorbench.evaluator import evaluate

    try:
        result = evaluate(method, dataset, batch_size=batch_size, max_images=max_images, keep_records=False)
    except ValueError as exc:  # NaN/inf predictions, wrong shapes: the evaluator names them
        raise UserError(str(exc).splitlines()[0]) from None
    return {**result.figures, "n_images": result.n_images}


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
    from colorbench.data import Protocol, build_dataset, protocol_for
    from colorbench.train.distributed import resolve_device

    ckpt = resolve(args.checkpoint)
    record = read_config(ckpt)
    method = load_method(ckpt, map_location=resolve_device(args.device))
    dataset_name = args.dataset or record.get("dataset") or "openphotos"
    declared = protocol_for(dataset_name)
    protocol = Protocol(args.split or declared.split, args.size or declared.size,
                        args.max_images if args.max_images is not None else declared.max_images, declared.crops)
    custom = protocol != declared
    from colorbench.data.options import parse_data

    options = {**(record.get("data_options") or {} if dataset_name == record.get("dataset") else {}),
               **parse_data(args.data_items, dataset_name), **({"data_dir": args.data_dir} if args.data_dir else {})}
    dataset = build_dataset(dataset_name, protocol.split, size=protocol.size, seed=int(record.get("seed", 0)),
                            **options, **protocol.dataset_options())
    metrics = evaluate_method(method, dataset, args.batch_size, protocol.max_images)
    print(f"checkpoint {ckpt}")
    print(f"dataset {dataset_name}: {protocol.split} split at {protocol.size} px, {metrics['n_images']} images "
          + ("(NOT the dataset's protocol: " + declared.describe() + ")" if custom else "(the dataset's protocol, "
             "as the bench scores it)"))
    for key, value in metrics.items():
        print(f"{key:>18}  {value:.4f}" if isinstance(value, float) and math.isfinite(value) else f"{key:>18}  {value}")
    run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt
    target = args.csv or run_dir / "eval.csv"
    row = {"method": record.get("method"), "variant": record.get("variant", "default"), "dataset": dataset_name,
           "split": protocol.split, "size": protocol.size, "protocol": "custom" if custom else "dataset",
           "seed": record.get("seed"), "step": record.get("step"),
           **metrics, "pretrained": record.get("pretrained"), "device": str(method.device),
           "git_commit": record.get("git_commit"), "checkpoint": str(ckpt)}
    append_row(target, row)
    print(f"row appended to {target}")
    return 0

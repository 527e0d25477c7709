"""``colorbench eval CHECKPOINT [--dataset D | --protocol P --data-dir DIR]``: score a trained method on the dataset's
evaluation protocol (the split, size and images the bench scores), print the figures and append a CSV row that
records the protocol and its preprocessing (crop, resize filter, size).

``--protocol`` names a pinned protocol (``colorbench list datasets``: ``imagenet_val5k``, ``imagenet_ctest10k``,
``coco_stuff_val``, ``ade20k_val``) scored exactly as declared on the user's copy of its images: it takes no
``--split``, ``--size`` or ``--max-images``, and refuses a changed image (sha256 recorded on first use)."""
from __future__ import annotations

import argparse
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
  colorbench eval runs/pix2pix-default-openphotos-s0/checkpoints/step_0000500 --dataset folder --data-dir ~/photos
  colorbench eval runs/pix2pix-default-openphotos-s0 --protocol imagenet_val5k --data-dir ~/ILSVRC2012_img_val
  colorbench eval cic:eccv16 --protocol imagenet_val5k --data-dir ~/ILSVRC2012_img_val   # a released model
  colorbench eval runs/pix2pix-default-openphotos-s0 --metrics field     # + both FIDs and LPIPS (weights)"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="run folder or checkpoint folder (from `colorbench train` or a bench cell), or "
                   "a released model's zoo name METHOD:ENTRY (`colorbench weights list`), evaluated without training")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--dataset", default=None, help="dataset name (default: the one it was trained on)")
    which.add_argument("--protocol", default=None,
                       help="a pinned protocol (e.g. imagenet_val5k, coco_stuff_val), scored exactly as declared on "
                            "your copy of its images (--data-dir); takes no --split, --size or --max-images "
                            "(default: none, score --dataset's protocol)")
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
    p.add_argument("--metrics", default=None, metavar="NAMES", help=METRICS_HELP)


METRICS_HELP = ("metrics beyond the default weight-free set: names and groups, comma-separated (paper, field, all; "
                "see `colorbench list metrics`), e.g. --metrics field or --metrics fid,lpips_alex; the files the "
                "weighted ones need (`colorbench weights list`) are checked before any work")


def evaluate_method(method: Method, dataset: Dataset, batch_size: int = 16,
                    max_images: int | None = None, metrics: str | None = None) -> dict[str, float]:
    """Score ``method`` on ``dataset`` with :func:`colorbench.evaluator.evaluate` (the bench's own loop): the
    dataset-level figures plus ``n_images``. NaN/inf predictions are a :class:`UserError` naming the images."""
    from colorbench.evaluator import evaluate

    try:
        result = evaluate(method, dataset, batch_size=batch_size, max_images=max_images, keep_records=False,
                          metrics=metrics)
    except ValueError as exc:  # NaN/inf predictions, wrong shapes: the evaluator names them
        raise UserError(str(exc).splitlines()[0]) from None
    return {**result.figures, "n_images": result.n_images}


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append ``row`` to CSV ``path`` (header when the file is new; new keys extend the header) through the atomic
    writer: a failed write (full disk, file-size limit) leaves the earlier rows as they were."""
    from colorbench import _atomic

    _atomic.append_csv_row(path, row)


def run(args: argparse.Namespace) -> int:
    from colorbench import _atomic, checks, pretrained
    from colorbench.checkpoint import load_method, read_config, resolve
    from colorbench.data import Protocol, build_dataset, dataset_info, protocol_for
    from colorbench.metrics.table import METRICS, select
    from colorbench.metrics.weighted import require
    from colorbench.train.distributed import resolve_device

    checks.optional_integer(args.size, "--size", minimum=checks.MIN_SIZE, maximum=checks.MAX_SIZE,
                            fix="give the square crop in px, or leave it out for the protocol's")
    checks.optional_integer(args.max_images, "--max-images", minimum=1, fix="give how many images to score")
    checks.integer(args.batch_size, "--batch-size", minimum=1, fix="give the images per colorize call, e.g. 16")
    require(m for m in select(args.metrics) if METRICS[m].weights)  # a missing file: exit 2 before any work
    if pretrained.is_zoo_name(args.checkpoint):  # a released model: no run folder, rows under runs/zoo/
        target = args.csv or pretrained.zoo_eval_dir(args.checkpoint) / "eval.csv"
        _atomic.check_writable(target, "--csv")  # before the evaluation, not after it
        method = load_method(args.checkpoint, map_location=resolve_device(args.device))
        record, ckpt = pretrained.zoo_record(args.checkpoint, method.weights_sha256), args.checkpoint
    else:
        ckpt = resolve(args.checkpoint)
        run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt
        target = args.csv or run_dir / "eval.csv"
        _atomic.check_writable(target, "--csv")  # before the evaluation, not after it
        record = read_config(ckpt)
        method = load_method(ckpt, map_location=resolve_device(args.device))
    if args.protocol:
        fixed = [flag for flag, value in (("--split", args.split), ("--size", args.size),
                                          ("--max-images", args.max_images)) if value is not None]
        if fixed:
            raise UserError(f"--protocol {args.protocol} fixes the split, size and images; drop {', '.join(fixed)} "
                            "(or use --dataset to score another way)")
    dataset_name = args.protocol or args.dataset or record.get("dataset") or "openphotos"
    declared = protocol_for(dataset_name)
    protocol = Protocol(args.split or declared.split, args.size or declared.size,
                        args.max_images if args.max_images is not None else declared.max_images, declared.crops)
    custom = protocol != declared
    from colorbench.data.options import parse_data

    options = {**(record.get("data_options") or {} if dataset_name == record.get("dataset") else {}),
               **parse_data(args.data_items, dataset_name), **({"data_dir": args.data_dir} if args.data_dir else {})}
    dataset = build_dataset(dataset_name, protocol.split, size=protocol.size, seed=int(record.get("seed", 0)),
                            **options, **protocol.dataset_options())
    metrics = evaluate_method(method, dataset, args.batch_size, protocol.max_images, args.metrics)
    print(f"checkpoint {ckpt}")
    print(f"dataset {dataset_name}: {protocol.split} split at {protocol.size} px, {metrics['n_images']} images "
          + ("(NOT the dataset's protocol: " + declared.describe() + ")" if custom else "(the dataset's protocol, "
             "as the bench scores it)"))
    if getattr(dataset, "preprocessing", ""):
        print(f"preprocessing: {dataset.preprocessing}")
    for key, value in metrics.items():
        print(f"{key:>18}  {value:.4f}" if isinstance(value, float) and math.isfinite(value) else f"{key:>18}  {value}")
    name = dataset_info(dataset_name).name  # a recipe given by path is named by its recipe
    row = {"method": record.get("method"), "variant": record.get("variant", "default"), "dataset": name,
           "split": protocol.split, "size": protocol.size, "protocol": "custom" if custom else "dataset",
           "preprocess": getattr(dataset, "preprocessing", ""),
           "seed": record.get("seed"), "step": record.get("step"),
           **metrics, "pretrained": record.get("pretrained"), "device": str(method.device),
           "git_commit": record.get("git_commit"), "checkpoint": str(ckpt)}
    append_row(target, row)
    print(f"row appended to {target}")
    return 0

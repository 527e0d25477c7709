"""``colorbench compare RUN_OR_ZOO ... --protocol P``: one table over run folders and released models on one
protocol, from the results layer (intervals over images, marks, flags) as the bench's ``table.md``. What was not
yet scored on the protocol is scored (and kept beside it, :mod:`colorbench.compare`); what was is reused."""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = "one table over trained runs and released models (zoo names) on one protocol; scores only what is missing"
EXAMPLES = """examples:
  colorbench compare runs/pix2pix-default-openphotos-s0 runs/unet-default-openphotos-s0 cic:eccv16 --protocol openphotos
  colorbench compare cic:eccv16 ideepcolor:siggraph17 --protocol imagenet_val5k --data-dir ~/val --out compare.md"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("targets", nargs="+", metavar="RUN_OR_ZOO",
                   help="run folders, checkpoint folders or zoo names METHOD:ENTRY (`colorbench weights list`)")
    p.add_argument("--protocol", required=True,
                   help="the dataset whose evaluation protocol every target is scored on (e.g. imagenet_val5k)")
    p.add_argument("--data-dir", default=None,
                   help="where the protocol's images live (as `colorbench eval`; default: none, the dataset's own)")
    p.add_argument("--max-images", type=int, default=None,
                   help="score only the first N images (a custom protocol, kept apart from the full one; "
                   "default: all)")
    p.add_argument("--batch-size", type=int, default=16, help="images per colorize call (figures do not depend on it)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    p.add_argument("--out", type=Path, default=None,
                   help="also write the table to this Markdown file (default: print only)")


def run(args: argparse.Namespace) -> int:
    from colorbench import _atomic as atomic
    from colorbench import compare
    from colorbench.errors import UserError

    if len(set(args.targets)) != len(args.targets):
        raise UserError("a target is named twice; name each run folder or zoo model once")
    targets = [compare.target(t) for t in args.targets]  # every name checked before any scoring
    rows, per_image = [], []
    for t in targets:
        row, records, reused = compare.scores(t, args.protocol, args.data_dir, args.max_images, args.batch_size,
                                              args.device)
        print(f"{t.given}: {'reused' if reused else 'scored'} {row['n_images']} images on {row['protocol']}")
        rows.append(row)
        per_image.append(records)
    text = compare.table(targets, rows, per_image, args.protocol)
    print(text)
    if args.out:
        atomic.write_text(args.out, f"# `colorbench compare` on `{args.protocol}`\n\n{text}\n")
    return 0

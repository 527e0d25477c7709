"""``colorbench train METHOD --dataset D``: train one method; the same command again resumes it."""
from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path
from typing import Any

from colorbench.checks import parse_sets
from colorbench.errors import UserError
from colorbench.train.settings import LOGGERS, PRECISIONS, TrainSettings, default

HELP = ("train a method on a dataset, with a progress bar, CSV (or TensorBoard) logs, validation image grids and "
        "checkpoints; running the same command again resumes from the newest checkpoint")
RETENTION = ("checkpoints go to RUN/checkpoints/step_NNNNNNN/ every --ckpt-every steps and at the end; the newest "
             "--keep of them stay, and only the newest (named by RUN/checkpoints/LAST) keeps train_state.pt, the "
             "optimiser and RNG state a resume needs; the older ones hold weights only (enough for eval and "
             "colorize). --keep-best METRIC also keeps RUN/checkpoints/best-METRIC/ (weights only), never pruned.")
EXAMPLES = """examples:
  colorbench train pix2pix --dataset openphotos --steps 500
  colorbench train pix2pix --dataset openphotos --steps 500    # again: resumes
  colorbench train unet_l1 --dataset folder --data-dir ~/photos --size 128 --set lr=1e-4 --variant tarres
  colorbench train unet_l1 --dataset folder --data-dir ~/photos --data ratios=0.7,0.15,0.15 --batch-size 16
  colorbench train pix2pix --dataset openphotos --logger tensorboard --keep-best psnr --keep 3
  colorbench train gorriz --config my_run.toml --out runs/gorriz-try
  torchrun --nproc_per_node=2 -m colorbench.cli train unet_l1 --dataset openphotos    # DDP"""

# What a --config TOML's [train] table may hold beside the trainer settings (the run's variant and dataset), and
# the settings only the command line sets (how this invocation runs, not what the run is)
RUN_KEYS = ("variant", "dataset")
COMMAND_LINE_ONLY = ("progress", "compile", "cuda_graphs")
TOML_KEYS = tuple(k for k in TrainSettings.keys() if k not in COMMAND_LINE_ONLY)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("method", help="registered method name (`colorbench list methods`)")
    p.add_argument("--dataset", default=None, help="dataset name (`colorbench list datasets`); default: openphotos")
    p.add_argument("--config", metavar="F.toml", type=Path,
                   help="TOML file: top-level keys are config overrides, a [train] table holds trainer settings "
                   "(default: none; the flags win over it)")
    p.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
                   help="override one config field (repeatable; default: the variant's config); a wrong key lists the "
                   "valid ones")
    p.add_argument("--variant", default=None, help="named variant declared by the method (default: default)")
    p.add_argument("--seed", type=int, default=None,
                   help=f"seed of initialisation, batch order and noise (default {default('seed')})")
    p.add_argument("--steps", type=int, default=None,
                   help=f"training steps in total (default {default('steps')} unless --epochs)")
    p.add_argument("--epochs", type=int, default=None,
                   help="train for this many epochs instead of --steps (default: steps, not epochs)")
    p.add_argument("--batch-size", type=int, default=None, help="per process (default: the config's, else 16)")
    p.add_argument("--size", type=int, default=None,
                   help="square training crop in px; sets the method's image_size (default: the config's, else 64)")
    p.add_argument("--device", default=None, help=f"auto | cpu | cuda | cuda:N | mps (default {default('device')})")
    p.add_argument("--precision", default=None, choices=PRECISIONS,
                   help=f"auto = bf16 autocast on CUDA, fp32 elsewhere (default {default('precision')})")
    p.add_argument("--val-every", type=int, default=None,
                   help=f"validate every N steps (default {default('val_every')}; 0 = never)")
    p.add_argument("--ckpt-every", type=int, default=None,
                   help=f"checkpoint every N steps (default {default('ckpt_every')}) and at the end")
    p.add_argument("--keep", type=int, default=None, metavar="N",
                   help=f"step checkpoints to keep, the newest (default {default('keep_checkpoints')}); only the "
                   "newest keeps train_state.pt")
    p.add_argument("--keep-best", default=None, metavar="METRIC",
                   help="also keep checkpoints/best-METRIC/, the validation step with the best METRIC (psnr, ssim, "
                        "mae_ab, ...: any metric declared higher- or lower-is-better; default: none)")
    p.add_argument("--logger", default=None, choices=LOGGERS,
                   help="csv: train_log.csv, val_log.csv, val_grids/*.png; tensorboard: the CSV logs plus "
                        "TensorBoard events in RUN/tensorboard/ (pip install 'colorbench[tensorboard]') "
                        f"(default {default('logger')})")
    p.add_argument("--grid-every", type=int, default=None, metavar="N",
                   help="every N steps and at the end, log a grid of the first 4 val images: grey input, "
                        f"prediction, truth (default {default('grid_every')}; 0 = never)")
    p.add_argument("--num-workers", type=int, default=None,
                   help=f"data-loader worker processes (default {default('num_workers')})")
    p.add_argument("--nonfinite-patience", type=int, default=None, metavar="N",
                   help=f"stop after N consecutive steps with a non-finite loss (default "
                   f"{default('nonfinite_patience')}: the first one)")
    p.add_argument("--data-dir", default=None, help="where the dataset lives (folder, cifar10; default: "
                   "a recipe's own data_dir; built-in sets need none)")
    p.add_argument("--data", metavar="KEY=VALUE", action="append", default=[], dest="data_items",
                   help="a folder dataset's option (repeatable): resize=N|auto|crop|none, ratios=0.8,0.1,0.1, "
                   "split_seed=N, manifest=F.csv, crop=square|pad, cache=disk|memory|false, labels=none|folders, "
                   "flip=true|false; recorded in run.json (default: the dataset's own; colorbench.data.options)")
    p.add_argument("--out", type=Path, default=None,
                   help="run folder (default runs/<method>-<variant>-<dataset>-s<seed>)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress display (logs still go to the run folder); when stderr is not a terminal the "
                        "progress is plain log lines, not a bar (default: shown)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the networks (opt-in; on the CPU it needs a C++ compiler)")
    p.add_argument("--cuda-graphs", action="store_true",
                   help="the whole training step in one CUDA graph (opt-in; refused, with the reason, off CUDA or "
                        "for a method whose step cannot be captured; a log row waits for the GPU, so raise "
                        "--log-every)")
    p.epilog = f"{RETENTION}\n\n{p.epilog}" if p.epilog else RETENTION  # the examples stay last


def read_toml(path: Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(config overrides, [train] table)`` from a TOML file (None: both empty); an unknown [train] key raises."""
    if path is None:
        return {}, {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"--config {path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"--config {path}: is a folder; give a TOML file") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"--config {path}: not UTF-8 text (byte {exc.start}); TOML files are UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"--config {path}: not valid TOML ({exc})") from None
    settings = data.pop("train", {})
    valid = (*TOML_KEYS, *RUN_KEYS)
    unknown = sorted(set(settings) - set(valid))
    if unknown:
        raise UserError(f"--config {path}: unknown [train] keys {unknown}; valid: {', '.join(valid)}")
    return data, settings


def settings_from(args: argparse.Namespace, table: dict[str, Any]) -> TrainSettings:
    """The run's :class:`TrainSettings`: the command's defaults, under the TOML's ``[train]`` values, under the
    flags (a ``--steps`` or ``--epochs`` flag replaces both length keys of the TOML); every value checked and named
    as the user gave it (a TOML value a flag replaces is checked too)."""
    toml = TrainSettings.check_values({k: v for k, v in table.items() if k not in RUN_KEYS},
                                      {k: f"--config {args.config} [train] {k}" for k in table})
    flags = TrainSettings.check_values({k: getattr(args, k) for k in TOML_KEYS if getattr(args, k, None) is not None})
    given = {**toml, **flags}
    if "steps" in flags or "epochs" in flags:  # a flag's length replaces the TOML's
        given = {**given, "steps": flags.get("steps"), "epochs": flags.get("epochs")}
    return TrainSettings.command(given).replace(progress=not args.no_progress, compile=args.compile,
                                                cuda_graphs=args.cuda_graphs)


def run(args: argparse.Namespace) -> int:
    from colorbench.config import build_config
    from colorbench.registry import get_method
    from colorbench.train import resolve, train

    cls = get_method(args.method)
    overrides, table = read_toml(args.config)
    if overrides:  # the file's values, named as the file's, before the --set ones
        build_config(cls, overrides, where=f"--config {args.config}:")
    overrides.update(parse_sets(args.overrides))
    settings = settings_from(args, table)  # one check of every setting before anything loads
    variant = args.variant if args.variant is not None else table.get("variant", "default")
    dataset = args.dataset if args.dataset is not None else table.get("dataset", "openphotos")
    from colorbench.data.options import parse_data

    data_options = {**parse_data(args.data_items, dataset), **({"data_dir": args.data_dir} if args.data_dir else {})}
    spec = resolve(cls, dataset, settings, variant=variant, overrides=overrides, data_options=data_options)
    from colorbench.data import dataset_label

    out = args.out or Path("runs") / f"{args.method}-{variant}-{dataset_label(dataset)}-s{settings.seed}"
    if _is_main():
        from colorbench import _atomic

        _atomic.check_writable(out, "--out", folder=True)  # before any data loads or step runs
    from colorbench.train.loop import finished

    if (last := finished(spec, out)) is not None:  # before any data is built (every rank: none trains)
        if _is_main():
            print(f"{out} already holds {args.method} [{variant}] on {dataset_label(dataset)} trained to step "
                  f"{spec.settings.steps}: nothing to do (a larger --steps continues it; another --out starts a "
                  "separate run)")
            print(f"checkpoint: {last}")
        return 0
    result = train(spec, out_dir=out)
    if result.world_size > 1 and not _is_main():
        return 0
    losses = ", ".join(f"{k} {v:.4g}" for k, v in result.losses.items()) or "(nothing left to train)"
    name = dataset_label(dataset)
    print(f"{args.method} [{variant}] on {name}: step {result.steps} ({result.steps - result.start_step} this run), "
          f"{result.images_per_s:.1f} images/s, {result.train_seconds:.1f} s training, "
          f"peak memory {result.peak_memory_mb:.0f} MB on {result.device}; last losses: {losses}")
    if result.val:
        print("validation: " + ", ".join(f"{k} {v:.4g}" for k, v in result.val[-1].items() if k != "step"))
    print(f"checkpoint: {result.checkpoint}", file=sys.stdout)
    return 0


def _is_main() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"

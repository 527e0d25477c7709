"""``colorbench train METHOD --dataset D``: train one method; the same command again resumes it."""
from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path
from typing import Any

from colorbench.errors import UserError

HELP = ("train a method on a dataset, with a progress bar, CSV (or TensorBoard) logs, validation image grids and "
        "checkpoints; running the same command again resumes from the newest checkpoint")
RETENTION = ("checkpoints go to RUN/checkpoints/step_NNNNNNN/ every --ckpt-every steps and at the end; the newest "
             "--keep of them stay, and only the newest (named by RUN/checkpoints/LAST) keeps train_state.pt, the "
             "optimiser and RNG state a resume needs; the older ones hold weights only (enough for eval and "
             "colorize). --keep-best METRIC also keeps RUN/checkpoints/best-METRIC/ (weights only), never pruned.")
EXAMPLES = """examples:
  colorbench train pix2pix --dataset sample --steps 500
  colorbench train pix2pix --dataset sample --steps 500    # again: resumes
  colorbench train unet_l1 --dataset folder --data-dir ~/photos --size 128 --set lr=1e-4 --variant tarres
  colorbench train pix2pix --dataset sample --logger tensorboard --keep-best psnr --keep 3
  colorbench train gorriz --config my_run.toml --out runs/gorriz-try
  torchrun --nproc_per_node=2 -m colorbench.cli train unet_l1 --dataset sample    # DDP"""

# Trainer settings a --config TOML may hold in its [train] table (the command-line flags win over them).
TRAIN_KEYS = ("steps", "epochs", "batch_size", "size", "seed", "device", "precision", "val_every", "ckpt_every",
              "num_workers", "variant", "dataset", "nonfinite_patience", "keep", "keep_best", "logger", "grid_every")
LOGGERS = ("csv", "tensorboard")  # as colorbench.train.logs.LOGGERS (not imported here: it would load torch)
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("method", help="registered method name (`colorbench list methods`)")
    p.add_argument("--dataset", default=None, help="dataset name (`colorbench list datasets`); default: sample")
    p.add_argument("--config", metavar="F.toml", type=Path,
                   help="TOML file: top-level keys are config overrides, a [train] table holds trainer settings "
                   "(default: none; the flags win over it)")
    p.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
                   help="override one config field (repeatable; default: the variant's config); a wrong key lists the "
                   "valid ones")
    p.add_argument("--variant", default=None, help="named variant declared by the method (default: default)")
    p.add_argument("--seed", type=int, default=None, help="seed of initialisation, batch order and noise (default 0)")
    p.add_argument("--steps", type=int, default=None, help="training steps in total (default 1000 unless --epochs)")
    p.add_argument("--epochs", type=int, default=None,
                   help="train for this many epochs instead of --steps (default: steps, not epochs)")
    p.add_argument("--batch-size", type=int, default=None, help="per process (default: the config's, else 16)")
    p.add_argument("--size", type=int, default=None,
                   help="square training crop in px; sets the method's image_size (default: the config's, else 64)")
    p.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N | mps (default auto)")
    p.add_argument("--precision", default=None, choices=PRECISIONS,
                   help="auto = bf16 autocast on CUDA, fp32 elsewhere (default auto)")
    p.add_argument("--val-every", type=int, default=None, help="validate every N steps (default 250; 0 = never)")
    p.add_argument("--ckpt-every", type=int, default=None, help="checkpoint every N steps (default 250) and at the end")
    p.add_argument("--keep", type=int, default=None, metavar="N",
                   help="step checkpoints to keep, the newest (default 2); only the newest keeps train_state.pt")
    p.add_argument("--keep-best", default=None, metavar="METRIC",
                   help="also keep checkpoints/best-METRIC/, the validation step with the best METRIC (psnr, ssim, "
                        "mae_ab, ...: any metric declared higher- or lower-is-better; default: none)")
    p.add_argument("--logger", default=None, choices=LOGGERS,
                   help="csv: train_log.csv, val_log.csv, val_grids/*.png; tensorboard: the CSV logs plus "
                        "TensorBoard events in RUN/tensorboard/ (pip install 'colorbench[tensorboard]') "
                        "(default csv)")
    p.add_argument("--grid-every", type=int, default=None, metavar="N",
                   help="every N steps and at the end, log a grid of the first 4 val images: grey input, "
                        "prediction, truth (default 500; 0 = never)")
    p.add_argument("--num-workers", type=int, default=None, help="data-loader worker processes (default 0)")
    p.add_argument("--nonfinite-patience", type=int, default=None, metavar="N",
                   help="stop after N consecutive steps with a non-finite loss (default 1: the first one)")
    p.add_argument("--data-dir", default=None, help="where the dataset lives (folder, cifar10; default: "
                   "a recipe's own data_dir; built-in sets need none)")
    p.add_argument("--out", type=Path, default=None,
                   help="run folder (default runs/<method>-<variant>-<dataset>-s<seed>)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress display (logs still go to the run folder); when stderr is not a terminal the "
                        "progress is plain log lines, not a bar (default: shown)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the networks (opt-in; on the CPU it needs a C++ compiler)")
    p.add_argument("--cuda-graphs", action="store_true",
                   help="whole-step CUDA graph (opt-in; refused, with the reason, on the CPU or for a step that "
                        "cannot be captured)")
    p.epilog = f"{RETENTION}\n\n{p.epilog}" if p.epilog else RETENTION  # the examples stay last


def parse_sets(items: list[str]) -> dict[str, str]:
    """``["lr=1e-4", "norm=instance"]`` -> ``{"lr": "1e-4", "norm": "instance"}`` (types coerced by the registry)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set {item!r}: expected KEY=VALUE, e.g. --set lr=1e-4")
        out[key.strip()] = value.strip()
    return out


def read_toml(path: Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(config overrides, trainer settings)`` from a TOML file (None: both empty)."""
    if path is None:
        return {}, {}
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"--config {path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"--config {path}: not valid TOML ({exc})") from None
    settings = data.pop("train", {})
    unknown = sorted(set(settings) - set(TRAIN_KEYS))
    if unknown:
        raise UserError(f"--config {path}: unknown [train] keys {unknown}; valid: {', '.join(TRAIN_KEYS)}")
    return data, settings


def run(args: argparse.Namespace) -> int:
    from colorbench import checks
    from colorbench.config import build_config
    from colorbench.registry import get_method
    from colorbench.train import train

    overrides, settings = read_toml(args.config)
    if overrides:  # the file's values, named as the file's, before the --set ones
        build_config(get_method(args.method), overrides, where=f"--config {args.config}:")
    overrides.update(parse_sets(args.overrides))
    # one check of every setting, named as the user gave it (flag or TOML key), before anything loads
    flags = {key: getattr(args, key) for key in checks.RULES if getattr(args, key, None) is not None}
    settings = checks.train_settings(settings, {key: f"--config {args.config} [train] {key}" for key in settings})
    settings.update(checks.train_settings(flags))  # each value is checked, also a TOML one a flag replaces

    def pick(flag: Any, key: str, default: Any) -> Any:  # a flag wins over the TOML (checked ones are merged)
        if key in checks.RULES:
            return settings.get(key, default)
        return flag if flag is not None else settings.get(key, default)

    precision = pick(args.precision, "precision", "auto")
    if precision not in PRECISIONS:
        raise UserError(f"--config {args.config} [train] precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    variant = pick(args.variant, "variant", "default")
    dataset = pick(args.dataset, "dataset", "sample")
    seed = pick(args.seed, "seed", 0)
    steps, epochs = pick(args.steps, "steps", None), pick(args.epochs, "epochs", None)
    if steps is None and epochs is None:
        steps = 1000
    if steps is not None and epochs is not None:
        raise UserError("give --steps or --epochs, not both")
    build_config(get_method(args.method), overrides, variant)  # a wrong name or key fails before any data loads
    out = args.out or Path("runs") / f"{args.method}-{variant}-{dataset}-s{seed}"
    result = train(
        args.method, dataset, variant=variant, overrides=overrides, steps=steps, epochs=epochs,
        batch_size=pick(args.batch_size, "batch_size", None), size=pick(args.size, "size", None), seed=seed,
        device=pick(args.device, "device", "auto"), precision=precision,
        out_dir=out, val_every=pick(args.val_every, "val_every", 250),
        ckpt_every=pick(args.ckpt_every, "ckpt_every", 250), keep_checkpoints=pick(args.keep, "keep", 2),
        keep_best=pick(args.keep_best, "keep_best", None), logger=_logger(pick(args.logger, "logger", "csv"), args),
        grid_every=pick(args.grid_every, "grid_every", 500),
        num_workers=pick(args.num_workers, "num_workers", 0),
        nonfinite_patience=pick(args.nonfinite_patience, "nonfinite_patience", 1),
        data_options={"data_dir": args.data_dir} if args.data_dir else None, progress=not args.no_progress,
        compile=args.compile, cuda_graphs=args.cuda_graphs,
    )
    if result.world_size > 1 and not _is_main():
        return 0
    losses = ", ".join(f"{k} {v:.4g}" for k, v in result.losses.items()) or "(nothing left to train)"
    print(f"{args.method} [{variant}] on {dataset}: step {result.steps} ({result.steps - result.start_step} this run), "
          f"{result.images_per_s:.1f} images/s, {result.train_seconds:.1f} s training, "
          f"peak memory {result.peak_memory_mb:.0f} MB on {result.device}; last losses: {losses}")
    if result.val:
        print("validation: " + ", ".join(f"{k} {v:.4g}" for k, v in result.val[-1].items() if k != "step"))
    print(f"checkpoint: {result.checkpoint}", file=sys.stdout)
    return 0


def _logger(name: Any, args: argparse.Namespace) -> str:
    if name not in LOGGERS:
        raise UserError(f"--config {args.config} [train] logger {name!r}: use one of {', '.join(LOGGERS)}")
    return name


def _is_main() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"

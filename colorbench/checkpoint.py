"""Checkpoints: a folder per checkpoint, written atomically, readable without executing pickled code.

Layout of one checkpoint folder (``save_checkpoint(path, ...)`` writes ``path/``)::

    path/weights.safetensors   every tensor of ``method.state_dict()`` (DDP wrappers unwrapped), metadata: step
    path/train_state.pt        optimiser states, step, RNG states and the caller's extras; read with
                               ``torch.load(..., weights_only=True)`` only
    path/config.json           method name, variant, resolved config, num_classes, run info (dataset, size, seed),
                               step, package versions and git commit: enough to rebuild the method

The folder is written under a temporary name and renamed into place, so a killed process leaves either the old
checkpoint or the new one, never half of one. A run folder (``colorbench.train``'s ``out_dir``) keeps its
checkpoints under ``checkpoints/`` and names the newest in ``checkpoints/LAST`` (a one-line file, replaced
atomically); :func:`resolve` accepts a run folder, a checkpoint folder, or a file inside one.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import platform
import shutil
import subprocess
import typing
from pathlib import Path
from typing import Any

import torch
from torch import nn

from colorbench.errors import UserError
from colorbench.method import Method

WEIGHTS, STATE, CONFIG, LAST = "weights.safetensors", "train_state.pt", "config.json", "LAST"


# ---------------------------------------------------------------------------------------------- provenance
def versions() -> dict[str, str]:
    """Versions of what shapes the numbers: python, torch, numpy, colorbench, CUDA (if any)."""
    import numpy

    import colorbench

    out = {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
           "colorbench": colorbench.__version__}
    if torch.version.cuda:
        out["cuda"] = str(torch.version.cuda)
    return out


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the colorbench source tree (``+dirty`` when it has local edits), or None outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5)
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


# ------------------------------------------------------------------------------------------------- helpers
def _unwrap(module: nn.Module) -> nn.Module:
    return getattr(module, "module", module) if type(module).__name__ == "DistributedDataParallel" else module


def method_state_dict(method: Method) -> dict[str, torch.Tensor]:
    """``method.state_dict()`` with DDP wrappers unwrapped (no ``.module.`` in keys), on the CPU, contiguous."""
    wrapped = [n for n, m in method.named_children() if _unwrap(m) is not m]
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for key, value in method.state_dict().items():
        for name in wrapped:
            if key.startswith(f"{name}.module."):
                key = f"{name}." + key[len(name) + len(".module."):]
        tensor = value.detach().cpu().contiguous()
        ptr = tensor.untyped_storage().data_ptr()
        if ptr in seen and tensor.numel():  # tied weights: safetensors refuses shared storage
            tensor = tensor.clone()
        seen.add(tensor.untyped_storage().data_ptr())
        out[key] = tensor
    return out


def _load_weights_into(method: Method, weights: dict[str, torch.Tensor]) -> None:
    """Load unwrapped ``weights`` into ``method`` (strict), even when some networks are DDP-wrapped."""
    wrapped = {n for n, m in method.named_children() if _unwrap(m) is not m}
    mapped = {}
    for key, value in weights.items():
        head, _, rest = key.partition(".")
        mapped[f"{head}.module.{rest}" if head in wrapped else key] = value
    method.load_state_dict(mapped, strict=True)


def config_dict(config: Any) -> dict[str, Any]:
    """A method config as JSON-ready data (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def config_from_dict(cls: type[Method], values: dict[str, Any]) -> Any:
    """Rebuild ``cls.Config`` from :func:`config_dict` output; lists go back to tuples where the field is a tuple."""
    hints = typing.get_type_hints(cls.Config)
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise UserError(f"the checkpoint's config has keys {unknown} that method {cls.name!r} no longer has; "
                        f"it was saved by another version of the method (valid keys: {sorted(fields)})")
    fixed = {}
    for key, value in values.items():
        hint = hints.get(key)
        if isinstance(value, list) and (typing.get_origin(hint) is tuple or hint is tuple
                                        or isinstance(getattr(cls.Config(), key, None), tuple)):
            value = tuple(value)
        fixed[key] = value
    return cls.Config(**fixed)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------------ save/load
def save_checkpoint(path: str | os.PathLike, method: Method, step: int, *, info: dict[str, Any] | None = None,
                    **extra: Any) -> Path:
    """Write checkpoint folder ``path`` atomically; returns it.

    ``info`` (JSON-ready: variant, dataset, size, seed, ...) goes into ``config.json``; ``extra`` (tensors, numbers,
    strings, lists, dicts: what ``torch.load(weights_only=True)`` accepts) goes into ``train_state.pt`` beside the
    optimiser states.
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file(method_state_dict(method), str(tmp / WEIGHTS), metadata={"step": str(int(step)), "method": method.name})
    state = {"step": int(step), "optimizers": {k: o.state_dict() for k, o in method.optimizers().items()}, **extra}
    torch.save(state, tmp / STATE)
    record = {"method": method.name, "variant": "default", **(info or {}), "step": int(step),
              "config": config_dict(method.config), "num_classes": method.num_classes,
              "pretrained": method.pretrained_flags(), "versions": versions(), "git_commit": git_commit()}
    (tmp / CONFIG).write_text(json.dumps(record, indent=2, default=str) + "\n")
    if path.exists():  # replace: move the old one aside first, so one of the two always exists whole
        old = path.with_name(f".{path.name}.old{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)
    return path


def mark_last(run_dir: str | os.PathLike, checkpoint: str | os.PathLike) -> None:
    """Point ``run_dir/checkpoints/LAST`` at ``checkpoint`` (atomically)."""
    folder = Path(run_dir) / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(folder / LAST, Path(checkpoint).name + "\n")


def find_last(run_dir: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint of a run folder, or None when it has none."""
    pointer = Path(run_dir) / "checkpoints" / LAST
    if not pointer.is_file():
        return None
    target = pointer.parent / pointer.read_text().strip()
    return target if (target / WEIGHTS).is_file() else None


def resolve(path: str | os.PathLike) -> Path:
    """A checkpoint folder from a run folder, a checkpoint folder, or a file inside one; else a UserError."""
    p = Path(path)
    if p.is_file() and p.parent.joinpath(CONFIG).is_file():
        p = p.parent
    if (p / WEIGHTS).is_file():
        return p
    if p.is_dir():
        last = find_last(p)
        if last is not None:
            return last
        raise UserError(f"{p} holds no checkpoint (expected {p}/{WEIGHTS} or a run folder with "
                        f"checkpoints/{LAST}); train first with `colorbench train METHOD --out {p}`")
    raise UserError(f"checkpoint {p} does not exist; give a run folder (runs/<method>-<variant>-<dataset>-s<seed>) "
                    "or a checkpoint folder holding weights.safetensors")


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """The ``config.json`` of a checkpoint (run folder, checkpoint folder or file inside one)."""
    ckpt = resolve(path)
    try:
        return json.loads((ckpt / CONFIG).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"checkpoint {ckpt}: cannot read {CONFIG} ({exc}); the checkpoint is corrupt") from None


def load_checkpoint(path: str | os.PathLike, method: Method | None = None,
                    map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint: ``{"weights", "state", "config", "path"}``; with ``method`` also load weights and
    optimiser states into it. Missing or corrupt files raise a one-line :class:`UserError`."""
    from safetensors.torch import load_file

    ckpt = resolve(path)
    config = read_config(ckpt)
    try:
        weights = load_file(str(ckpt / WEIGHTS), device=str(map_location))
    except Exception as exc:  # safetensors raises several types for truncated/garbled files
        raise UserError(f"checkpoint {ckpt / WEIGHTS} is corrupt ({type(exc).__name__}: {exc}); "
                        "delete it and train again (the run resumes from an earlier checkpoint if one exists)"
                        ) from None
    state: dict[str, Any] = {}
    if (ckpt / STATE).is_file():
        try:
            state = torch.load(ckpt / STATE, map_location=map_location, weights_only=True)
        except Exception as exc:
            raise UserError(f"checkpoint {ckpt / STATE} is corrupt ({type(exc).__name__}); "
                            "delete the checkpoint folder and train again") from None
    if method is not None:
        try:
            _load_weights_into(method, weights)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise UserError(f"checkpoint {ckpt} does not fit method {method.name!r} with this config: {first}"
                            ) from None
        optimizers = method.optimizers()
        for name, opt_state in state.get("optimizers", {}).items():
            if name in optimizers:
                optimizers[name].load_state_dict(opt_state)
    return {"weights": weights, "state": state, "config": config, "path": ckpt}


def load_method(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Method:
    """Rebuild the method a checkpoint was saved from (class by name via the registry, config from config.json),
    load its weights and optimiser states, and return it in ``eval()`` mode on ``map_location``."""
    from colorbench.registry import get_method

    record = read_config(path)
    if not isinstance(record.get("method"), str):
        raise UserError(f"checkpoint {resolve(path)}: config.json names no method; the checkpoint is corrupt")
    cls = get_method(record["method"])  # an unknown name raises with the closest registered names
    config = config_from_dict(cls, record.get("config", {}))
    method = cls(config, num_classes=record.get("num_classes"))
    method.to(map_location)
    load_checkpoint(path, method, map_location=map_location)
    return method.eval()

"""Checkpoints: a folder per checkpoint, written atomically, readable without executing pickled code.

Layout of one checkpoint folder (``save_checkpoint(path, ...)`` writes ``path/``)::

    path/weights.safetensors   every tensor of ``method.state_dict()`` (DDP wrappers unwrapped), metadata: step
    path/train_state.pt        optimiser states, step, RNG states and the caller's extras; read with
                               ``torch.load(..., weights_only=True)`` only. Written only with
                               ``train_state=True``; a run folder keeps it only in the checkpoint ``LAST`` names
    path/config.json           method name, variant, resolved config, num_classes, run info (dataset, size, seed),
                               step, package versions and git commit: enough to rebuild the method

The folder is written under a temporary name, fsynced and renamed into place, so a killed process (or a power cut)
leaves either the old checkpoint or the new one, never half of one; the temporaries a killed save leaves
(``.step_N.tmpPID``) are removed by the next save. A run folder (``colorbench.train``'s ``out_dir``) keeps its
checkpoints under ``checkpoints/`` and names the newest in ``checkpoints/LAST`` (a one-line file, replaced
atomically); :func:`resolve` accepts a run folder, a checkpoint folder, or a file inside one. Retention
(:func:`prune`): the newest ``keep`` ``step_N`` folders stay, and only the one ``LAST`` names keeps its
``train_state.pt`` (the older ones are weights only, enough to evaluate or colourise, not to resume from); a
``best-<metric>`` folder (weights only) is written beside them by the trainer's ``keep_best`` and never pruned.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from colorbench.config import config_dict, config_from_dict
from colorbench.errors import UserError
from colorbench.method import Method
from colorbench.provenance import git_commit, versions

WEIGHTS, STATE, CONFIG, LAST = "weights.safetensors", "train_state.pt", "config.json", "LAST"


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


def _atomic_write_text(path: Path, text: str) -> None:
    from colorbench import _atomic as atomic  # the one atomic writer (temp file, fsync, rename, fsync of the folder)

    atomic.write_text(path, text)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's live process
    return True


def clean_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove what killed saves left in ``folder``: ``.NAME.tmpPID`` (a half-written checkpoint) is deleted;
    ``.NAME.oldPID`` (the previous copy, moved aside) is put back when ``NAME`` is missing, else deleted. Only
    temporaries of processes that no longer run are touched. Returns the paths removed or restored."""
    touched = []
    for p in sorted(Path(folder).glob(".*.tmp*")) + sorted(Path(folder).glob(".*.old*")):
        stem, kind, pid = p.name[1:].rpartition(".tmp") if ".tmp" in p.name else p.name[1:].rpartition(".old")
        if not pid.isdigit() or _pid_alive(int(pid)) or not p.is_dir():
            continue
        target = p.with_name(stem)
        if kind == ".old" and not target.exists():
            os.replace(p, target)
        else:
            shutil.rmtree(p, ignore_errors=True)
        touched.append(p)
    return touched


# ------------------------------------------------------------------------------------------- safetensors
class BadTensorFile(Exception):
    """A ``.safetensors`` file that exists but cannot be parsed (truncated, garbled); ``str(exc)`` says why."""


def read_safetensors(path: str | os.PathLike, device: str = "cpu") -> dict[str, torch.Tensor]:
    """Every tensor of a ``.safetensors`` file. Read through Python's own file API, so a path that is not UTF-8
    (a run folder named in another encoding) works; a file that does not parse raises :class:`BadTensorFile`."""
    from safetensors.torch import load

    data = Path(path).read_bytes()
    try:
        tensors = load(data)
    except Exception as exc:  # safetensors raises SafetensorError, and others for garbled headers
        raise BadTensorFile(f"{type(exc).__name__}: {exc}") from None
    return {k: v.to(device) for k, v in tensors.items()} if str(device) != "cpu" else tensors


def write_safetensors(tensors: dict[str, torch.Tensor], path: str | os.PathLike,
                      metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` to ``path`` in safetensors format (through Python's file API, any path name). The same
    tensors and metadata give the same bytes in any process: safetensors writes its metadata map in a per-process
    hash order, so the header is rewritten with the metadata sorted (same offsets, padded to 8 bytes)."""
    from safetensors.torch import save

    raw = save(tensors, metadata=metadata)
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    Path(path).write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + n:])


# ------------------------------------------------------------------------------------------------ save/load
def save_checkpoint(path: str | os.PathLike, method: Method, step: int, *, info: dict[str, Any] | None = None,
                    train_state: bool = True, **extra: Any) -> Path:
    """Write checkpoint folder ``path`` atomically; returns it.

    ``info`` (JSON-ready: variant, dataset, size, seed, ...) goes into ``config.json``; ``extra`` (tensors, numbers,
    strings, lists, dicts: what ``torch.load(weights_only=True)`` accepts) goes into ``train_state.pt`` beside the
    optimiser states. ``train_state=False`` writes weights and ``config.json`` only (``extra`` is then unused).
    """
    from colorbench import _atomic as atomic
    from colorbench.registry import method_origin

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_temporaries(path.parent)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    write_safetensors(method_state_dict(method), tmp / WEIGHTS,
                      metadata={"step": str(int(step)), "method": method.name})
    if train_state:
        state = {"step": int(step), "optimizers": {k: o.state_dict() for k, o in method.optimizers().items()}, **extra}
        torch.save(state, tmp / STATE)
    record = {"method": method.name, "variant": "default", "origin": method_origin(type(method)),  # never imported
              **(info or {}), "step": int(step), "config": config_dict(method.config),
              "num_classes": method.num_classes,
              "pretrained": method.pretrained_flags(), "versions": versions(), "git_commit": git_commit()}
    (tmp / CONFIG).write_text(json.dumps(record, indent=2, default=str) + "\n")
    atomic.fsync_tree(tmp)  # the files are on disk before the folder gets its name
    return atomic.replace_folder(tmp, path)


def mark_last(run_dir: str | os.PathLike, checkpoint: str | os.PathLike) -> None:
    """Point ``run_dir/checkpoints/LAST`` at ``checkpoint`` (atomically)."""
    folder = Path(run_dir) / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(folder / LAST, Path(checkpoint).name + "\n")


def prune(run_dir: str | os.PathLike, keep: int) -> list[Path]:
    """Retention of a run folder's ``checkpoints/step_N``: keep the newest ``keep`` (at least 1, always the one
    ``LAST`` names), delete the others, and remove ``train_state.pt`` from every kept one but ``LAST``'s. Run after
    :func:`mark_last`, so a kill at any point leaves ``LAST`` naming a whole checkpoint with its training state.
    Returns the folders deleted."""
    last = find_last(run_dir)
    steps = sorted(p for p in (Path(run_dir) / "checkpoints").glob("step_*") if p.is_dir() and p != last)
    drop = steps[: max(0, len(steps) - max(int(keep), 1) + (last is not None))]
    for old in drop:
        shutil.rmtree(old, ignore_errors=True)
    for kept in steps[len(drop):]:
        (kept / STATE).unlink(missing_ok=True)
    return drop


def find_last(run_dir: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint of a run folder, or None when it has none. ``LAST`` must hold the name of a
    folder beside it (``step_0000500``): a path (``../../other-run/...``) is a UserError, so a run folder never
    lends out another run's checkpoint."""
    pointer = Path(run_dir) / "checkpoints" / LAST
    if not pointer.is_file():
        return None
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{pointer} cannot be read ({exc}); it should hold the name of a checkpoint folder beside "
                        "it, e.g. step_0000500") from None
    if not name or name in (".", "..") or "/" in name or "\\" in name or Path(name).name != name:
        raise UserError(f"{pointer} names {name!r}, not a checkpoint folder inside {pointer.parent}; write the name "
                        "of one of its step_* folders into it (e.g. step_0000500), or give that folder itself")
    target = pointer.parent / name
    if target.exists() and target.resolve().parent != pointer.parent.resolve():  # a link out of the run
        raise UserError(f"{pointer} names {name!r}, a link to {target.resolve()} outside {pointer.parent}; a run "
                        "folder's LAST must name one of its own checkpoints")
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
    if p.exists():  # a file such as model.pt: it exists, but is not a colorbench checkpoint
        raise UserError(f"checkpoint {p} is a file, not a colorbench checkpoint; give a run folder "
                        f"(runs/<method>-<variant>-<dataset>-s<seed>) or a checkpoint folder holding {WEIGHTS} and "
                        f"{CONFIG} (other formats are not loaded: they could run code)")
    raise UserError(f"checkpoint {p} does not exist; give a run folder (runs/<method>-<variant>-<dataset>-s<seed>) "
                    "or a checkpoint folder holding weights.safetensors")


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """The ``config.json`` of a checkpoint (run folder, checkpoint folder or file inside one)."""
    ckpt = resolve(path)
    try:
        record = json.loads((ckpt / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"checkpoint {ckpt}: cannot read {CONFIG} ({exc}); the checkpoint is corrupt") from None
    if not isinstance(record, dict):
        raise UserError(f"{ckpt / CONFIG}: expected a JSON object (method, config, ...), found a JSON "
                        f"{type(record).__name__}; the checkpoint is corrupt, train again")
    if "method" in record and not isinstance(record["method"], str):
        raise UserError(f"{ckpt / CONFIG}: 'method' must be a method name, not {record['method']!r}")
    if "num_classes" in record and record["num_classes"] is not None and (
            isinstance(record["num_classes"], bool) or not isinstance(record["num_classes"], int)
            or record["num_classes"] < 1):
        raise UserError(f"{ckpt / CONFIG}: num_classes must be a positive whole number or null, not "
                        f"{record['num_classes']!r}")
    return record


def load_checkpoint(path: str | os.PathLike, method: Method | None = None,
                    map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint: ``{"weights", "state", "config", "path"}``; with ``method`` also load weights and
    optimiser states into it. Missing or corrupt files, and weights that are not all finite (NaN, inf: the one
    check of weights at load, for every command), raise a one-line :class:`UserError`."""
    ckpt = resolve(path)
    config = read_config(ckpt)
    try:
        weights = read_safetensors(ckpt / WEIGHTS, device=str(map_location))
    except OSError as exc:
        raise UserError(f"checkpoint {ckpt / WEIGHTS} cannot be read ({exc.strerror or exc}); check the "
                        "file's permissions and the disk") from None
    except BadTensorFile as exc:
        raise UserError(f"checkpoint {ckpt / WEIGHTS} is corrupt ({exc}); "
                        "delete it and train again (the run resumes from an earlier checkpoint if one exists)"
                        ) from None
    bad = [k for k, v in weights.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise UserError(f"checkpoint {ckpt} holds non-finite weights (NaN or infinite in {len(bad)} tensor"
                        f"{'s' * (len(bad) != 1)}, e.g. {bad[0]}); it is refused for every use: train again (a lower "
                        "learning rate, --set lr=...) into another --out, or use an earlier checkpoint")
    state: dict[str, Any] = {}
    if (ckpt / STATE).is_file():
        try:
            state = torch.load(ckpt / STATE, map_location=map_location, weights_only=True)
        except Exception as exc:
            raise UserError(f"checkpoint {ckpt / STATE} is corrupt ({type(exc).__name__}); "
                            "delete the checkpoint folder and train again") from None
    if method is not None:
        saved = config.get("method")
        if isinstance(saved, str) and method.name and saved != method.name:
            raise UserError(f"checkpoint {ckpt} holds weights of method {saved!r}, not {method.name!r}; load it as "
                            f"{saved!r} (colorize/eval rebuild the method a checkpoint names) or give a checkpoint "
                            f"of {method.name!r}")
        try:
            _load_weights_into(method, weights)
        except RuntimeError:
            raise UserError(f"checkpoint {ckpt} does not fit method {method.name!r} with this config: "
                            f"{_mismatch(method, weights)}; it was trained with other settings (compare its "
                            f"{CONFIG}) or by another version of the method") from None
        optimizers = method.optimizers()
        for name, opt_state in state.get("optimizers", {}).items():
            if name in optimizers:
                optimizers[name].load_state_dict(opt_state)
    return {"weights": weights, "state": state, "config": config, "path": ckpt}


def _mismatch(method: Method, weights: dict[str, torch.Tensor]) -> str:
    """What differs between a method's state dict and a checkpoint's tensors, counted, with a few names."""
    mine = {k: tuple(v.shape) for k, v in method_state_dict(method).items()}
    theirs = {k: tuple(v.shape) for k, v in weights.items()}
    missing = sorted(set(mine) - set(theirs))
    extra = sorted(set(theirs) - set(mine))
    shapes = sorted(k for k in set(mine) & set(theirs) if mine[k] != theirs[k])
    some = lambda keys: ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")  # noqa: E731
    parts = []
    if missing:
        parts.append(f"{len(missing)} tensors missing from the file ({some(missing)})")
    if extra:
        parts.append(f"{len(extra)} tensors the method does not have ({some(extra)})")
    if shapes:
        k = shapes[0]
        parts.append(f"{len(shapes)} of another shape (e.g. {k}: {list(theirs[k])} in the file, {list(mine[k])} here)")
    return "; ".join(parts) or "the tensors do not load"


def load_method(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Method:
    """Rebuild the method a checkpoint was saved from (class by name via the registry, config from config.json),
    load its weights and optimiser states, and return it in ``eval()`` mode on ``map_location``. Weights that are
    not all finite are a one-line :class:`UserError` (:func:`load_checkpoint`'s check, for every command).

    ``path`` may also be a zoo name, ``METHOD:ENTRY`` (:func:`colorbench.pretrained.load_zoo`: a released model,
    local weights only; a missing file is a one-line error naming the fetch command)."""
    from colorbench import pretrained
    from colorbench.registry import get_method

    if pretrained.is_zoo_name(path):
        return pretrained.load_zoo(str(path), map_location=map_location)

    record = read_config(path)
    if not isinstance(record.get("method"), str):
        raise UserError(f"checkpoint {resolve(path)}: config.json names no method; the checkpoint is corrupt")
    # an unknown name raises naming the recorded origin and how to load it (nothing it names is imported)
    cls = get_method(record["method"], record.get("origin"), where=str(resolve(path) / CONFIG))
    config = config_from_dict(cls, record.get("config", {}), where=str(resolve(path) / CONFIG))
    try:
        method = cls(config, num_classes=record.get("num_classes"))
    except (ValueError, ArithmeticError, RuntimeError) as exc:  # width=0 divides by zero in an initialiser
        raise UserError(f"{resolve(path) / CONFIG}: method {cls.name!r} cannot be built from this config "
                        f"({type(exc).__name__}: {str(exc).splitlines()[0]}); the checkpoint was edited or saved by "
                        "another version of the method") from None
    method.to(map_location)
    load_checkpoint(path, method, map_location=map_location)  # refuses non-finite weights
    return method.eval()

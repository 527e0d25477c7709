"""DistributedDataParallel under ``torchrun``: process group, device per rank, wrapping a method's networks.

``torchrun --nproc_per_node=N -m colorbench train ...`` sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``; the trainer
then joins a process group (NCCL on CUDA, gloo otherwise) and wraps every network that has trainable parameters
with :class:`~torch.nn.parallel.DistributedDataParallel` through :meth:`Method.replace_network`, so method code
is unchanged. Only rank 0 writes logs and checkpoints.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from colorbench.errors import UserError
from colorbench.method import Method


@dataclasses.dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False  # True when this trainer created the process group (and so destroys it)
    host_group: Any = None  # a gloo group for host-side agreement when the main group is NCCL (None: the main one)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(device: str | torch.device = "auto", local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA (this rank's GPU), else MPS, else CPU; an unavailable explicit choice is a UserError."""
    name = str(device)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"device {name!r} asked for, but CUDA is not available here; use --device cpu or auto")
        if dev.index is None:
            dev = torch.device("cuda", local_rank % torch.cuda.device_count())
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("device 'mps' asked for, but MPS is not available here; use --device cpu or auto")
    return dev


def setup(device: str | torch.device = "auto") -> tuple[DistInfo, torch.device]:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1); returns the rank info and device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 and not dist.is_initialized():
        return DistInfo(), resolve_device(device)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    owns = False
    if not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend=backend)
        owns = True
    # stop_signal() agrees every step without waiting for the GPU: over gloo, on the host (every rank calls new_group)
    host = dist.new_group(backend="gloo") if dist.get_backend() != "gloo" else None
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, owns, host), dev


def wrap(method: Method, device: torch.device) -> list[str]:
    """Wrap each network with trainable parameters in DDP (in place); returns the wrapped names.

    ``find_unused_parameters=True`` because GAN steps switch a discriminator's ``requires_grad`` off while the
    generator trains, and some methods use a network only in some steps.
    """
    names = []
    for name, net in method.networks().items():
        if not any(p.requires_grad for p in net.parameters()):
            continue
        ids = [device.index] if device.type == "cuda" else None
        method.replace_network(name, DistributedDataParallel(net, device_ids=ids, find_unused_parameters=True))
        names.append(name)
    return names


def unwrap(method: Method, names: list[str]) -> None:
    """Undo :func:`wrap`: put the bare networks back."""
    for name in names:
        method.replace_network(name, method._modules[name].module)


def any_rank(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True on every rank when ``flag`` is True on any rank (so all ranks stop at the same step)."""
    if info.world <= 1:
        return bool(flag)
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def stop_signal(signum: int | None, info: DistInfo) -> int | None:
    """The stop signal any rank has received (``signum``: this rank's, None if none), the same on every rank, so all
    ranks stop after the same step (a scheduler signals each rank at its own moment). One all-reduce of one integer
    on the host per call: it never waits for the device. A single process returns ``signum``."""
    if info.world <= 1:
        return signum
    t = torch.tensor([int(signum or 0)], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=info.host_group)
    return int(t.item()) or None


def barrier(info: DistInfo) -> None:
    if info.world > 1:
        dist.barrier()


def teardown(info: DistInfo) -> None:
    if info.owns_group and dist.is_initialized():
        dist.destroy_process_group()

"""Whole-step CUDA graphs (``--cuda-graphs``): one ``train_step`` captured once, then replayed at every step.

At batch 1 a step is hundreds of small kernels and the GPU waits on Python launching them; a graph launches them
all at once. :class:`GraphedStep` runs the method's step eagerly for :data:`WARMUP_STEPS` steps (on the capture
stream: optimiser state, cuDNN plans and autograd's buffers exist before capture), then captures the next step
on static copies of its batch and replays it; every later step copies its batch into those static tensors and
replays. Forward, backward, every optimiser update and the losses are in the graph; the trainer's per-step host
work (reseeding, the batch copy, :class:`~colorbench.train.lossbook.LossBook`'s record) is not, and losses reach
the host only at read points. What Python computed at capture (a learning rate set into an optimiser, a float the
step returns) is frozen in the graph: a step whose host-side values change declares them in
:meth:`Method.capture_key <colorbench.method.Method.capture_key>`, and the step is captured again when they do.

Random numbers: the trainer reseeds before every step; a replay reads the CUDA generator's seed and offset then,
so each step draws what an eager step with that seed would draw. Optimisers run with ``capturable=True`` (their
step counters live on the device) while Python runs a step (the warm-up steps and each capture) and get their own
setting back afterwards, so a checkpoint records the optimiser as built (``capturable=False``) and resumes
anywhere, the CPU included.

The capture mechanics sit behind a small backend (``capturable``, ``warmup``, ``capture``): :class:`CudaGraphs` on
CUDA; a test drives the same static-buffer and replay logic on the CPU with a backend whose "capture" keeps the
function and whose "replay" calls it again with the capture-time arguments.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, ContextManager, Hashable, Iterator, Mapping, Protocol

import torch

from colorbench.errors import UserError
from colorbench.method import Method

WARMUP_STEPS = 3  # eager steps before the capture (the PyTorch docs' example warms up 3 iterations)


class Backend(Protocol):
    def capturable(self, method: Method) -> ContextManager[None]:
        """While Python runs a step: ``method``'s optimisers capturable."""

    def warmup(self) -> ContextManager[None]:
        """Where the eager warm-up steps run."""

    def capture(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Capture ``fn`` (not run) and return its replay, which runs it and returns its (static) outputs."""


class CudaGraphs:
    """The CUDA backend: one side stream for warm-up and capture, ``torch.cuda.CUDAGraph`` replays."""

    def __init__(self, device: torch.device) -> None:
        self.stream = torch.cuda.Stream(device)

    @contextlib.contextmanager
    def capturable(self, method: Method) -> Iterator[None]:
        groups = [g for opt in method.optimizers().values() for g in opt.param_groups if "capturable" in g]
        for opt in method.optimizers().values():
            for state in opt.state.values():  # resumed state: step counters were loaded on the host
                for key, value in state.items():
                    if key == "step" and isinstance(value, torch.Tensor) and value.device != self.stream.device:
                        state[key] = value.to(device=self.stream.device, dtype=torch.float32)
        before = [group["capturable"] for group in groups]
        for group in groups:
            group["capturable"] = True
        try:
            yield
        finally:
            for group, flag in zip(groups, before):
                group["capturable"] = flag

    @contextlib.contextmanager
    def warmup(self) -> Iterator[None]:
        self.stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self.stream):
            yield
        torch.cuda.current_stream().wait_stream(self.stream)

    def capture(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        graph = torch.cuda.CUDAGraph()
        self.stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.graph(graph, stream=self.stream):
            out = fn()

        def replay() -> Any:
            graph.replay()
            return out

        return replay


def backend_for(device: torch.device) -> Backend:
    """The graph backend of ``device``; a one-line :class:`UserError` off CUDA."""
    if device.type != "cuda":
        raise UserError(f"--cuda-graphs needs a CUDA device; this run is on {device.type}: drop --cuda-graphs")
    return CudaGraphs(device)


def refusal(method: Method, world: int = 1, compiled: bool = False) -> str | None:
    """Why this run's step cannot be captured whole (one line; None: it can)."""
    if world > 1:
        return (f"--cuda-graphs trains one process, not {world}: DDP's gradient all-reduce is not captured; drop "
                "--cuda-graphs or train without torchrun")
    if compiled:
        return "--cuda-graphs and --compile are alternatives: give one of them"
    why = method.capture_refusal()
    if why:
        return f"--cuda-graphs: method {method.name!r} cannot be captured: {why}; drop --cuda-graphs"
    return None


class GraphedStep:
    """``method.train_step`` as a replayed graph: call it as the step (``(batch, step) -> losses``).

    ``batch``'s tensors must keep their shape, dtype and memory layout from step to step (the trainer drops the
    last partial batch, so they do). The losses of a replayed step are the graph's static output tensors: read
    them (or copy them) before the next step overwrites them."""

    def __init__(self, method: Method, backend: Backend, warmup: int = WARMUP_STEPS) -> None:
        self.method, self.backend, self.warmup = method, backend, warmup
        self.eager_steps = 0
        self.captures = 0
        self.static: dict[str, Any] = {}
        self.key: Hashable = None
        self.replay: Callable[[], Any] | None = None

    def __call__(self, batch: Mapping[str, Any], step: int) -> Mapping[str, Any]:
        if self.replay is None and self.eager_steps < self.warmup:
            self.eager_steps += 1
            with self.backend.warmup(), self.backend.capturable(self.method):
                return self.method.train_step(batch, step)
        key = self.method.capture_key(step)
        if self.replay is None:
            self.static = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        else:
            self._load(batch)
        if self.replay is None or key != self.key:
            self.key = key
            self.captures += 1
            with self.backend.capturable(self.method):
                self.replay = self.backend.capture(lambda: self.method.train_step(self.static, step))
        return self.replay()

    def _load(self, batch: Mapping[str, Any]) -> None:
        """Copy ``batch`` into the static inputs (no host wait); a change of keys, shape or dtype is an error."""
        if batch.keys() != self.static.keys():
            raise ValueError(f"--cuda-graphs: the batch keys changed from {sorted(self.static)} to {sorted(batch)}")
        for k, v in batch.items():
            s = self.static[k]
            if not isinstance(v, torch.Tensor):
                if v != s:
                    raise ValueError(f"--cuda-graphs: batch entry {k!r} changed from {s!r} to {v!r}")
                continue
            if v.shape != s.shape or v.dtype != s.dtype:
                raise ValueError(f"--cuda-graphs: batch {k!r} is {tuple(v.shape)} {v.dtype}, the captured step "
                                 f"took {tuple(s.shape)} {s.dtype} (a graph needs static shapes)")
            s.copy_(v, non_blocking=True)

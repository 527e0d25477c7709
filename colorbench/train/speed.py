"""Opt-in speed-ups of the training step: ``torch.compile`` of the networks and the CUDA-graph refusal.

``compile_networks`` compiles each network's forward in place (``nn.Module.compile``): parameters, state_dict keys
and checkpoints stay those of the eager network, and losses match eager within float rounding (the CPU test allows
1e-4 relative). A whole-step CUDA graph needs a step that never waits on the host; :func:`graph_refusal` says why a
run cannot have one.
"""
from __future__ import annotations

import torch

from colorbench.method import Method


def compile_networks(method: Method) -> list[str]:
    """Compile the forward of every trainable network of ``method`` in place; returns their names."""
    names = []
    for name, net in method.networks().items():
        net.compile()
        names.append(name)
    return names


def graph_refusal(method: Method, device: torch.device) -> str | None:
    """Why ``method`` cannot train under a whole-step CUDA graph on ``device`` (None: it can)."""
    if device.type != "cuda":
        return f"--cuda-graphs needs a CUDA device; this run is on {device.type}: drop --cuda-graphs"
    return (f"--cuda-graphs: method {method.name!r} cannot be captured: its train_step returns its losses as Python "
            "floats (Method contract), a host synchronisation that CUDA-graph capture forbids; drop --cuda-graphs "
            "(or use --compile)")

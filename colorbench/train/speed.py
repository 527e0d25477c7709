"""Opt-in speed-up of the training step: ``torch.compile`` of the networks (whole-step CUDA graphs: ``graphs``).

``compile_networks`` compiles each network's forward in place (``nn.Module.compile``): parameters, state_dict keys
and checkpoints stay those of the eager network, and losses match eager within float rounding (the CPU test allows
1e-4 relative).
"""
from __future__ import annotations

from colorbench.method import Method


def compile_networks(method: Method) -> list[str]:
    """Compile the forward of every trainable network of ``method`` in place; returns their names."""
    names = []
    for name, net in method.networks().items():
        net.compile()
        names.append(name)
    return names


"""colorbench: train and compare image-colourisation methods on equal terms.

Public API (design notes: docs/architecture.md)::

    import colorbench as cb
    lab = cb.rgb_to_lab(rgb)                 # [B,3,H,W] sRGB in [0,1] -> Lab (L 0..100, ab ~ -110..110)
    rgb = cb.lab_to_rgb(lab)                 # inverse, clipped to [0,1]
    cb.list_methods(); m = cb.create_method("pix2pix", **overrides)

Submodules are imported lazily so that ``import colorbench`` stays cheap.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "rgb_to_lab": "colorbench.color",
    "lab_to_rgb": "colorbench.color",
    "normalize_l": "colorbench.color",
    "denormalize_l": "colorbench.color",
    "normalize_ab": "colorbench.color",
    "denormalize_ab": "colorbench.color",
    "rgb_to_network": "colorbench.color",
    "network_to_rgb": "colorbench.color",
    "list_methods": "colorbench.registry",
    "create_method": "colorbench.registry",
    "get_method": "colorbench.registry",
    "register_method": "colorbench.registry",
    "Method": "colorbench.method",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'colorbench' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = sorted(_LAZY) + ["__version__"]

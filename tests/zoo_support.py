"""Random-weight stand-ins for released colourisers, made by one rule shared with the script that produced the
fixtures in ``tests/fixtures/zoo`` (the reference networks of richzhang/colorization run outside the project)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch

FIXTURES = Path(__file__).parent / "fixtures" / "zoo"


def fixture(name: str) -> dict:
    """``tests/fixtures/zoo/<name>.json``: ``keys`` (released key -> shape, in the file's order) and, for the
    forward fixtures, the reference's inputs and outputs."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def random_release(shapes: dict[str, list[int]], seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with the released keys and shapes and deterministic random values: He-scaled weights,
    small biases, batch-norm statistics near (0, 1)."""
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(0, dtype=torch.long)
        elif key.endswith("running_var"):
            out[key] = 0.5 + torch.rand(shape, generator=gen)
        elif key.endswith(("running_mean", "bias")):
            out[key] = 0.1 * torch.randn(shape, generator=gen)
        elif len(shape) == 1:  # batch-norm weight
            out[key] = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        else:
            fan = math.prod(shape[1:])
            out[key] = torch.randn(shape, generator=gen) * math.sqrt(2.0 / fan)
    return out


def write_release(path: Path, shapes: dict[str, list[int]], seed: int = 0,
                  replace: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Write ``random_release(shapes, seed)`` (with ``replace``'s tensors) to ``path`` as a torch file."""
    sd = random_release(shapes, seed)
    sd.update(replace or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(sd, path)
    return sd


def ddcolor_shapes(size: str) -> dict[str, list[int]]:
    """The reference DDColor's state-dict keys and shapes at ``size`` (``large``/``tiny``), in the file's order
    (``tests/fixtures/ddcolor/released_keys.json``)."""
    path = Path(__file__).parent / "fixtures" / "ddcolor" / "released_keys.json"
    return {key: shape for key, shape in json.loads(path.read_text())[size]["keys"]}


def zoo_at_working_size(monkeypatch, name: str, size: int) -> None:
    """Make zoo entry ``name`` predict at ``size``² instead of its released working size (CPU time in tests)."""
    import dataclasses

    from colorbench.registry import get_method

    method, key = name.split(":")
    entry = get_method(method).zoo[key]
    config = tuple((k, size if k == "working_size" else v) for k, v in entry.config)
    monkeypatch.setitem(get_method(method).zoo, key, dataclasses.replace(entry, config=config))


def check_eval_and_colorize(name: str, tmp_path: Path) -> None:
    """``colorbench eval NAME`` on two synthetic images writes its row (method, ``zoo:`` variant, the weights'
    sha256) under ``runs/zoo/``, and ``colorbench colorize NAME`` keeps a 30x20 photo's size (run from ``tmp_path``;
    the entry's file must be on disk)."""
    import csv

    import numpy as np
    from PIL import Image

    from colorbench import pretrained as pt
    from colorbench.cli import main

    method, key = name.split(":")
    assert main(["eval", name, "--dataset", "synthetic", "--max-images", "2", "--batch-size", "2"]) == 0
    with open(tmp_path / "runs" / "zoo" / f"{method}-{key}" / "eval.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["method"] == method and rows[0]["variant"] == f"zoo:{key}"
    assert rows[0]["pretrained"] == "sha256:" + pt.sha256_of(pt.zoo_path(name))
    Image.fromarray(np.full((20, 30, 3), 120, np.uint8)).save(tmp_path / "grey.png")
    assert main(["colorize", name, str(tmp_path / "grey.png"), "--out", str(tmp_path / "out")]) == 0
    assert Image.open(tmp_path / "out" / "grey.png").size == (30, 20)

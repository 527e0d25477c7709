"""Time and peak memory of ``colorbench colorize`` on one large photo, for every registered method.

Not a test (pytest never collects it; `make test` and `make perf` never run it): a measurement for notes, minutes
per method on a CPU at 6000x4000. Each method runs in its own process, so each peak is that method's alone::

    OMP_NUM_THREADS=2 .venv/bin/python tests/perf/colorize_memory.py                 # 6000x4000, every method
    OMP_NUM_THREADS=2 .venv/bin/python tests/perf/colorize_memory.py --size 600x400 --methods pix2pix gray

The photo is a synthetic PNG (smooth gradients and edges) written once to a temporary folder. The methods are
built untrained (``create_method(name)``, default variant, 8 classes where it needs labels, random weights where a
pretrained backbone file is absent): the cost of a forward pass does not depend on the weights' values. The path
timed is the command's own: read and decode the file, colourise (full resolution, tiled, unless ``--working-size``),
encode and write the PNG. Seconds are wall-clock; CPU seconds (the child's user + system time) say more on a shared
machine. Peak RSS is the child's ``VmHWM`` (its whole high-water mark, torch included;
``import`` gives the mark after importing colorbench and building the method, before the photo is read).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_photo(path: Path, width: int, height: int) -> None:
    """A ``width``×``height`` RGB PNG: colour gradients with a few hard edges (compresses well, decodes like a
    photo)."""
    import numpy as np
    from PIL import Image

    out = np.empty((height, width, 3), dtype=np.uint8)
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    for y0 in range(0, height, 256):  # in bands: the parent stays small
        y = np.linspace(0, 1, height, dtype=np.float32)[y0:y0 + 256, None]
        r = 0.5 + 0.5 * np.sin(6 * x + 2 * y)
        g = 0.5 + 0.5 * np.cos(4 * y - 3 * x)
        b = ((x * 8).astype(np.int32) % 2) * 0.5 + 0.25 * y
        out[y0:y0 + 256] = (np.stack(np.broadcast_arrays(r, g, b), axis=-1).clip(0, 1) * 255).astype(np.uint8)
    Image.fromarray(out).save(path, compress_level=1)


def _peak_mb() -> float:
    """This process's peak resident memory in MB: ``VmHWM`` of /proc/self/status (reset by exec, unlike
    ``getrusage``'s ``ru_maxrss``, which a child started by fork and exec inherits from its parent)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # elsewhere (macOS: bytes; rough)


def child(name: str, photo: Path, out: Path, settings: dict) -> dict:
    """Colourise ``photo`` with an untrained ``name`` in this process; the measurement as a dict."""
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    from colorbench import _atomic, inference
    from colorbench.registry import create_method

    try:
        method = create_method(name).eval()
    except ValueError:  # a method trained on class labels (e.g. the sample's 8 source photos); inference needs none
        method = create_method(name, num_classes=8).eval()
    s = inference.Settings(**settings)
    after_import = _peak_mb()
    start, cpu_start = time.perf_counter(), time.process_time()
    rgb = inference.read_photo(photo, max_pixels=None)
    tiles = inference.tiles_for(rgb.shape[0], rgb.shape[1], s)
    result = inference.colorize_photo(method, rgb, s)
    _atomic.write_bytes(out, inference.encode_png(result))
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    return {"method": name, "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
            "peak_rss_mb": round(_peak_mb()),
            "rss_after_import_mb": round(after_import), "tiles": tiles, "settings": s.describe(),
            "threads": torch.get_num_threads()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="6000x4000", help="WIDTHxHEIGHT of the synthetic photo")
    ap.add_argument("--methods", nargs="*", default=None, help="methods to measure (default: every registered one)")
    ap.add_argument("--working-size", type=int, default=0)
    ap.add_argument("--tile", type=int, default=None)
    ap.add_argument("--overlap", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--photo", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--settings", default="{}", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.photo, args.photo.with_name(f"{args.child}.png"),
                               json.loads(args.settings))))
        return 0
    from colorbench import tiling
    from colorbench.registry import list_methods

    settings = {"working_size": args.working_size,
                "tile": tiling.DEFAULT_TILE if args.tile is None else args.tile,
                "overlap": tiling.DEFAULT_OVERLAP if args.overlap is None else args.overlap}
    width, height = (int(v) for v in args.size.lower().split("x"))
    names = args.methods or list_methods()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "photo.png"
        make_photo(photo, width, height)
        print(f"{width}x{height} photo, {os.environ.get('OMP_NUM_THREADS', '2')} threads\n"
              f"| method | seconds | CPU seconds | peak RSS MB | RSS after import MB | tiles | settings |", flush=True)
        for name in names:
            proc = subprocess.run([sys.executable, __file__, "--child", name, "--photo", str(photo),
                                   "--settings", json.dumps(settings)], capture_output=True, text=True)
            if proc.returncode:
                row = {"method": name, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
                print(f"| {name} | failed: {row['error']} |", flush=True)
            else:
                row = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f"| {name} | {row['seconds']} | {row['cpu_seconds']} | {row['peak_rss_mb']} | "
                      f"{row['rss_after_import_mb']} | {row['tiles']} | {row['settings']} |", flush=True)
            rows.append(row)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

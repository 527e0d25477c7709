"""Bisect a mismatch: hash single ops (and colorbench's colour and metric steps) under a numeric mode, one JSON line
of ``{op: sha256[:12]}``. Compare two CPUs' lines key by key to see which op moves the bits, e.g.

    python tests/cross_cpu/ops.py portable
    qemu-x86_64 -cpu Haswell python tests/cross_cpu/ops.py portable
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    from colorbench import numeric

    mode = sys.argv[1] if len(sys.argv) > 1 else "portable"
    numeric.apply(mode)
    import torch
    import torch.nn.functional as F

    from colorbench import color, metrics
    from probe import _images

    x = _images(2, 64, 3, salt=1)
    y = _images(2, 64, 3, salt=2)
    m = _images(1, 3, 3, salt=3)[0, 0] - 0.5
    w = _images(8, 3, 3, salt=4) - 0.5
    flat = x.flatten(2)
    xd = x.double()
    ops = {
        "add": lambda: x + y, "mul": lambda: x * y, "div": lambda: x / (y + 0.5), "sqrt": lambda: x.sqrt(),
        "exp": lambda: x.exp(), "log": lambda: (x + 0.01).log(), "log10": lambda: (x + 0.01).log10(),
        "pow2.4": lambda: x.pow(2.4), "pow3": lambda: x.pow(3), "tanh": lambda: x.tanh(),
        "sigmoid": lambda: x.sigmoid(), "rsqrt": lambda: (x + 0.01).rsqrt(),
        "reciprocal": lambda: (x + 0.5).reciprocal(),
        "sum": lambda: x.sum(), "sum_dim": lambda: x.sum(dim=(2, 3)), "mean": lambda: x.mean(), "var": lambda: x.var(),
        "sum_f64": lambda: xd.square().sum(dim=(1, 2, 3)), "log10_f64": lambda: (xd + 0.01).log10(),
        "matmul3x3": lambda: torch.matmul(m, flat), "mm64": lambda: x[0, 0] @ y[0, 0],
        "conv2d": lambda: F.conv2d(x, w), "conv2d_bwd": lambda: torch.autograd.grad(
            F.conv2d(x, w.requires_grad_()).square().sum(), w)[0],
        "batchnorm": lambda: F.batch_norm(x, None, None, training=True), "softmax": lambda: x.softmax(1),
        "interp": lambda: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
        "srgb_to_linear": lambda: color.srgb_to_linear(x), "rgb_to_lab": lambda: color.rgb_to_lab(x),
        "lab_to_rgb": lambda: color.lab_to_rgb(color.rgb_to_lab(y)),
        "psnr": lambda: metrics.psnr(x, y), "ssim": lambda: metrics.ssim(x, y),
    }
    out = {"in_force": numeric.in_force()["aten_cpu_capability"] + "/" + str(numeric.in_force()["mkl_cbwr"])}
    for name, fn in ops.items():
        t = fn().detach().contiguous()
        out[name] = hashlib.sha256(t.numpy().tobytes()).hexdigest()[:12]
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()

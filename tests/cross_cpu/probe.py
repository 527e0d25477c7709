"""Probe: train one tiny cell in this (fresh) process under a numeric mode and print a hash of what came out.

Prints one JSON line: ``weights`` (sha256 of the final state_dicts, tensors in sorted key order), ``eval`` (sha256
of the trained method's prediction on fixed images and of PSNR/SSIM/ΔE76/colourfulness on it), ``metrics`` (sha256
of the same metrics on fixed images that no training touched), ``s_per_step`` (training seconds per step) and
``in_force`` (:func:`colorbench.numeric.in_force`). Run it once per mode / ISA ceiling / CPU model and compare, e.g.

    ONEDNN_MAX_CPU_ISA=AVX2 python tests/cross_cpu/probe.py --numeric portable --method unet_l1 --steps 10
    qemu-x86_64 -cpu EPYC-Rome python tests/cross_cpu/probe.py --numeric portable --steps 5

``--numeric MODE`` applies :func:`colorbench.numeric.apply`; without it, the raw flags (``--mkldnn``,
``--threads``, ``--deterministic``, ``--nnpack``) and whatever ``ATEN_CPU_CAPABILITY`` / ``MKL_CBWR`` /
``ONEDNN_MAX_CPU_ISA`` the environment holds are what the run uses. Everything is set before the first tensor op.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def _images(n: int, size: int, channels: int, salt: int):
    """``[n,channels,size,size]`` float32 in [0,1) from integer arithmetic only (exact on every CPU and kernel)."""
    import torch

    i = torch.arange(n * channels * size * size, dtype=torch.int64) + salt * 7919
    v = (i * 1103515245 + 12345) % (1 << 31)
    return (v >> 15).to(torch.float32).div_(1 << 16).reshape(n, channels, size, size)  # 16-bit grid: exact


def _sha(tensors) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def train_cell(method: str, steps: int, batch_size: int, seed: int, size: int | None = None):
    """The one training call (kept small: the trainer's API may change). Returns the TrainResult. ``size=None``:
    the method's ``test_overrides`` on the conformance crop; a size: its default config on that crop."""
    if size is None:
        from colorbench.conformance import train_tiny

        return train_tiny(method, steps, seed=seed, batch_size=batch_size)
    from colorbench.data import build_dataset
    from colorbench.train import train

    data = build_dataset("synthetic", "train", size=size, seed=seed, length=4 * batch_size)
    return train(method, data, steps=steps, batch_size=batch_size, size=size, seed=seed, device="cpu",
                 ckpt_every=None, progress=False)


def _metrics(pred_rgb, true_rgb, pred_ab, true_ab) -> list:
    from colorbench import metrics

    return [metrics.psnr(pred_rgb, true_rgb), metrics.ssim(pred_rgb, true_rgb), metrics.delta_e76(pred_ab, true_ab),
            metrics.colorfulness(pred_rgb)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--numeric", choices=("portable", "native"), help="apply colorbench.numeric's mode")
    p.add_argument("--method", default="unet_l1")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mkldnn", choices=("on", "off"), default="on")
    p.add_argument("--nnpack", choices=("on", "off"), default="on")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--deterministic", action="store_true")
    p.add_argument("--size", type=int, help="train the default config at this crop (default: test_overrides)")
    p.add_argument("--no-train", action="store_true", help="only the fixed-image metrics")
    a = p.parse_args()

    from colorbench import numeric

    if a.numeric:
        numeric.apply(a.numeric)
    else:
        import torch

        torch.backends.mkldnn.enabled = a.mkldnn == "on"
        torch.backends.nnpack.set_flags(a.nnpack == "on")
        torch.set_num_threads(a.threads)
        torch.use_deterministic_algorithms(a.deterministic)
    force = numeric.in_force()

    import torch

    from colorbench.color import network_to_rgb, rgb_to_network

    true_rgb = _images(4, 48, 3, salt=1)
    fake_rgb = _images(4, 48, 3, salt=2) * 0.5 + true_rgb * 0.5
    L, true_ab = rgb_to_network(true_rgb)
    _, fake_ab = rgb_to_network(fake_rgb)
    out = {"method": a.method, "steps": a.steps,
           "metrics": _sha(_metrics(network_to_rgb(L, fake_ab), true_rgb, fake_ab, true_ab) + [L, true_ab])}
    if not a.no_train:
        r = train_cell(a.method, a.steps, a.batch_size, a.seed, a.size)
        state = [t for _, net in sorted(r.method.networks().items())
                 for _, t in sorted(net.state_dict().items())]
        pred_ab = r.method.colorize(L).float()
        pred_rgb = network_to_rgb(L, pred_ab)
        out.update(weights=_sha(state), eval=_sha([pred_ab] + _metrics(pred_rgb, true_rgb, pred_ab, true_ab)),
                   psnr=round(float(_metrics(pred_rgb, true_rgb, pred_ab, true_ab)[0].mean()), 6),
                   s_per_step=round(r.train_seconds / max(r.steps, 1), 5))
    out["in_force"] = force
    out["env"] = {k: os.environ.get(k, "") for k in ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA")}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"# wall {time.perf_counter() - t0:.1f} s", file=sys.stderr)

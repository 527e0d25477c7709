"""Runs the GPU check's sections in order within the budget and writes ``gpu.md`` and one CSV per section."""
from __future__ import annotations

import argparse
import datetime
import platform
import subprocess
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import torch

from colorbench import _atomic as atomic
from colorbench.gpu_check import runtime as runtime_section
from colorbench.gpu_check import sections
from colorbench.gpu_check.sections import BUDGET, Context, Sizes

GOALS = {
    "conformance": "every method trains a few steps, colorizes odd sizes and resumes within tolerance on the device",
    "trainer": "trainer ≥ 95% of the bare loop in the same run, and ≥ 2,000 img/s for pix2pix 256² batch 64 bf16 "
               "(H100, plain PyTorch, bare loop: 1,053 img/s fp32, 1,942 img/s bf16)",
    "graphs": "batch 1 ≥ 150 img/s with CUDA graphs (H100 anchor: 45 img/s eager -> 162 img/s with graphs)",
    "metrics": "the metric set ≥ 10× faster than torchmetrics' SSIM + PSNR at 64 and at 512 pairs (H100 anchor per 64 "
               "pairs of 256²: torchmetrics SSIM 5.3 ms, a plain separable SSIM 3.3 ms, the memory floor 0.034 ms)",
    "runtime": "CUDA events and CUDA peak memory for every method at 256², 750×500, 1500×1000, 3000×2000, 6000×4000",
    "ratios": "C2F time ratios at or below the paper's at every size (6000×4000: 1.77 / 2.95 / 1.39 / 1.45), and C2F "
              "at 6000×4000 within the base model's peak memory + 10%",
}


def device_info(device: torch.device) -> dict[str, str]:
    """Device, driver, torch / CUDA versions, host and the UTC date: the report's header."""
    info = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "torch": torch.__version__, "python": platform.python_version(), "host": platform.node(),
            "device": str(device)}
    if device.type == "cuda":
        info["device"] = f"{torch.cuda.get_device_name(device)} ({device})"
        info["cuda"] = str(torch.version.cuda)
        try:
            info["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                            capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            info["driver"] = "unknown (nvidia-smi failed)"
    else:
        info["device"] = f"{device.type} ({torch.get_num_threads()} threads)"
        info["driver"] = "n/a"
    return info


def _table(rows: list[dict], limit: int = 80) -> list[str]:
    """A markdown table of ``rows`` (union of their keys, floats to 4 significant figures)."""
    if not rows:
        return []
    cols = list(dict.fromkeys(k for r in rows for k in r))

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return "" if v is None else str(v).replace("|", "/")

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in cols) + " |" for r in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"\n({len(rows) - limit} more rows in the CSV)")
    return lines


def run_check(out: Path, device: str = "cuda", budget_s: float = 300.0, quick: bool = False) -> dict[str, Any]:
    """Run every section into ``out`` (created); returns ``{section: {"rows", "notes", "seconds"}}``."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_check: --device cuda, but torch sees no CUDA device; use --device cpu for a dry run")
    out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        ctx = Context(dev, Sizes.quick() if quick else Sizes(), start + float(budget_s), Path(tmp))
        steps: list[tuple[str, Callable[[], tuple[list[dict], list[str]]]]] = [
            ("conformance", lambda: sections.conformance(ctx)),
            ("trainer", lambda: sections.trainer(ctx)),
            ("graphs", lambda: sections.graphs(ctx)),
            ("metrics", lambda: sections.metrics(ctx)),
            ("runtime", lambda: runtime_section.runtime(ctx)),
            ("ratios", lambda: runtime_section.ratios(results.get("runtime", {}).get("rows", []))),
        ]
        for name, fn in steps:
            t0 = time.monotonic()
            if ctx.left() <= 0 and name != "ratios":
                results[name] = {"rows": [], "notes": [BUDGET], "seconds": 0.0}
                continue
            try:
                rows, notes = fn()
            except Exception as exc:  # noqa: BLE001 - one broken section must not lose the others' figures
                rows, notes = [], [f"FAILED: {type(exc).__name__}: {exc}",
                                   "```", *traceback.format_exc().splitlines()[-12:], "```"]
            results[name] = {"rows": rows, "notes": notes, "seconds": time.monotonic() - t0}
    header = device_info(dev)
    total = time.monotonic() - start
    lines = ["# colorbench GPU check", "",
             f"Command: `python -m colorbench.gpu_check --out DIR --device {device} --budget-s {budget_s:g}"
             f"{' --quick' if quick else ''}`; {total:.0f} s in all.", ""]
    lines += [f"- {k}: {v}" for k, v in header.items()]
    if quick:
        lines += ["", "**--quick**: toy sizes and tiny networks; the figures test the check, they measure nothing."]
    for name, res in results.items():
        lines += ["", f"## {name}", "", f"Goal: {GOALS[name]}", "", f"({res['seconds']:.1f} s)", ""]
        lines += [f"- {n}" if not n.startswith(("```", " ")) and not n.startswith("Traceback") else n
                  for n in (res["notes"] or ["no figures"])]
        if not res["rows"] and not res["notes"]:
            lines.append("- no figures")
        if res["rows"]:
            lines += ["", *_table(res["rows"])]
            atomic.write_csv(out / f"{name}.csv", res["rows"], list(dict.fromkeys(k for r in res["rows"] for k in r)))
    atomic.write_text(out / "gpu.md", "\n".join(lines) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m colorbench.gpu_check",
                                description="measure every CUDA path of colorbench against its goals in one run")
    p.add_argument("--out", type=Path, required=True, help="folder for gpu.md and the CSVs (created)")
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu (a dry run)")
    p.add_argument("--budget-s", type=float, default=300.0,
                   help="wall-time budget in seconds (default 300): what is left is skipped, the report still written")
    p.add_argument("--quick", action="store_true", help="toy sizes: test the check end to end (what CI runs on CPU)")
    args = p.parse_args(argv)
    t0 = time.monotonic()
    results = run_check(args.out, args.device, args.budget_s, args.quick)
    failed = [n for n, r in results.items() if any(str(x).startswith("FAILED") for x in r["notes"])]
    print(f"gpu_check: wrote {args.out / 'gpu.md'} in {time.monotonic() - t0:.0f} s"
          + (f"; sections with failures: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0

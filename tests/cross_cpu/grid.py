"""Run probe.py over a grid of numeric settings (natively or under ``qemu-x86_64 -cpu MODEL``), one fresh process
each, and print one JSON line per run (the probe's, plus ``case`` and ``cpu``). The grids behind
docs/reproducibility.md:

    python tests/cross_cpu/grid.py native  > native.jsonl      # ISA ceilings x MKL branch x ATen x oneDNN on/off
    python tests/cross_cpu/grid.py qemu --cpu Haswell EPYC-Rome --steps 5 > qemu.jsonl
    python tests/cross_cpu/grid.py cost --steps 20 --reps 3 > cost.jsonl  # every method, portable variants vs native

Needs qemu-user (Debian: ``apt-get install qemu-user``) for ``qemu``.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = Path(__file__).with_name("probe.py")
CEILINGS = ("", "AVX2", "AVX512_CORE", "AVX512_CORE_AMX")
ATEN = ("", "avx2", "avx512", "default")
CBWR = ("", "AVX2", "COMPATIBLE")
PINNED = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA")


def native_cases() -> list[tuple[str, dict[str, str], list[str]]]:
    """oneDNN on: every ceiling x ATen {own, avx2} x MKL {own, COMPATIBLE}, plus the all-AVX2 pin; oneDNN off: ATen
    x MKL (the ceiling should not matter: checked at AVX2); then the two modes under every ceiling."""
    cases = []
    for isa, aten, cbwr in itertools.product(CEILINGS, ("", "avx2"), ("", "COMPATIBLE")):
        cases.append(("raw mkldnn=on", {"ONEDNN_MAX_CPU_ISA": isa, "ATEN_CPU_CAPABILITY": aten, "MKL_CBWR": cbwr},
                      ["--mkldnn", "on"]))
    cases.append(("raw mkldnn=on", {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"},
                  ["--mkldnn", "on"]))
    for aten, cbwr in itertools.product(ATEN, CBWR):
        cases.append(("raw mkldnn=off", {"ATEN_CPU_CAPABILITY": aten, "MKL_CBWR": cbwr}, ["--mkldnn", "off"]))
    cases.append(("raw mkldnn=off", {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2",
                                     "MKL_CBWR": "COMPATIBLE"}, ["--mkldnn", "off"]))
    for isa in CEILINGS:  # the modes themselves, under every oneDNN ceiling
        for mode in ("portable", "native"):
            cases.append((f"numeric={mode}", {"ONEDNN_MAX_CPU_ISA": isa}, ["--numeric", mode]))
    return cases


def qemu_cases() -> list[tuple[str, dict[str, str], list[str]]]:
    """The portable mode (refused on AMD), its settings as raw flags (to see AMD's bits anyway), the rejected
    COMPATIBLE candidate, and oneDNN on at an AVX2 ceiling."""
    pinned = ["--mkldnn", "off", "--nnpack", "off", "--threads", "1", "--deterministic"]
    return [("numeric=portable", {}, ["--numeric", "portable"]),
            ("raw portable settings", {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"}, pinned),
            ("raw mkl=COMPATIBLE", {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE"}, pinned),
            ("raw mkldnn=on avx2-pinned",
             {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}, ["--mkldnn", "on"])]


def run(case: str, env: dict[str, str], args: list[str], *, cpu: str, steps: int, method: str,
        extra: list[str]) -> dict:
    full = {k: v for k, v in os.environ.items() if k not in PINNED}
    full.update({k: v for k, v in env.items() if v})
    cmd = [sys.executable, str(PROBE), "--steps", str(steps), "--method", method, *args, *extra]
    if cpu != "host":
        cmd = ["qemu-x86_64", "-cpu", cpu, *cmd]
    p = subprocess.run(cmd, env=full, capture_output=True, text=True)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    row = json.loads(lines[-1]) if p.returncode == 0 and lines else {"error": p.stderr.strip().splitlines()[-1:]}
    return {"case": case, "cpu": cpu, "set": {k: v for k, v in env.items() if v}, **row}


COST_VARIANTS = {  # raw flags, so the table does not depend on which variant colorbench.numeric calls "portable"
    "native_1t": ({}, ["--mkldnn", "on", "--threads", "1"]),
    "mkl_compatible": ({"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE"},
                       ["--mkldnn", "off", "--nnpack", "off", "--threads", "1", "--deterministic"]),
    "mkl_avx2": ({"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"},
                 ["--mkldnn", "off", "--nnpack", "off", "--threads", "1", "--deterministic"]),
}


def cost(steps: int, reps: int, extra: list[str]) -> None:
    """Seconds per training step of every registered method at its test_overrides under each of COST_VARIANTS
    (one thread); the variants alternate so that all see the same load, and each keeps its fastest run."""
    sys.path.insert(0, str(PROBE.parents[2]))
    from colorbench.registry import list_methods

    for method in list_methods():
        best: dict[str, float] = {}
        row: dict = {"method": method, "steps": steps}
        for _ in range(reps):
            for name, (env, args) in COST_VARIANTS.items():
                r = run(name, env, args, cpu="host", steps=steps, method=method, extra=extra)
                if "error" in r:
                    row[f"error_{name}"] = r["error"]
                    continue
                best[name] = min(best.get(name, float("inf")), r["s_per_step"])
        row.update({f"s_per_step_{m}": v for m, v in best.items()})
        print(json.dumps(row), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("grid", choices=("native", "qemu", "cost"))
    ap.add_argument("--reps", type=int, default=3, help="cost: runs per method and mode (alternating)")
    ap.add_argument("--cpu", nargs="*", default=["host"], help="qemu CPU models (qemu grid)")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--method", default="unet_l1")
    ap.add_argument("--only", nargs="*", help="case names to keep")
    ap.add_argument("extra", nargs="*", help="more probe arguments (after --)")
    a = ap.parse_args()
    if a.grid == "cost":
        return cost(a.steps, a.reps, a.extra)
    cases = native_cases() if a.grid == "native" else qemu_cases()
    if a.only:
        cases = [c for c in cases if c[0] in a.only]
    cpus = ["host"] if a.grid == "native" else a.cpu
    for cpu in cpus:
        for case, env, args in cases:
            print(json.dumps(run(case, env, args, cpu=cpu, steps=a.steps, method=a.method, extra=a.extra)),
                  flush=True)


if __name__ == "__main__":
    main()

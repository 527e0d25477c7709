"""The GPU check's runtime section: ``colorbench.profiler`` for every method at the C2F paper's sizes, and the time
ratios of each method's ``runtime_variants`` to its ``runtime_reference`` beside the published ratios."""
from __future__ import annotations

from typing import Any

import torch

from colorbench.gpu_check.sections import BUDGET, Context, missing_module


def _variants(cls: Any) -> list[str]:
    """The default variant, then the runtime reference and variants the method declares (each once)."""
    out = ["default"]
    for v in ((cls.runtime_reference,) if cls.runtime_reference else ()) + tuple(cls.runtime_variants):
        if v not in out:
            out.append(v)
    return out


def runtime(ctx: Context) -> tuple[list[dict], list[str]]:
    """One row per (method, variant, size): ms per image (median), images/s, peak memory and its kind."""
    import colorbench
    from colorbench import profiler
    from colorbench.config import build_config
    from colorbench.registry import create_method, get_method

    s = ctx.sizes
    rows: list[dict] = []
    notes: list[str] = []
    for name in colorbench.list_methods():
        cls = get_method(name)
        for variant in _variants(cls):
            base = {"method": name, "variant": variant}
            if ctx.left() <= 0:
                rows += [{**base, "size": f"{w}x{h}", "status": BUDGET} for w, h in s.runtime_sizes]
                continue
            try:
                torch.manual_seed(0)
                overrides = cls.test_overrides if s.runtime_small_config else {}
                method = create_method(name, build_config(cls, overrides, variant), variant=variant, num_classes=10)
            except Exception as exc:  # noqa: BLE001 - reported in the rows
                why = missing_module(exc) or f"FAILED: {type(exc).__name__}: {exc}"
                rows += [{**base, "size": f"{w}x{h}", "status": why} for w, h in s.runtime_sizes]
                continue
            for w, h in s.runtime_sizes:
                if ctx.left() <= 0:
                    rows.append({**base, "size": f"{w}x{h}", "status": BUDGET})
                    continue
                large = w * h >= 4e6
                r = profiler.profile_colorize(method, [(w, h)], device=ctx.device, warmup=1,
                                              repeats=1 if large else s.runtime_repeats)[0]
                rows.append({**base, "size": f"{w}x{h}", "status": r["status"], "ms_per_image": r["ms_per_image"],
                             "images_per_s": r["images_per_s"], "peak_memory_mb": r["peak_memory_mb"],
                             "memory_kind": r["memory_kind"], "params": r.get("params")})
            del method
            if ctx.cuda:
                torch.cuda.empty_cache()
    failed = [r for r in rows if r["status"] not in ("ok",)]
    notes.append(f"{len(rows) - len(failed)} of {len(rows)} (method, variant, size) timings ran")
    return rows, notes


def ratios(runtime_rows: list[dict]) -> tuple[list[dict], list[str]]:
    """``variant time / reference time`` (and peak memory ratio) per size, beside the published time ratio."""
    from colorbench.registry import get_method
    from colorbench.report.published import paper_seconds

    ok = {(r["method"], r["variant"], r["size"]): r for r in runtime_rows if r.get("status") == "ok"}
    out: list[dict] = []
    for method in sorted({r["method"] for r in runtime_rows}):
        cls = get_method(method)
        ref = cls.runtime_reference
        if not ref or not cls.runtime_variants:
            continue
        paper = paper_seconds(method)
        for size in dict.fromkeys(r["size"] for r in runtime_rows if r["method"] == method):
            base = ok.get((method, ref, size))
            for v in cls.runtime_variants:
                row: dict[str, Any] = {"method": method, "variant": v, "reference": ref, "size": size}
                mine = ok.get((method, v, size))
                if base and mine and base["ms_per_image"]:
                    row["time_ratio"] = mine["ms_per_image"] / base["ms_per_image"]
                    if base.get("peak_memory_mb") and mine.get("peak_memory_mb") is not None:
                        row["memory_ratio"] = mine["peak_memory_mb"] / base["peak_memory_mb"]
                if (v, size) in paper and (ref, size) in paper:
                    row["paper_time_ratio"] = paper[(v, size)] / paper[(ref, size)]
                out.append(row)
    notes = []
    for r in out:
        mine = f"{r['time_ratio']:.2f}" if "time_ratio" in r else "n/a"
        pap = f"{r['paper_time_ratio']:.2f}" if "paper_time_ratio" in r else "n/a"
        mem = f", memory {r['memory_ratio']:.2f}× {r['reference']}" if "memory_ratio" in r else ""
        notes.append(f"{r['method']} [{r['variant']}] at {r['size']}: {mine}× {r['reference']} (paper {pap}){mem}")
    return out, notes

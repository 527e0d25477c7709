"""The runtime tables: ``colorize`` time (median and spread over the timed repeats), images/s and peak memory of
every (method, variant) at each size, and, for a method that declares inference-time variants
(``Method.runtime_variants`` against ``Method.runtime_reference``, e.g. the C2F paper's Table 1c), the ratio of each
variant's time to the reference's beside the paper's ratio. One table of rows (``runtime.csv``: one row per runtime
cell, flattened by :func:`colorbench.report.tables.flatten_row`) feeds ``runtime.md`` and the notebooks alike.
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from colorbench.report.published import paper_seconds
from colorbench.report.tables import is_number, label

SPREAD_NOTE = ("Median of the timed calls, with their spread (fastest–slowest call; the warm-up calls and timed "
               "repeats of every size are in runtime.csv, warmup_<size> and repeats_<size>); one image per call "
               "(batch 1). Peak memory: CUDA max allocated on a GPU, peak RSS above the process's baseline "
               "on the CPU. Each network is timed once, untrained, in its paper configuration (time does not depend "
               "on the weights).")


def size_order(size: str) -> int:
    w, h = (int(v) for v in size.split("x"))
    return w * h


def sizes_of(frame: pd.DataFrame) -> list[str]:
    return sorted({c[len("ms_per_image_"):] for c in frame.columns if c.startswith("ms_per_image_")},
                  key=size_order)


def entries(frame: pd.DataFrame) -> dict[str, dict[str, dict[str, Any]]]:
    """``{label: {size: {"ms", "min", "max", "ips", "mem", "status", "params"}}}``; a label timed by several
    cells at one size keeps the first ok entry."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    ok = frame[frame["status"] == "ok"] if "status" in frame else frame
    for _, r in ok.iterrows():
        lab = label(r["method"], r.get("variant"))
        for size in sizes_of(frame):
            ms = r.get(f"ms_per_image_{size}")
            status = r.get(f"status_{size}") if isinstance(r.get(f"status_{size}"), str) else "ok"
            if not is_number(ms) and status == "ok":
                continue
            have = out.setdefault(lab, {}).get(size)
            if have is not None and have["status"] == "ok":
                continue
            out[lab][size] = {"ms": ms, "min": r.get(f"ms_min_{size}"), "max": r.get(f"ms_max_{size}"),
                              "ips": r.get(f"images_per_s_{size}"), "mem": r.get(f"peak_memory_mb_{size}"),
                              "status": status, "params": r.get("params")}
    return out


def entry_text(e: dict[str, Any]) -> str:
    """``123.4 ms (120.1–130.2) · 8.1 img/s · 310 MB``."""
    if e.get("status", "ok") != "ok":
        return str(e["status"])
    ms, lo, hi, ips, mem = e.get("ms"), e.get("min"), e.get("max"), e.get("ips"), e.get("mem")
    text = f"{ms:,.1f} ms" if is_number(ms) else "n/a"
    if is_number(lo) and is_number(hi) and hi > lo:
        text += f" ({lo:,.1f}–{hi:,.1f})"
    if is_number(ips):
        text += f" · {ips:,.0f} img/s" if ips >= 100 else f" · {ips:.3g} img/s"
    text += f" · {mem:,.0f} MB" if is_number(mem) else " · mem n/a"
    return text


def runtime_table(frame: pd.DataFrame) -> pd.DataFrame:
    """ms per image (median) of every label at every size: index = label, columns ``WxH`` ascending by pixels."""
    table = entries(frame)
    sizes = sizes_of(frame)
    return pd.DataFrame.from_dict({lab: {s: float(per[s]["ms"]) if s in per and is_number(per[s]["ms"])
                                         else math.nan for s in sizes} for lab, per in sorted(table.items())},
                                  orient="index", columns=sizes)


def _params(frame: pd.DataFrame) -> dict[str, int]:
    out = {}
    for _, r in frame.iterrows():
        if is_number(r.get("params")):
            out.setdefault(label(r["method"], r.get("variant")), int(r["params"]))
    return out


def ratio_rows(frame: pd.DataFrame, method: str) -> list[dict[str, Any]]:
    """For ``method``'s declared runtime variants: one row per (variant, resolution) with our time, our ratio to
    the reference variant, and the paper's ratio (from its published seconds; None where it reports none)."""
    from colorbench.registry import get_method

    cls = get_method(method)
    ref = cls.runtime_reference
    if not ref or not cls.runtime_variants:
        return []
    table = entries(frame)
    paper = paper_seconds(method)
    sizes = sorted({s for v in (ref, *cls.runtime_variants) for s in table.get(label(method, v), {})},
                   key=size_order)
    out = []
    for size in sizes:
        base = table.get(label(method, ref), {}).get(size, {})
        base_ms = base.get("ms") if base.get("status", "ok") == "ok" else None
        for v in cls.runtime_variants:
            e = table.get(label(method, v), {}).get(size, {})
            ms = e.get("ms") if e.get("status", "ok") == "ok" else None
            p_base, p_v = paper.get((ref, size)), paper.get((v, size))
            out.append({"variant": v, "resolution": size, "ms": ms, "reference_ms": base_ms,
                        "ratio": ms / base_ms if is_number(ms) and is_number(base_ms) and base_ms > 0 else None,
                        "paper_ratio": p_v / p_base if p_base and p_v else None, "status": e.get("status", "n/a")})
    return out


def ratio_markdown(frame: pd.DataFrame, method: str) -> str:
    """The ratio table laid out like the paper's (rows = resolution; reference ms, then per variant
    ``ms · ratio (paper ratio)``); empty when the method declares no runtime variants or none was timed."""
    from colorbench.registry import get_method

    rows = ratio_rows(frame, method)
    if not rows or all(r["ms"] is None for r in rows):
        return ""
    cls = get_method(method)
    head = ["resolution", f"{cls.runtime_reference} ms"] + [f"{v} ms · ratio (paper)" for v in cls.runtime_variants]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for size in dict.fromkeys(r["resolution"] for r in rows if r["ms"] is not None):  # sizes a variant was timed at
        at = {r["variant"]: r for r in rows if r["resolution"] == size}
        first = next(iter(at.values()))
        cells = [size, f"{first['reference_ms']:,.1f}" if is_number(first["reference_ms"]) else "n/a"]
        for v in cls.runtime_variants:
            r = at.get(v, {})
            ours = f"{r['ratio']:.2f}" if is_number(r.get("ratio")) else "n/a"
            theirs = f"{r['paper_ratio']:.2f}" if is_number(r.get("paper_ratio")) else "—"
            measured = f"{r['ms']:,.1f} · {ours}" if is_number(r.get("ms")) else f"{r.get('status', 'n/a')} ·"
            cells.append(f"{measured} ({theirs})")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Ratio = {method} variant time / {cls.runtime_reference} time at the same resolution, ours then "
              "(the paper's, from its published seconds on hardware it does not state). These settings act at "
              "inference, so one trained model serves them all."]
    return "\n".join(lines)


def runtime_markdown(frame: pd.DataFrame, device: str = "") -> str:
    """``runtime.md``: every label at every size, then the ratio table of each method that declares one."""
    from colorbench.registry import get_method, list_methods

    parts = ["# Runtime of `colorize`", ""]
    if device:
        parts += [f"Device: {device}.", ""]
    parts += [SPREAD_NOTE, ""]
    table = entries(frame)
    sizes = sizes_of(frame)
    if not sizes or not table:
        return "\n".join(parts + ["(no runtime measured)"]) + "\n"
    params = _params(frame)
    parts.append("| method | " + " | ".join(sizes) + " | parameters |")
    parts.append("|---|" + "---|" * (len(sizes) + 1))
    for lab in sorted(table):
        cells = [entry_text(table[lab][s]) if s in table[lab] else "" for s in sizes]
        parts.append(f"| {lab} | " + " | ".join(cells) + f" | {params.get(lab, 0):,} |")
    registered = set(list_methods())
    for method in sorted(set(frame["method"])):
        if method in registered and get_method(method).runtime_variants:
            text = ratio_markdown(frame, method)
            if text:
                parts += ["", f"## {method}: time against its {get_method(method).runtime_reference} model, laid "
                          "out like its paper's table", "", text]
    return "\n".join(parts) + "\n"

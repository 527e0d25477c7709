"""``runtime.md``: ms per image, images/s and peak memory of every method's ``colorize`` at each size, and the
C2F rows laid out like the C2F paper's Table 1c (rows = resolution; base, then shrink/depth 1.2/1, 1.2/10,
2.0/1, 2.0/10), each with its C2F/base time ratio beside the paper's."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from colorbench.bench.published import c2f_paper_seconds
from colorbench.bench.tables import is_number, label

C2F_COLUMNS = ("base", "s1.2_d1", "s1.2_d10", "s2.0_d1", "s2.0_d10")
C2F_PAPER_NAMES = {"base": "base", "s1.2_d1": "1.2 / 1", "s1.2_d10": "1.2 / 10", "s2.0_d1": "2.0 / 1",
                   "s2.0_d10": "2.0 / 10"}


def _size_order(size: str) -> int:
    w, h = (int(s) for s in size.split("x"))
    return w * h


def _entry_text(r: Mapping[str, Any]) -> str:
    if r.get("status", "ok") != "ok":
        return str(r.get("status"))
    ms, ips, mem = r.get("ms_per_image"), r.get("images_per_s"), r.get("peak_memory_mb")
    parts = [f"{ms:,.1f} ms" if is_number(ms) else "n/a",
             (f"{ips:,.0f} img/s" if ips >= 100 else f"{ips:.3g} img/s") if is_number(ips) else "n/a"]
    parts.append(f"{mem:,.0f} MB" if is_number(mem) else "mem n/a")
    return " · ".join(parts)


def collect(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Mapping[str, Any]]]:
    """``{method label: {size: runtime entry}}``; with several cells for a label (seeds) the first ok one wins."""
    out: dict[str, dict[str, Mapping[str, Any]]] = {}
    for row in rows:
        lab = label(row["method"], row.get("variant", "default"))
        for r in row.get("runtime", []):
            have = out.setdefault(lab, {}).get(r["size"])
            if have is None or (have.get("status", "ok") != "ok" and r.get("status", "ok") == "ok"):
                out[lab][r["size"]] = r
    return out


def runtime_markdown(rows: Iterable[Mapping[str, Any]], device: str = "", note: str = "") -> str:
    rows = list(rows)
    table = collect(rows)
    sizes = sorted({s for per in table.values() for s in per}, key=_size_order)
    parts = ["# Runtime of `colorize`", ""]
    if device:
        parts.append(f"Device: {device}. {note}".strip())
        parts.append("")
    parts += ["Median over timed repeats after a warm-up; one image per call (batch 1); peak memory is CUDA max "
              "allocated on a GPU and peak RSS growth on the CPU. Untrained runtime-only cells time the networks "
              "the inference settings build; trained cells time the network their training crop built.", ""]
    if not sizes:
        return "\n".join(parts + ["(no runtime measured)"]) + "\n"
    parts.append("| method | " + " | ".join(sizes) + " | parameters |")
    parts.append("|---|" + "---|" * (len(sizes) + 1))
    params = {}
    for row in rows:
        for r in row.get("runtime", []):
            if is_number(r.get("params")):
                params[label(row["method"], row.get("variant", "default"))] = int(r["params"])
    for lab in sorted(table):
        cells = [_entry_text(table[lab][s]) if s in table[lab] else "" for s in sizes]
        p = f"{params[lab]:,}" if lab in params else ""
        parts.append(f"| {lab} | " + " | ".join(cells) + f" | {p} |")
    c2f = c2f_table(table)
    if c2f:
        parts += ["", "## C2F, laid out like the C2F paper's Table 1c", "", c2f]
    return "\n".join(parts) + "\n"


def c2f_table(table: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """Rows = resolution; per C2F setting: our ms/img, our C2F/base ratio, the paper's ratio (Table 1c seconds)."""
    labs = {v: label("c2f", v) for v in C2F_COLUMNS}
    if not any(labs[v] in table for v in C2F_COLUMNS[1:]):
        return ""
    paper = c2f_paper_seconds()
    sizes = sorted({s for v in C2F_COLUMNS for s in table.get(labs[v], {})}, key=_size_order)
    head = ["resolution", "base ms"] + [f"{C2F_PAPER_NAMES[v]} ms · ratio (paper)" for v in C2F_COLUMNS[1:]]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for s in sizes:
        base = table.get(labs["base"], {}).get(s, {})
        base_ms = base.get("ms_per_image") if base.get("status", "ok") == "ok" else None
        cells = [s, f"{base_ms:,.1f}" if is_number(base_ms) else "n/a"]
        for v in C2F_COLUMNS[1:]:
            e = table.get(labs[v], {}).get(s, {})
            ms = e.get("ms_per_image") if e.get("status", "ok") == "ok" else None
            ours = f"{ms / base_ms:.2f}" if is_number(ms) and is_number(base_ms) and base_ms > 0 else "n/a"
            p_base, p_v = paper.get(("base", s)), paper.get((v, s))
            theirs = f"{p_v / p_base:.2f}" if p_base and p_v else "—"
            measured = f"{ms:,.1f} · {ours}" if is_number(ms) else f"{e.get('status', 'n/a')} ·"
            cells.append(f"{measured} ({theirs})")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Ratio = C2F time / base time at the same resolution, ours then (the paper's, from its Table 1c "
                 "seconds, hardware not stated). Shrink size and depth act at inference, so one trained generator "
                 "serves every setting; a setting the run did not time reads n/a.")
    return "\n".join(lines)

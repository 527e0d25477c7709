"""``colorbench study report``: per condition the share judged real (naturalness, Tarrés Table 4) with a 95% Wilson
interval, the share identified as colourised (the KTH "Turing test", Table 1), the 2AFC fool rate (Zhang et al.
2016), answers and participants; ``study.md``, ``study.csv`` and ``study.png`` beside them, with the published rows
of KTH Table 1 and Tarrés Table 4 marked as published.
"""
from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path
from typing import Any, Iterable

from colorbench.study.manifest import DATABASE, GROUND_TRUTH, Manifest
from colorbench.study.stats import proportion

PUBLISHED_TABLES = {("kth", "Table 1"): "turing_test_detected", ("tarres", "Table 4"): "naturalness"}


def published_csv() -> Path:
    """The project's copy of the published figures (``colorbench/reference/published.csv``)."""
    return Path(__file__).resolve().parent.parent / "reference" / "published.csv"


def published_rows(path: Path | None = None) -> tuple[list[dict[str, str]], str | None]:
    """The KTH Table 1 Turing-test and Tarrés Table 4 naturalness rows, and a note when the file is missing."""
    path = path or published_csv()
    if not path.is_file():
        note = (f"published rows unavailable: {path} not found (the bench ships it as "
                "colorbench/reference/published.csv)")
        warnings.warn(note, stacklevel=2)
        return [], note
    with path.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if PUBLISHED_TABLES.get((r["source"], r["table"])) == r["metric"]]
    return rows, None


def summarise(manifest: Manifest, answers: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per condition from stored answer rows (see :class:`~colorbench.study.store.Store`).

    Keys: ``condition``, ``answers``, ``participants``, ``judged_real`` + ``naturalness`` / ``_low`` / ``_high``,
    ``identified`` (= 1 - naturalness, KTH) with its interval, ``pair_answers``, ``pair_participants``, ``fooled`` +
    ``fool_rate`` / ``_low`` / ``_high``. Shares are nan without answers.
    """
    items, pairs = manifest.items, manifest.pairs
    single = {c: [0, 0, set()] for c in manifest.conditions}  # judged real, answers, participants
    pair = {c: [0, 0, set()] for c in manifest.conditions}
    for a in answers:
        if a["protocol"] == "single" and a["trial"] in items:
            cond = items[a["trial"]][1]
            acc = single[cond]
            acc[0] += int(a["answer"] == 1)
        elif a["protocol"] == "pair" and a["trial"] in pairs:
            photo, cond = pairs[a["trial"]]
            chosen = a["shown"].split(",")[int(a["answer"])]
            acc = pair[cond]
            acc[0] += int(chosen != manifest.photos[photo]["items"][GROUND_TRUTH])
        else:
            continue
        acc[1] += 1
        acc[2].add(a["token"])
    rows = []
    for cond in manifest.conditions:
        k, n, who = single[cond]
        nat = proportion(k, n)
        fk, fn, fwho = pair[cond]
        fool = proportion(fk, fn)
        rows.append({
            "condition": cond, "answers": n, "participants": len(who), "judged_real": k,
            "naturalness": nat["share"], "naturalness_low": nat["low"], "naturalness_high": nat["high"],
            "identified": 1 - nat["share"], "identified_low": 1 - nat["high"], "identified_high": 1 - nat["low"],
            "pair_answers": fn, "pair_participants": len(fwho), "fooled": fk,
            "fool_rate": fool["share"], "fool_rate_low": fool["low"], "fool_rate_high": fool["high"],
        })
    return rows


def _pct(x: float) -> str:
    return "–" if math.isnan(x) else f"{100 * x:.1f}%"


def _ci(row: dict[str, Any], key: str) -> str:
    if math.isnan(row[key]):
        return "–"
    return f"{_pct(row[key])} [{_pct(row[key + '_low'])}, {_pct(row[key + '_high'])}]"


def write_markdown(path: Path, manifest: Manifest, rows: list[dict[str, Any]], published: list[dict[str, str]],
                   notes: list[str], truth: dict[str, float] | None = None) -> None:
    """``study.md``: the measured table (95% Wilson intervals), then the published rows, marked as published."""
    head = ["condition", "naturalness ↑ [95% CI]", "identified as colourised ↓ [95% CI]", "answers", "participants",
            "2AFC fool rate ↑ [95% CI]", "2AFC answers", "2AFC participants"]
    if truth:
        head += ["simulated P(real)", "simulated P(fooled)"]
    lines = [f"# Perceptual study {manifest.study_id}", "",
             f"{len(manifest.photos)} photos at {manifest.size} px (long side), {len(manifest.methods)} methods + "
             f"ground truth, {manifest.per_participant} trials per participant. Naturalness = share judged real "
             "(Tarrés Table 4); identified as colourised = 1 − naturalness (KTH Table 1's \"Turing test\"); 2AFC fool "
             "rate = share of pairs where the colourised image was picked as the real one (50% = indistinguishable). "
             "Measured here.",
             "", *[f"- {n}" for n in notes], "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        ident = "–" if r["condition"] == GROUND_TRUTH else _ci(r, "identified")
        fool = "–" if r["condition"] == GROUND_TRUTH else _ci(r, "fool_rate")
        cells = [f"`{r['condition']}`", _ci(r, "naturalness"), ident, str(r["answers"]), str(r["participants"]), fool,
                 str(r["pair_answers"]) if r["condition"] != GROUND_TRUTH else "–",
                 str(r["pair_participants"]) if r["condition"] != GROUND_TRUTH else "–"]
        if truth:
            from colorbench.study.simulate import fool_probability

            gt = r["condition"] == GROUND_TRUTH
            cells += [f"{truth[r['condition']]:.3f}", "–" if gt else f"{fool_probability(truth, r['condition']):.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Published (not measured here)", ""]
    if published:
        lines += ["Reported by the source documents on their own data, models and participants; not comparable "
                  "number for number.", "",
                  "| source | table | dataset | method | variant | metric | value | |",
                  "|---|---|---|---|---|---|---|---|"]
        for p in published:
            lines.append(f"| {p['source']} | {p['table']} | {p['dataset']} | `{p['method']}` | {p['variant']} | "
                         f"{p['metric']} | {_pct(float(p['value']))} | *published* |")
    lines.append("")
    path.write_text("\n".join(lines))


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def plot(path: Path, rows: list[dict[str, Any]], published: list[dict[str, str]], simulated: bool = False) -> None:
    """``study.png``: :func:`figure` at :data:`DPI` dpi."""
    from colorbench.report import style

    fig = figure(rows, published, simulated)
    fig.savefig(path, dpi=DPI)
    style.pyplot().close(fig)


DPI = 100


def figure(rows: list[dict[str, Any]], published: list[dict[str, str]], simulated: bool = False) -> Any:
    """Bars of naturalness (and, under it, the 2AFC fool rate when measured) with 95% Wilson intervals; published
    naturalness (Tarrés Table 4) as hollow diamonds where a method name matches. Panels are stacked (a readable
    aspect whatever the number of conditions: at most 12 inches wide, 3 tall a panel), each legend right of its
    panel, fonts and titles as :mod:`colorbench.report.style` sets them."""
    from colorbench.report import style

    panels = [("naturalness", "share judged real")]
    if any(r["pair_answers"] for r in rows):
        panels.append(("fool_rate", "2AFC fool rate"))
    width = min(12.0, 3.5 + 0.5 * len(rows))
    with style.rc():
        fig, axes = style.figure(len(panels), 1, figsize=(width, 0.4 + 3.0 * len(panels)))
        for ax, (key, title) in zip(axes[:, 0], panels):
            sel = [r for r in rows if not (key == "fool_rate" and r["condition"] == GROUND_TRUTH)]
            x = range(len(sel))
            val = [0 if math.isnan(r[key]) else r[key] for r in sel]
            err = [[0 if math.isnan(r[key]) else r[key] - r[key + "_low"] for r in sel],
                   [0 if math.isnan(r[key]) else r[key + "_high"] - r[key] for r in sel]]
            colours = ["#999" if r["condition"] == GROUND_TRUTH else "#4a7a9c" for r in sel]
            ax.bar(x, val, yerr=err, capsize=3, color=colours, label="measured (95% Wilson CI)")
            if key == "naturalness":
                pub = {p["method"]: float(p["value"]) for p in published if p["metric"] == "naturalness"}
                px = [i for i, r in enumerate(sel) if r["condition"] in pub]
                if px:
                    ax.scatter(px, [pub[sel[i]["condition"]] for i in px], marker="D", facecolors="none",
                               edgecolors="#c33", zorder=3, label="published (Tarrés Table 4)")
            if key == "fool_rate":
                ax.axhline(0.5, color="#c33", lw=0.8, ls="--", label="indistinguishable (50%)")
            ax.set_xticks(list(x), [r["condition"] for r in sel], rotation=30, ha="right")
            ax.set_ylim(0, 1)
            ax.set_title(title)
            style.legend_outside(ax)
        if simulated:
            fig.suptitle("includes SIMULATED participants (colorbench study report --simulate)", color="#a40")
    return fig


def report(manifest: Manifest, out: Path | None = None, *, simulated: list[dict[str, Any]] | None = None,
           truth: dict[str, float] | None = None,
           published_path: Path | None = None) -> tuple[list[dict[str, Any]], Path]:
    """Summarise the study's stored answers (plus ``simulated`` rows), write ``study.{md,csv,png}`` into ``out``
    (default the study folder); return the rows and the markdown path."""
    from colorbench.study.store import Store

    out = Path(out or manifest.root)
    out.mkdir(parents=True, exist_ok=True)
    db = manifest.root / DATABASE
    real = []
    if db.is_file():
        store = Store(db, manifest.study_id)
        real = store.answers()
        store.close()
    rows = summarise(manifest, [*real, *(simulated or [])])
    published, missing = published_rows(published_path)
    people = len({a["token"] for a in real})
    where = db.name if db.is_file() else f"{db.name} (not created yet: nobody has answered)"
    notes = [f"{len(real)} answers from people ({people} participant{'s' * (people != 1)}) in {where}."]
    if simulated:
        notes.append(f"Includes {len(simulated)} answers from {len({a['token'] for a in simulated})} SIMULATED "
                     "participants with the known bias in the last columns (`--simulate`); not people.")
    if missing:
        notes.append(missing)
    md = out / "study.md"
    write_markdown(md, manifest, rows, published, notes, truth)
    write_csv(out / "study.csv", rows)
    plot(out / "study.png", rows, published, simulated=bool(simulated))
    return rows, md

"""``colorbench compare``'s rows: score run folders and released models (zoo names) on one protocol, once each.

Each target's scores on a protocol are kept beside it, ``<run folder>/compare/<protocol>/`` (a zoo model's under
``runs/zoo/METHOD-ENTRY/compare/<protocol>/``): ``row.json`` (the dataset-level figures, what was scored and the
weights it was scored with: the checkpoint's step, or the released file's sha256) and ``per_image.csv`` (one row
per image, what the results layer's intervals and marks resample). A target already scored on the protocol with
the same weights, the same images folder and the same code (:func:`colorbench.fingerprint.code_hash`, as a bench
cell's key) is read back, not scored again. The table itself is the results layer's
(:func:`colorbench.report.tables.summarise` / :func:`~colorbench.report.tables.markdown`), as the bench's
``table.md``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colorbench.errors import UserError


@dataclass(frozen=True)
class Target:
    """One thing to compare: a run/checkpoint folder or a zoo name, with what identifies its weights."""

    given: str  # as the user wrote it
    method: str
    variant: str
    seed: int
    weights: str  # "step N of <checkpoint>" or "sha256:<hex>" (a zoo file)
    store: Path  # where its compare/<protocol>/ folder lives


def target(given: str) -> Target:
    """Describe ``given`` (a run folder, a checkpoint folder or a zoo name) without loading its weights, except a
    zoo file's hash."""
    from colorbench import pretrained

    if pretrained.is_zoo_name(given):
        entry = pretrained.get_zoo(given)
        path = pretrained.zoo_path(given)
        if not path.is_file():
            raise UserError(f"released weights for {given} are not on disk (expected {path}); run `colorbench "
                            f"weights fetch {given}` on a machine with a network and copy the file there")
        sha = pretrained.checked_sha256(entry, path)
        return Target(given, entry.method, f"zoo:{entry.entry}", 0, f"sha256:{sha}", pretrained.zoo_eval_dir(given))
    from colorbench.checkpoint import read_config, resolve

    ckpt = resolve(given)
    record = read_config(ckpt)
    run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt
    return Target(given, str(record.get("method")), str(record.get("variant") or "default"),
                  int(record.get("seed") or 0), f"step {record.get('step')} of {ckpt.resolve()}", run_dir)


def scores(t: Target, protocol: str, data_dir: str | None = None, max_images: int | None = None,
           batch_size: int = 16, device: str = "auto") -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
    """``t``'s figures and per-image records on ``protocol`` and whether they were read back (True) or scored now.
    ``max_images``: score only the first N images (a custom protocol, stored apart from the full one)."""
    import csv

    from colorbench import _atomic as atomic

    from colorbench import fingerprint
    from colorbench.registry import get_method

    tag = protocol if max_images is None else f"{protocol}-first{max_images}"
    folder = t.store / "compare" / tag
    row_file, per_file = folder / "row.json", folder / "per_image.csv"
    code = fingerprint.code_hash(get_method(t.method))  # the method's and the core's code, as a bench cell's key
    if row_file.is_file() and per_file.is_file():
        row = json.loads(row_file.read_text())
        same = (row.get("weights"), row.get("data_dir"), row.get("code"))
        if same == (t.weights, str(data_dir) if data_dir else None, code):
            with per_file.open(newline="") as f:
                return row, list(csv.DictReader(f)), True
    from colorbench.checkpoint import load_method
    from colorbench.data import build_dataset, protocol_for
    from colorbench.evaluator import evaluate
    from colorbench.train.distributed import resolve_device

    declared = protocol_for(protocol)
    options = {"data_dir": data_dir} if data_dir else {}
    dataset = build_dataset(protocol, declared.split, size=declared.size, seed=t.seed, **options,
                            **declared.dataset_options())
    method = load_method(t.given, map_location=resolve_device(device))
    try:
        res = evaluate(method, dataset, batch_size=batch_size, max_images=max_images or declared.max_images)
    except ValueError as exc:  # NaN/inf predictions: the evaluator names the images
        raise UserError(f"{t.given}: {str(exc).splitlines()[0]}") from None
    source = getattr(dataset, "source", None)
    row = {"given": t.given, "weights": t.weights, "code": code, "protocol": tag,
           "data_dir": str(data_dir) if data_dir else None, "n_images": res.n_images, "figures": res.figures,
           "notes": res.notes}
    records = [{**r, **({"photo": source(int(r["index"]))} if source and "index" in r else {})} for r in res.records]
    atomic.write_csv(per_file, records)
    atomic.write_json(row_file, row)
    return row, records, False


def table(targets: list[Target], rows: list[dict[str, Any]], per_image: list[list[dict[str, Any]]],
          protocol: str) -> str:
    """The results layer's Markdown table (intervals over images, marks, flags) of ``targets`` on ``protocol``,
    with the published figures that :func:`colorbench.report.published.shown_beside` allows beneath it."""
    import pandas as pd

    from colorbench.report.published import published_table, shown_beside
    from colorbench.report.tables import TABLE_METRICS, markdown, rule_text, summarise

    variants = [t.variant for t in targets]
    metrics, per = [], []
    for t, v, row, recs in zip(targets, variants, rows, per_image):
        clash = sum((u.method, w) == (t.method, v) for u, w in zip(targets, variants)) > 1
        variant = f"{v} ({t.store.name})" if clash else v  # two runs of one method and variant: told apart by folder
        ident = {"method": t.method, "variant": variant, "dataset": protocol, "seed": t.seed}
        metrics.append({**ident, "status": "ok", "kind": "train", **row["figures"],
                        **{f"{k}_note": n for k, n in row.get("notes", {}).items()}})
        per += [{**ident, **r} for r in recs]
    s = summarise(pd.DataFrame(metrics), pd.DataFrame(per))
    text, notes = markdown(s)
    out = [text, "", rule_text(s)]
    if notes:
        out += [""] + [f"[^{i}]: {n}" for i, n in enumerate(notes, 1)]
    shown = shown_beside(protocol, [(m["method"], m["variant"]) for m in metrics], TABLE_METRICS)
    if shown:
        out += ["", "Published figures on this protocol (copied from `colorbench/reference/published.csv`, not "
                "measured here):", "", published_table(list(TABLE_METRICS), shown)]
    return "\n".join(out)

"""Synthetic participants with a known bias, answering through the same rules as people (``Study.answer``), so
the whole chain (schedule, store, report) can be checked without people.

A simulated participant judges an image of condition ``c`` real with probability ``bias[c]`` (``single``); in
``pair`` it picks the colourised image as the real one (is fooled) with probability
``bias[m] / (bias[m] + bias[ground_truth])`` (a Bradley-Terry choice between the two judged-real rates).
"""
from __future__ import annotations

import random

from colorbench.errors import UserError
from colorbench.study.manifest import GROUND_TRUTH, Manifest
from colorbench.study.service import Study
from colorbench.study.store import Store

SIMULATED_DB = "simulated.sqlite"


def default_bias(manifest: Manifest) -> dict[str, float]:
    """Ground truth 0.85 (Tarrés measured 0.87); methods spread evenly from 0.6 down to 0.2 in manifest order."""
    methods = manifest.methods
    step = 0.4 / max(1, len(methods) - 1)
    return {GROUND_TRUTH: 0.85, **{m: round(0.6 - i * step, 4) for i, m in enumerate(methods)}}


def parse_bias(text: str | None, manifest: Manifest) -> dict[str, float]:
    """``"ground_truth=0.85,pix2pix=0.5"`` over :func:`default_bias`; unknown names or values outside [0,1] raise."""
    bias = default_bias(manifest)
    for part in filter(None, (text or "").split(",")):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in bias:
            raise UserError(f"--bias names {name!r}, which is not a condition of this study ({', '.join(bias)})")
        try:
            p = float(value)
        except ValueError:
            raise UserError(f"--bias {part!r}: expected NAME=PROBABILITY") from None
        if not 0.0 <= p <= 1.0:
            raise UserError(f"--bias {part!r}: the probability must lie in [0, 1]")
        bias[name] = p
    return bias


def fool_probability(bias: dict[str, float], method: str) -> float:
    """Chance that a simulated participant picks ``method``'s image as the real one in a 2AFC trial."""
    total = bias[method] + bias[GROUND_TRUTH]
    return 0.5 if total == 0 else bias[method] / total


def simulate(manifest: Manifest, participants: int, bias: dict[str, float], *, protocols: tuple[str, ...] = ("single",),
             seed: int = 0, db_path=None) -> Store:
    """Run ``participants`` simulated participants per protocol into a fresh database (default
    ``<study>/simulated.sqlite``, replaced); returns its store."""
    path = db_path or manifest.root / SIMULATED_DB
    for suffix in ("", "-wal", "-shm"):
        p = type(manifest.root)(str(path) + suffix)
        if p.exists():
            p.unlink()
    store = Store(path, manifest.study_id, durable=False)  # a throwaway file: no fsync per answer
    rng = random.Random(f"simulate:{seed}")
    items, pairs = manifest.items, manifest.pairs
    for protocol in protocols:
        study = Study(manifest, store, protocol, max_participants=participants, open_enrolment=True)
        for _ in range(participants):
            token = study.start()
            for trial in study.state(token)["remaining"]:
                tid = trial["trial"]
                real_tid, shown = study.resolve(token, tid)  # the organiser's view behind the participant's IDs
                if protocol == "single":
                    answer = int(rng.random() < bias[items[real_tid][1]])
                else:
                    fooled = rng.random() < fool_probability(bias, pairs[real_tid][1])
                    real = manifest.photos[pairs[real_tid][0]]["items"][GROUND_TRUTH]
                    real_side = shown.index(real)
                    answer = 1 - real_side if fooled else real_side
                study.answer({"study": manifest.study_id, "token": token, "trial": tid, "answer": answer,
                              "rt_ms": round(rng.uniform(600, 4000))})
    return store

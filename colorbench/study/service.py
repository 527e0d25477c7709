"""The rules of a running study, shared by the web app and the simulator: start a participant, give their
remaining trials, validate and store an answer. Errors carry the HTTP status the web app returns."""
from __future__ import annotations

import math
from typing import Any

from colorbench.study.manifest import GROUND_TRUTH, ID_RE, Manifest
from colorbench.study.schedule import Scheduler, Trial
from colorbench.study.store import Store

PROTOCOLS = ("single", "pair")
MAX_RT_MS = 24 * 3600 * 1000.0


class AnswerError(Exception):
    """A request the study refuses: ``status`` (4xx) and a plain one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class Study:
    """A served study: its manifest, its store, and the protocol new participants get."""

    def __init__(self, manifest: Manifest, store: Store, protocol: str = "single", time_limit: float | None = None):
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        self.manifest, self.store, self.protocol, self.time_limit = manifest, store, protocol, time_limit
        n, k, seed = len(manifest.photos), manifest.per_participant, manifest.seed
        self.schedulers = {"single": Scheduler(n, manifest.conditions, k, seed, "single"),
                           "pair": Scheduler(n, manifest.methods, k, seed, "pair")}

    # ---------------------------------------------------------------------------------------- schedule
    def trial_view(self, protocol: str, t: Trial) -> tuple[str, list[str]]:
        """(trial ID, image IDs shown left to right) of trial ``t``."""
        photo = self.manifest.photos[t.photo]
        if protocol == "single":
            item = photo["items"][t.condition]
            return item, [item]
        real, fake = photo["items"][GROUND_TRUTH], photo["items"][t.condition]
        return photo["pairs"][t.condition], [real, fake] if t.real_left else [fake, real]

    def schedule(self, token: str) -> tuple[str, list[tuple[str, list[str]]]]:
        """(protocol, [(trial ID, shown image IDs)]) of participant ``token``; unknown tokens raise 403."""
        who = self.store.participant(token) if isinstance(token, str) else None
        if who is None:
            raise AnswerError(403, "unknown participant token; reload the page to start again")
        idx, protocol = who
        return protocol, [self.trial_view(protocol, t) for t in self.schedulers[protocol].trials(idx)]

    # ---------------------------------------------------------------------------------------- actions
    def start(self) -> str:
        """A new participant on the server's protocol; returns their token."""
        token, _ = self.store.new_participant(self.protocol)
        return token

    def state(self, token: str) -> dict[str, Any]:
        """What the page needs to (re)start ``token``: protocol, totals and the remaining trials in order."""
        protocol, trials = self.schedule(token)
        done = self.store.answered(token)
        remaining = [{"trial": tid, "images": [f"img/{i}" for i in shown]} for tid, shown in trials if tid not in done]
        return {"study": self.manifest.study_id, "protocol": protocol, "total": len(trials),
                "done": len(trials) - len(remaining), "time_limit": self.time_limit, "remaining": remaining}

    def answer(self, payload: Any) -> dict[str, Any]:
        """Validate ``{"study", "token", "trial", "answer", "rt_ms"}`` and store it once.

        Returns ``{"stored": bool, "done": int, "total": int}``; a repeated answer stores nothing (``stored`` False).
        """
        expected = {"study", "token", "trial", "answer", "rt_ms"}
        if not isinstance(payload, dict) or set(payload) != expected:
            raise AnswerError(400, f"an answer is a JSON object with exactly the keys {sorted(expected)}")
        if payload["study"] != self.manifest.study_id:
            raise AnswerError(409, "this answer belongs to another study; reload the page")
        trial, answer, rt = payload["trial"], payload["answer"], payload["rt_ms"]
        if not isinstance(trial, str) or not ID_RE.match(trial):
            raise AnswerError(400, "malformed trial id")
        if answer not in (0, 1) or isinstance(answer, bool):
            raise AnswerError(400, "answer must be 0 or 1")
        if isinstance(rt, bool) or not isinstance(rt, (int, float)) or not math.isfinite(rt) or not 0 <= rt <= MAX_RT_MS:
            raise AnswerError(400, "rt_ms must be a number of milliseconds between 0 and 86400000")
        protocol, trials = self.schedule(payload["token"])
        known = self.manifest.items if protocol == "single" else self.manifest.pairs
        if trial not in known:
            raise AnswerError(404, "unknown trial id")
        shown = dict(trials).get(trial)
        if shown is None:
            raise AnswerError(409, "this trial is not on this participant's schedule")
        stored = self.store.add_answer(payload["token"], trial, protocol, answer, float(rt), shown)
        done = len(self.store.answered(payload["token"]))
        return {"stored": stored, "done": done, "total": len(trials)}

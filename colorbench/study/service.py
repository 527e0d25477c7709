"""The rules of a running study, shared by the web app and the simulator: start a participant, give their
remaining trials, validate and store an answer. Errors carry the HTTP status the web app returns.

What a participant sees is an alias: every trial and image gets an ID of its own per participant
(``HMAC(study secret, token:manifest ID)``, 16 hex digits), so no image keeps one ID across participants or pairs,
and every image is re-encoded for its participant (:mod:`~colorbench.study.reencode`: keyed pixel noise, one
encoding whose size depends on width and height only, a time floor), so neither its bytes, its size nor its timing
tells which image of a pair recurs across tokens (the real one) or which condition it is. The store and the report keep
the manifest's IDs.

A participant needs an invitation the organiser issued (``colorbench study invite``): each code makes one participant
and gives the same one back on every later visit, so an anonymous client cannot take the study's slots. Only a
server started with ``open_enrolment`` (``serve --open``, loopback only: a supervised session) lets anyone start.
Participant creation is capped either way (default: one participant per (photo, condition) slot of the schedule).
"""
from __future__ import annotations

import hashlib
import hmac
import math
import re
import threading
from typing import Any

from colorbench.study.manifest import GROUND_TRUTH, ID_RE, Manifest
from colorbench.study.schedule import Scheduler, Trial
from colorbench.study.store import Store

PROTOCOLS = ("single", "pair")
MAX_RT_MS = 24 * 3600 * 1000.0
INVITE_RE = re.compile(r"^[A-Za-z0-9_-]{16}$")
NO_INVITE = "this study takes part by invitation: open the link the organiser sent you, as it was sent"


class AnswerError(Exception):
    """A request the study refuses: ``status`` (4xx) and a plain one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def participant_id(key: bytes, token: str, item: str) -> str:
    """The ID participant ``token`` sees for manifest ID ``item``: ``HMAC-SHA256(key, "token:item")``, 16 hex digits
    (like the manifest's IDs); ``key`` is the store's :meth:`~colorbench.study.store.Store.alias_key`."""
    return hmac.new(key, f"{token}:{item}".encode(), hashlib.sha256).hexdigest()[:16]


def default_cap(manifest: Manifest, protocol: str) -> int:
    """Participants a protocol takes by default: one per (photo, condition) slot of its schedule (conditions:
    ground truth and methods for ``single``, the methods for ``pair``)."""
    conditions = manifest.conditions if protocol == "single" else manifest.methods
    return len(manifest.photos) * len(conditions)


class Study:
    """A served study: its manifest, its store, and the protocol new participants get."""

    def __init__(self, manifest: Manifest, store: Store, protocol: str = "single", time_limit: float | None = None,
                 max_participants: int | None = None, open_enrolment: bool = False):
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        self.manifest, self.store, self.protocol, self.time_limit = manifest, store, protocol, time_limit
        self.open_enrolment = open_enrolment
        n, k, seed = len(manifest.photos), manifest.per_participant, manifest.seed
        self.schedulers = {"single": Scheduler(n, manifest.conditions, k, seed, "single"),
                           "pair": Scheduler(n, manifest.methods, k, seed, "pair")}
        self.max_participants = default_cap(manifest, protocol) if max_participants is None else max_participants
        self._key = store.alias_key()
        self._lock = threading.Lock()
        self._images: dict[str, tuple[str, str]] = {}  # image alias -> (token, manifest image ID), for /img
        self._trials: dict[str, dict[str, tuple[str, list[str]]]] = {}  # token -> trial alias -> (trial, shown)
        for token, _, _ in store.participants():  # a restarted server serves every earlier participant's images
            self.schedule(token)

    # ---------------------------------------------------------------------------------------- schedule
    def trial_view(self, protocol: str, t: Trial) -> tuple[str, list[str]]:
        """(trial ID, image IDs shown left to right) of trial ``t``."""
        photo = self.manifest.photos[t.photo]
        if protocol == "single":
            item = photo["items"][t.condition]
            return item, [item]
        real, fake = photo["items"][GROUND_TRUTH], photo["items"][t.condition]
        return photo["pairs"][t.condition], [real, fake] if t.real_left else [fake, real]

    def alias(self, token: str, item: str) -> str:
        """The ID participant ``token`` sees for manifest ID ``item`` (see :func:`participant_id`)."""
        return participant_id(self._key, token, item)

    def schedule(self, token: str) -> tuple[str, list[tuple[str, list[str]]]]:
        """(protocol, [(trial ID, shown image IDs)]) of participant ``token``, in the IDs the participant sees
        (aliases); unknown tokens raise 403."""
        who = self.store.participant(token) if isinstance(token, str) else None
        if who is None:
            raise AnswerError(403, "unknown participant token; reload the page to start again")
        idx, protocol = who
        view, trials = [], {}
        for t in self.schedulers[protocol].trials(idx):
            trial, shown = self.trial_view(protocol, t)
            alias, shown_aliases = self.alias(token, trial), [self.alias(token, i) for i in shown]
            trials[alias] = (trial, shown)
            view.append((alias, shown_aliases))
        with self._lock:
            if token not in self._trials:
                self._trials[token] = trials
                for alias, shown_aliases in view:
                    for a, i in zip(shown_aliases, trials[alias][1]):
                        self._images[a] = (token, i)
        return protocol, view

    def resolve(self, token: str, trial: str) -> tuple[str, list[str]] | None:
        """``(manifest trial ID, manifest IDs shown)`` behind trial alias ``trial`` of ``token``, or None."""
        self.schedule(token)
        return self._trials[token].get(trial)

    def image(self, image: str) -> tuple[bytes, int]:
        """``(PNG bytes, pixels)`` behind image alias ``image``, re-encoded for the participant it belongs to (see
        :mod:`~colorbench.study.reencode`); anything else raises ``KeyError``, an unreadable file ``OSError``."""
        from colorbench.study.reencode import served_png

        if not isinstance(image, str) or not ID_RE.match(image):
            raise KeyError(image)
        with self._lock:
            token, item = self._images[image]
        seed = hmac.new(self._key, f"pixels:{token}:{item}".encode(), hashlib.sha256).digest()
        return served_png(self.manifest.image_path(item), seed)

    # ---------------------------------------------------------------------------------------- actions
    def start(self, invite: Any = None) -> str:
        """The token of invitation ``invite`` (a new participant on the server's protocol the first time, the same
        one after); without one, a new participant only under ``open_enrolment``, else 403. Over the cap: 409."""
        if invite is None and self.open_enrolment:
            made = self.store.new_participant(self.protocol, self.max_participants)
            token = None if made is None else made[0]
        elif not isinstance(invite, str) or not INVITE_RE.match(invite):
            raise AnswerError(403, NO_INVITE)
        else:
            try:
                token = self.store.invited_participant(invite, self.protocol, self.max_participants)
            except KeyError:
                raise AnswerError(403, NO_INVITE) from None
        if token is None:
            raise AnswerError(409, f"this study has all the participants it takes ({self.max_participants}); "
                                   "thank you for your interest")
        self.schedule(token)
        return token

    def state(self, token: str) -> dict[str, Any]:
        """What the page needs to (re)start ``token``: protocol, totals and the remaining trials in order."""
        protocol, trials = self.schedule(token)
        done = self.store.answered(token)  # manifest trial IDs
        remaining = [{"trial": tid, "images": [f"img/{i}" for i in shown]} for tid, shown in trials
                     if self._trials[token][tid][0] not in done]
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
        if type(answer) is not int or answer not in (0, 1):  # not True, not 1.0
            raise AnswerError(400, "answer must be 0 or 1")
        if isinstance(rt, bool) or not isinstance(rt, (int, float)) or not math.isfinite(rt) \
                or not 0 <= rt <= MAX_RT_MS:
            raise AnswerError(400, "rt_ms must be a number of milliseconds between 0 and 86400000")
        protocol, trials = self.schedule(payload["token"])
        behind = self.resolve(payload["token"], trial)
        if behind is None:
            raise AnswerError(409, "this trial is not on this participant's schedule")
        real_trial, shown = behind
        stored = self.store.add_answer(payload["token"], real_trial, protocol, answer, float(rt), shown)
        done = len(self.store.answered(payload["token"]))
        return {"stored": stored, "done": done, "total": len(trials)}

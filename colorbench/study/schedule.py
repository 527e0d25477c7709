"""Who sees what: a seeded, balanced schedule per participant.

Participant ``p`` (0, 1, 2, ... in the order they start) gets ``per_participant`` trials, each a (photo, condition):

* no photo twice for one participant;
* a fixed share per condition: ``n // C`` trials each, and the ``n % C`` extra trials go to the conditions used least
  so far over all participants (so shares stay equal in the long run);
* across participants, photos are used evenly (least-shown first) and each photo is shown in each condition about
  equally often (each trial takes the condition with the fewest showings of that photo);
* a random order within the participant.

Ties break with a generator seeded by (seed, protocol, p), so the schedule of ``p`` depends only on the study seed and
``p``: a restarted server rebuilds exactly the same schedules. Schedules are built in order and cached.
"""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Trial:
    """One trial: ``photo`` (index into the manifest's photos), ``condition``, and for 2AFC whether the real photo
    is on the left."""

    photo: int
    condition: str
    real_left: bool = False


class Scheduler:
    """Schedules for ``conditions`` over ``n_photos`` photos, ``per_participant`` trials each (see module doc)."""

    def __init__(self, n_photos: int, conditions: list[str], per_participant: int, seed: int, protocol: str = "single"):
        if not conditions:
            raise ValueError("Scheduler: no conditions")
        if not 1 <= per_participant <= n_photos:
            raise ValueError(f"Scheduler: per_participant={per_participant} must lie in 1..{n_photos} "
                             "(the number of photos)")
        self.n_photos, self.conditions, self.n = n_photos, list(conditions), per_participant
        self.seed, self.protocol = seed, protocol
        self._photo_uses = [0] * n_photos
        self._cond_uses = {c: 0 for c in conditions}
        self._pair_uses = [{c: 0 for c in conditions} for _ in range(n_photos)]
        self._cache: list[list[Trial]] = []
        self._lock = threading.Lock()

    def trials(self, participant: int) -> list[Trial]:
        """The ordered trials of participant ``participant`` (0-based)."""
        if participant < 0:
            raise ValueError(f"participant index must be >= 0, got {participant}")
        with self._lock:
            while len(self._cache) <= participant:
                self._cache.append(self._build(len(self._cache)))
            return list(self._cache[participant])

    def _build(self, p: int) -> list[Trial]:
        rng = random.Random(f"{self.seed}:{self.protocol}:{p}")
        c = len(self.conditions)
        # photos: least shown first, random among equals
        photos = sorted(range(self.n_photos), key=lambda i: (self._photo_uses[i], rng.random()))[: self.n]
        # quotas: n // C each, the remainder to the conditions used least so far
        quota = {cond: self.n // c for cond in self.conditions}
        extra = sorted(self.conditions, key=lambda cond: (self._cond_uses[cond], rng.random()))[: self.n % c]
        for cond in extra:
            quota[cond] += 1
        # assignment: each photo takes the open condition it was shown in least
        rng.shuffle(photos)
        trials = []
        for i in photos:
            open_conds = [cond for cond in self.conditions if quota[cond] > 0]
            cond = min(open_conds, key=lambda k: (self._pair_uses[i][k], rng.random()))
            quota[cond] -= 1
            trials.append(Trial(i, cond, real_left=rng.random() < 0.5))
        for t in trials:
            self._photo_uses[t.photo] += 1
            self._cond_uses[t.condition] += 1
            self._pair_uses[t.photo][t.condition] += 1
        rng.shuffle(trials)
        return trials

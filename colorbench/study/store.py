"""Answers in SQLite: WAL journal, one transaction per answer, one answer per participant and trial.

Tables::

    meta(key, value)                              -- study_id: the store refuses a database of another study;
                                                  -- alias_key: the secret of the per-participant IDs
    participants(token, protocol, idx, created)   -- idx: 0, 1, 2, ... per protocol (the schedule's participant)
    invitations(code, token, created)             -- issued by the organiser; token: the participant it made
    answers(study_id, token, trial, protocol, answer, rt_ms, ts, shown)   -- UNIQUE(token, trial)

``answer`` is 1 = "real" / 0 = "colourised" in the ``single`` protocol, and 0 = left / 1 = right picked as the real
one in ``pair``; ``shown`` lists the image IDs on screen, left to right. Tokens are random; no personal data is kept.
With ``synchronous=FULL`` a committed answer survives ``kill -9`` (and a power cut); only an answer whose
transaction had not committed is lost.
"""
from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from colorbench.errors import UserError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS participants (
    token TEXT PRIMARY KEY, protocol TEXT NOT NULL, idx INTEGER NOT NULL, created REAL NOT NULL,
    UNIQUE (protocol, idx));
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY, study_id TEXT NOT NULL, token TEXT NOT NULL REFERENCES participants(token),
    trial TEXT NOT NULL, protocol TEXT NOT NULL, answer INTEGER NOT NULL CHECK (answer IN (0, 1)),
    rt_ms REAL NOT NULL, ts REAL NOT NULL, shown TEXT NOT NULL, UNIQUE (token, trial));
CREATE TABLE IF NOT EXISTS invitations (
    code TEXT PRIMARY KEY, token TEXT UNIQUE REFERENCES participants(token), created REAL NOT NULL);
"""
COLUMNS = {"meta": ("key", "value"), "participants": ("token", "protocol", "idx", "created"),
           "answers": ("id", "study_id", "token", "trial", "protocol", "answer", "rt_ms", "ts", "shown"),
           "invitations": ("code", "token", "created")}


class Store:
    """One SQLite database file for study ``study_id``; safe to share between threads (one lock).

    ``durable=False`` skips fsync (``synchronous=OFF``): only for throwaway databases such as the simulator's.
    """

    def __init__(self, path: str | Path, study_id: str, durable: bool = True):
        self.path, self.study_id = Path(path), study_id
        self._lock = threading.Lock()
        if self.path.is_dir():
            raise UserError(f"{self.path} is a folder, not the study's answers database; move it away (the next "
                            "`colorbench study serve` then starts a new database)")
        try:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        except sqlite3.Error as exc:
            raise UserError(f"cannot open {self.path} ({exc}); check that its folder exists and is writable") from None
        try:
            self._open(durable)
        except sqlite3.DatabaseError as exc:  # not a database, a truncated one, another program's tables
            self._db.close()
            raise UserError(f"{self.path} is not a usable answers database ({exc}); restore it from a backup, or "
                            "move it away to start a new, empty one (its answers are then not counted)") from None
        except BaseException:
            self._db.close()
            raise

    def _open(self, durable: bool) -> None:
        """Pragmas, schema, integrity and the study ID check of a freshly connected database."""
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            (check,) = self._db.execute("PRAGMA quick_check(1)").fetchone()
            if check != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {check}")
            self._db.executescript(SCHEMA)
            for table, columns in COLUMNS.items():  # tables of the same names but other columns fail here
                self._db.execute(f"SELECT {', '.join(columns)} FROM {table} LIMIT 0")
            row = self._db.execute("SELECT value FROM meta WHERE key='study_id'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('study_id', ?)", (self.study_id,))
            elif row[0] != self.study_id:
                raise UserError(f"{self.path} holds answers of study {row[0]}, not of this manifest's study "
                                f"{self.study_id}; "
                                "move the database away or serve the folder it belongs to")

    def alias_key(self) -> bytes:
        """This study's secret for per-participant IDs (random, made on first use, kept in ``meta`` so a restarted
        server gives every participant the same IDs again)."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('alias_key', ?)", (secrets.token_hex(32),))
            (value,) = self._db.execute("SELECT value FROM meta WHERE key='alias_key'").fetchone()
        return bytes.fromhex(value)

    def participants(self) -> list[tuple[str, str, int]]:
        """Every participant as ``(token, protocol, index)``, in the order they started."""
        with self._lock:
            return [(str(t), str(p), int(i)) for t, p, i in
                    self._db.execute("SELECT token, protocol, idx FROM participants ORDER BY created, idx")]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def new_participant(self, protocol: str, limit: int | None = None) -> tuple[str, int] | None:
        """A fresh random token and its schedule index (the next free one for ``protocol``); None when ``protocol``
        has ``limit`` participants already."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                made = self._insert_participant(protocol, limit)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return made

    def _insert_participant(self, protocol: str, limit: int | None) -> tuple[str, int] | None:
        """Inside a transaction: add a participant (see :meth:`new_participant`)."""
        (idx,) = self._db.execute("SELECT COUNT(*) FROM participants WHERE protocol=?", (protocol,)).fetchone()
        if limit is not None and idx >= limit:
            return None
        token = secrets.token_urlsafe(18)
        self._db.execute("INSERT INTO participants VALUES (?, ?, ?, ?)", (token, protocol, idx, time.time()))
        return token, idx

    def new_invitations(self, n: int) -> list[str]:
        """``n`` fresh invitation codes (16 URL-safe characters each), stored in one transaction."""
        codes = [secrets.token_urlsafe(12) for _ in range(n)]
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT INTO invitations (code, created) VALUES (?, ?)", [(c, now) for c in codes])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return codes

    def invited_participant(self, code: str, protocol: str, limit: int | None = None) -> str | None:
        """The token of invitation ``code``: the participant it made before (the same one on every visit), else a new
        participant of ``protocol`` bound to it; None when ``protocol`` has ``limit`` participants already. An
        unknown code raises ``KeyError``."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT token FROM invitations WHERE code=?", (code,)).fetchone()
                if row is None:
                    raise KeyError(code)
                token = row[0]
                if token is None:
                    made = self._insert_participant(protocol, limit)
                    token = made and made[0]
                    if token is not None:
                        self._db.execute("UPDATE invitations SET token=? WHERE code=?", (token, code))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return token

    def participant(self, token: str) -> tuple[int, str] | None:
        """``(index, protocol)`` of ``token``, or None if unknown."""
        with self._lock:
            row = self._db.execute("SELECT idx, protocol FROM participants WHERE token=?", (token,)).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def answered(self, token: str) -> set[str]:
        """The trial IDs ``token`` has answered."""
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT trial FROM answers WHERE token=?", (token,))}

    def add_answer(self, token: str, trial: str, protocol: str, answer: int, rt_ms: float, shown: list[str]) -> bool:
        """Store one answer in its own transaction; False (and nothing changes) if this trial was answered already."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO answers (study_id, token, trial, protocol, answer, rt_ms, ts, shown) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (self.study_id, token, trial, protocol, int(answer), float(rt_ms), time.time(), ",".join(shown)))
            return cur.rowcount == 1

    def answers(self) -> list[dict[str, Any]]:
        """Every stored answer as a dict (columns of ``answers``), in insertion order."""
        with self._lock:
            cur = self._db.execute("SELECT study_id, token, trial, protocol, answer, rt_ms, ts, shown FROM answers "
                                   "ORDER BY id")
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, row)) for row in cur]

    def progress(self) -> dict[str, Any]:
        """Counts for the organiser: participants and answers per protocol, and answers per participant."""
        with self._lock:
            per = self._db.execute(
                "SELECT p.protocol, p.idx, COUNT(a.id) FROM participants p LEFT JOIN answers a ON a.token = p.token "
                "GROUP BY p.token ORDER BY p.protocol, p.idx").fetchall()
            issued, used = self._db.execute("SELECT COUNT(*), COUNT(token) FROM invitations").fetchone()
        return {"participants": [{"protocol": r[0], "index": r[1], "answers": r[2]} for r in per],
                "answers": sum(r[2] for r in per), "invitations": int(issued), "invitations_used": int(used)}

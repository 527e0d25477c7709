"""The study server as a real process on loopback: ``kill -9`` mid-run loses nothing acknowledged and doubles
nothing, a restart resumes every participant; 20 participants answering concurrently get no 5xx and every
answer is stored exactly once. Requests per second are printed (run with ``-s``), never asserted."""
from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from colorbench.study.manifest import DATABASE
from colorbench.study.service import participant_id
from study_support import make_study, organiser_url, served

pytestmark = pytest.mark.slow  # a server process per test, killed and restarted or loaded by 20 clients (3-4 s each)


def answer_all(base: str, study_id: str, token: str, stop: threading.Event, log: list, lock: threading.Lock,
               repeat: bool = False) -> None:
    """Answer ``token``'s remaining trials one by one; log (status, stored, trial) per request."""
    with httpx.Client(base_url=base, timeout=10) as client:
        remaining = client.post("/api/state", json={"token": token}).json()["remaining"]
        for i, trial in enumerate(remaining):
            if stop.is_set():
                return
            body = {"study": study_id, "token": token, "trial": trial["trial"], "answer": i % 2, "rt_ms": 700 + i}
            for _ in range(2 if repeat else 1):
                try:
                    r = client.post("/api/answer", json=body)
                except httpx.TransportError:
                    return  # the server was killed
                with lock:
                    log.append((r.status_code, r.json().get("stored") if r.status_code == 200 else None, token,
                                trial["trial"]))


def db_rows(root: Path) -> list[tuple[str, str, int]]:
    """(token, trial ID as the participant saw it, answer) of every stored row: the store keeps the manifest's
    trial IDs, each participant sees its own alias of them."""
    conn = sqlite3.connect(root / DATABASE)
    rows = conn.execute("SELECT token, trial, answer FROM answers").fetchall()
    (key,) = conn.execute("SELECT value FROM meta WHERE key='alias_key'").fetchone()
    conn.close()
    return [(token, participant_id(bytes.fromhex(key), token, trial), answer) for token, trial, answer in rows]


def test_kill_9_mid_run_then_restart_resumes_everyone(tmp_path):
    root = tmp_path / "s"
    m = make_study(root, n_photos=30, per_participant=30, size=16, crop=24)
    log, lock, stop = [], threading.Lock(), threading.Event()
    with served(root) as (base, proc):
        tokens = [httpx.post(base + "/api/start", json={}).json()["token"] for _ in range(4)]
        threads = [threading.Thread(target=answer_all, args=(base, m.study_id, t, stop, log, lock)) for t in tokens]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60  # generous for a loaded CI machine; usually well under a second
        while len(log) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)  # mid-run: the four clients are still answering
        proc.wait(10)
        stop.set()
        for t in threads:
            t.join(10)
    acknowledged = {(tok, trial) for status, stored, tok, trial in log if status == 200 and stored}
    assert len(acknowledged) >= 40 and all(status == 200 for status, *_ in log)
    rows = db_rows(root)
    stored = {(tok, trial) for tok, trial, _ in rows}
    assert len(rows) == len(stored)  # none doubled
    assert acknowledged <= stored  # every acknowledged answer survived kill -9
    assert len(stored - acknowledged) <= len(tokens)  # at most the one in flight per client
    with served(root) as (base, proc):
        for tok in tokens:
            state = httpx.post(base + "/api/state", json={"token": tok}).json()
            done = {trial for t, trial in stored if t == tok}
            assert state["done"] == len(done) and not done & {t["trial"] for t in state["remaining"]}
            assert len(state["remaining"]) == m.per_participant - len(done)
        log.clear()
        stop.clear()
        for tok in tokens:  # everyone finishes after the restart
            answer_all(base, m.study_id, tok, stop, log, lock, repeat=True)
        assert all(status == 200 for status, *_ in log)
        key_url = organiser_url(proc)
        page = httpx.get(key_url).text
        assert (f"<b>4</b> participants</div><div><b>4</b> finished</div><div><b>{4 * m.per_participant}</b> answers"
                in page)
    rows = db_rows(root)
    assert len(rows) == len({(t, tr) for t, tr, _ in rows}) == 4 * m.per_participant


def test_twenty_concurrent_participants_on_loopback(tmp_path):
    root = tmp_path / "s"
    m = make_study(root, n_photos=20, per_participant=20, size=16, crop=24)
    log, lock, stop = [], threading.Lock(), threading.Event()
    with served(root) as (base, proc):
        tokens = [httpx.post(base + "/api/start", json={}).json()["token"] for _ in range(20)]
        assert len(set(tokens)) == 20
        threads = [threading.Thread(target=answer_all, args=(base, m.study_id, t, stop, log, lock, True))
                   for t in tokens]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(45)  # bounded: a hung server fails the test instead of the suite
        elapsed = time.perf_counter() - t0
        stop.set()
        assert not any(t.is_alive() for t in threads)
    statuses = Counter(status for status, *_ in log)
    assert statuses == {200: 2 * 20 * m.per_participant}, statuses  # no 5xx, no refusal
    stored = Counter(s for _, s, *_ in log)
    assert stored == {True: 400, False: 400}  # every repeat was a no-op
    rows = db_rows(root)
    assert len(rows) == len({(t, tr) for t, tr, _ in rows}) == 20 * m.per_participant  # none lost, none doubled
    requests = len(log) + 20  # answers + one state call per participant
    print(f"\nstudy load test: 20 participants, {requests} requests in {elapsed:.2f} s = "
          f"{requests / elapsed:.0f} requests/s (loopback, fsync per answer)")

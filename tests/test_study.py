"""The perceptual study without a server process: statistics against SciPy, schedules, creation, the web app
through Starlette's TestClient (leaks, idempotence, refusals), simulation and the report."""
from __future__ import annotations

import hashlib
import io
import json
import math
import time
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.stats import binomtest
from starlette.testclient import TestClient

from colorbench.cli import main
from colorbench.color import rgb_to_lab
from colorbench.errors import UserError
from colorbench.study.app import MAX_BODY, create_app
from colorbench.study.create import create_study, display_resize
from colorbench.study.manifest import DATABASE, GROUND_TRUTH, load_manifest
from colorbench.study.report import report, summarise
from colorbench.study.schedule import Scheduler
from colorbench.study.service import Study
from colorbench.study.simulate import default_bias, fool_probability, simulate
from colorbench.study.stats import wilson_interval
from colorbench.study.store import Store
from study_support import METHOD_NAMES, GreyMethod, make_study, photo_crops


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("study") / "s"
    make_study(root)
    return root


def client_for(root: Path, protocol: str = "single", db_name: str = DATABASE,
               open_enrolment: bool = True) -> tuple[TestClient, Study]:
    """A TestClient on a fresh study server; ``open_enrolment`` (as ``serve --open``) lets a test start participants
    without invitations."""
    m = load_manifest(root)
    study = Study(m, Store(root / db_name, m.study_id), protocol, open_enrolment=open_enrolment)
    return TestClient(create_app(study, "organiser-key")), study


def png(path: Path) -> torch.Tensor:
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1).float() / 255.0


# ------------------------------------------------------------------------------------------------ statistics
@pytest.mark.parametrize("k,n", [(0, 10), (1, 10), (5, 10), (10, 10), (37, 50), (130, 150), (1, 1), (517, 1000)])
@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_wilson_matches_scipy(k, n, confidence):
    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    low, high = wilson_interval(k, n, confidence)
    assert low == pytest.approx(ci.low, abs=1e-12) and high == pytest.approx(ci.high, abs=1e-12)


def test_wilson_edges():
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    with pytest.raises(ValueError, match="0 <= k <= n"):
        wilson_interval(5, 3)


# ------------------------------------------------------------------------------------------------ schedules
@pytest.mark.parametrize("n_photos,conditions,per,participants", [(24, 4, 20, 48), (30, 4, 10, 40), (7, 3, 7, 21)])
def test_schedule_is_balanced_and_never_repeats_a_photo(n_photos, conditions, per, participants):
    conds = [f"c{i}" for i in range(conditions)]
    sched = Scheduler(n_photos, conds, per, seed=3)
    totals, photo_uses, pair_uses = Counter(), Counter(), Counter()
    orders = set()
    for p in range(participants):
        trials = sched.trials(p)
        assert len(trials) == per
        photos = [t.photo for t in trials]
        assert len(set(photos)) == per, "a participant saw a photo twice"
        counts = Counter(t.condition for t in trials)
        assert max(counts[c] for c in conds) - min(counts[c] for c in conds) <= 1  # fixed share
        if per % conditions == 0:
            assert all(counts[c] == per // conditions for c in conds)
        totals.update(counts)
        photo_uses.update(photos)
        pair_uses.update((t.photo, t.condition) for t in trials)
        orders.add(tuple(t.condition for t in trials))
    assert max(totals.values()) - min(totals.values()) <= 1  # remainders rotate over participants
    assert max(photo_uses.values()) - min(photo_uses.values()) <= 1 and len(photo_uses) == n_photos
    expected = participants * per / (n_photos * conditions)
    assert all(abs(pair_uses[(i, c)] - expected) <= 2 for i in range(n_photos) for c in conds)
    assert len(orders) > participants // 2  # random order, not one fixed sequence
    again = Scheduler(n_photos, conds, per, seed=3)
    assert again.trials(participants - 1) == sched.trials(participants - 1)  # a restart rebuilds the same schedule
    assert Scheduler(n_photos, conds, per, seed=4).trials(0) != sched.trials(0)


def test_schedule_rejects_more_trials_than_photos():
    with pytest.raises(ValueError, match="per_participant=9"):
        Scheduler(8, ["a", "b"], 9, seed=0)


# ------------------------------------------------------------------------------------------------ creation
def test_display_resize_keeps_aspect_and_long_side():
    rgb = torch.rand(3, 30, 60)
    assert display_resize(rgb, 20).shape == (3, 10, 20)
    assert display_resize(rgb, "original") is rgb


def test_created_images_share_L_and_ground_truth_is_the_photo(tmp_path):
    photos = photo_crops(3, 40)
    m = create_study(tmp_path / "s", {"grey": GreyMethod()}, photos, size=32, per_participant=3)
    assert sorted(p.name for p in (tmp_path / "s" / "images").iterdir()) == sorted(f"{i}.png" for i in m.items)
    by_name = dict(photos)
    for photo in m.photos:
        truth = display_resize(by_name[photo["name"]], 32)
        gt = png(m.image_path(photo["items"][GROUND_TRUTH]))
        grey = png(m.image_path(photo["items"]["grey"]))
        assert gt.shape == truth.shape == (3, 32, 32)
        assert (gt - truth).abs().max() <= 1.0 / 255 + 1e-4  # the Lab round trip + 8-bit rounding only
        lab_gt, lab_grey = rgb_to_lab(gt[None]), rgb_to_lab(grey[None])
        assert (lab_gt[:, 0] - lab_grey[:, 0]).abs().max() < 0.6  # same L (8-bit quantisation only)
        assert lab_grey[:, 1:].abs().max() < 1.0  # grey: ab = 0
        assert lab_gt[:, 1:].abs().max() > 4.0  # the photo has colour


def test_create_refuses_bad_input(tmp_path, study_dir):
    photos = photo_crops(4, 24)
    with pytest.raises(UserError, match="exists already"):
        create_study(study_dir, {"grey": GreyMethod()}, photos)
    with pytest.raises(UserError, match="per-participant 5 must lie in 1..4"):
        create_study(tmp_path / "a", {"grey": GreyMethod()}, photos, per_participant=5)
    with pytest.raises(UserError, match="ground_truth"):
        create_study(tmp_path / "b", {GROUND_TRUTH: GreyMethod()}, photos)
    with pytest.raises(UserError, match="n-images 9"):
        create_study(tmp_path / "c", {"grey": GreyMethod()}, photos, n_images=9)


def test_missing_image_is_a_clear_error_at_create_and_serve(tmp_path, capsys):
    root = tmp_path / "s"
    m = make_study(root, n_photos=4, per_participant=4)
    victim = m.image_path(m.photos[2]["items"][METHOD_NAMES[1]])
    victim.unlink()
    with pytest.raises(UserError, match=f"names image .*{victim.name}.* but the file is missing"):
        load_manifest(root)
    assert main(["study", "serve", str(root), "--port", "1"]) == 2  # fails before binding anything
    assert "file is missing" in capsys.readouterr().err
    assert main(["study", "create", "--checkpoints", str(tmp_path / "nope.ckpt"), "--out", str(tmp_path / "n")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err and not (tmp_path / "n").exists()
    assert main(["study", "create", "--from-results", str(tmp_path), "--out", str(tmp_path / "n")]) == 2
    assert "metrics.csv not found" in capsys.readouterr().err
    (tmp_path / "metrics.csv").write_text("method,variant,seed,status,checkpoint\n"
                                          "pix2pix,default,0,ok,runs/x/gone.ckpt\n")
    assert main(["study", "create", "--from-results", str(tmp_path), "--out", str(tmp_path / "n")]) == 2
    assert "gone.ckpt" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ the web app
LEAKS = (*METHOD_NAMES, GROUND_TRUTH, "ground truth", "groundtruth", "fake", "grey-test", "warm-test")


@pytest.mark.parametrize("protocol", ["single", "pair"])
def test_served_pages_ids_and_headers_leak_nothing(tmp_path, protocol):
    root = tmp_path / "s"
    make_study(root)
    client, study = client_for(root, protocol)
    seen = []
    for path in ("/", "/static/app.js", "/static/style.css"):
        r = client.get(path)
        assert r.status_code == 200
        seen.append((path, r.text, r.headers))
    token = client.post("/api/start", json={}).json()["token"]
    state = client.post("/api/state", json={"token": token})
    seen.append(("state", state.text, state.headers))
    assert "real" not in state.text.lower()  # the JSON a participant gets never says which image is real
    remaining = state.json()["remaining"]
    assert len(remaining) == study.manifest.per_participant
    for trial in remaining:
        for src in trial["images"]:
            r = client.get("/" + src)
            assert r.status_code == 200 and r.headers["content-type"] == "image/png"
            seen.append((src, "", r.headers))
            for word in LEAKS:
                assert word.encode() not in r.content
        r = client.post("/api/answer", json={"study": study.manifest.study_id, "token": token, "trial": trial["trial"],
                                             "answer": 1, "rt_ms": 900})
        assert r.status_code == 200
        seen.append(("answer", r.text, r.headers))
    for where, text, headers in seen:
        blob = (where + text + json.dumps(dict(headers))).lower()
        for word in LEAKS:
            assert word not in blob, f"{word!r} leaks in {where}"
        assert "real" not in (where + json.dumps(dict(headers))).lower()
    assert f'data-protocol="{protocol}"' in seen[0][1]
    assert all(p.stem.isalnum() and len(p.stem) == 16 for p in (root / "images").iterdir())


def test_repeated_submit_changes_nothing(tmp_path):
    root = tmp_path / "s"
    m = make_study(root)
    client, study = client_for(root)
    token = client.post("/api/start", json={}).json()["token"]
    trial = client.post("/api/state", json={"token": token}).json()["remaining"][0]["trial"]
    body = {"study": m.study_id, "token": token, "trial": trial, "answer": 1, "rt_ms": 1234.5}
    assert client.post("/api/answer", json=body).json() == {"stored": True, "done": 1, "total": m.per_participant}
    for answer in (1, 0, 0):
        r = client.post("/api/answer", json={**body, "answer": answer, "rt_ms": 99})
        assert r.json() == {"stored": False, "done": 1, "total": m.per_participant}
    rows = study.store.answers()
    # the store keeps the manifest's ID behind the participant's own
    assert [(r["trial"], r["answer"], r["rt_ms"], r["protocol"]) for r in rows] == [
        (study.resolve(token, trial)[0], 1, 1234.5, "single")]
    assert client.post("/api/state", json={"token": token}).json()["done"] == 1


def test_refusals_are_plain_4xx_and_store_nothing(tmp_path):
    root = tmp_path / "s"
    m = make_study(root)
    client, study = client_for(root)
    token = client.post("/api/start", json={}).json()["token"]
    mine = {t["trial"] for t in client.post("/api/state", json={"token": token}).json()["remaining"]}
    someone = client.post("/api/start", json={}).json()["token"]
    theirs = {t["trial"] for t in client.post("/api/state", json={"token": someone}).json()["remaining"]}
    other = sorted(theirs)[0]  # a real trial ID, but another participant's
    trial = sorted(mine)[0]
    tampered = trial[:-1] + ("0" if trial[-1] != "0" else "1")
    ok = {"study": m.study_id, "token": token, "trial": trial, "answer": 1, "rt_ms": 500}
    cases = [
        ({**ok, "trial": other}, 409, "not on this participant's schedule"),
        ({**ok, "trial": tampered}, 409, "not on this participant's schedule"),
        ({**ok, "trial": study.resolve(token, trial)[0]}, 409, "not on this participant's schedule"),  # manifest ID
        ({**ok, "answer": 1.0}, 400, "answer must be 0 or 1"),
        ({**ok, "trial": "../manifest.json"}, 400, "malformed trial id"),
        ({**ok, "trial": trial.upper()}, 400, "malformed"),
        ({**ok, "study": "0" * 16}, 409, "another study"),
        ({**ok, "token": "forged-token"}, 403, "unknown participant token"),
        ({**ok, "answer": 2}, 400, "answer must be 0 or 1"),
        ({**ok, "answer": True}, 400, "answer must be 0 or 1"),
        ({**ok, "answer": "real"}, 400, "answer must be 0 or 1"),
        ({**ok, "rt_ms": -1}, 400, "rt_ms"),
        ({**ok, "extra": 1}, 400, "exactly the keys"),
        ([1, 2], 400, "exactly the keys"),
    ]
    for body, status, message in cases:
        r = client.post("/api/answer", json=body)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("text/plain") and message in r.text
    r = client.post("/api/answer", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.text
    big = json.dumps({**ok, "pad": "x" * MAX_BODY}).encode()
    r = client.post("/api/answer", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "too large" in r.text
    r = client.post("/api/answer", content=iter([big[:1000], big[1000:]]))  # chunked: no content-length
    assert r.status_code == 413
    for path in ("/img/../manifest.json", "/img/..%2Fmanifest.json", "/manifest.json", "/answers.sqlite",
                 "/images/" + next(iter(m.items)) + ".png", "/img/" + next(iter(m.pairs)), "/static/../app.py",
                 "/img/" + tampered, "/img/" + next(iter(m.items))):  # a manifest ID is never served as such
        assert client.get(path).status_code == 404, path
    assert client.post("/api/start", content=b"x" * (MAX_BODY + 1)).status_code == 413
    assert client.post("/api/start").status_code == 200  # an empty body is fine for start
    assert client.get("/organiser").status_code == 403
    assert client.get("/organiser?key=wrong").status_code == 403
    r = client.get("/organiser?key=organiser-key")
    assert r.status_code == 200 and "<b>3</b> participants" in r.text
    assert "href='static/style.css'" in r.text and r.text.count("<progress max=") == 3  # styled like the page
    assert study.store.answers() == []
    assert client.post("/api/answer", json=ok).json()["stored"] is True


def test_pair_protocol_shows_truth_and_method_side_by_side(tmp_path):
    root = tmp_path / "s"
    m = make_study(root)
    client, study = client_for(root, "pair")
    token = client.post("/api/start", json={}).json()["token"]
    remaining = client.post("/api/state", json={"token": token}).json()["remaining"]
    sides = Counter()
    for t in remaining:
        real_trial, ids = study.resolve(token, t["trial"])
        photo, cond = m.pairs[real_trial]
        assert cond in METHOD_NAMES and sorted(ids) == sorted([m.photos[photo]["items"][GROUND_TRUTH],
                                                               m.photos[photo]["items"][cond]])
        sides[ids[0] == m.photos[photo]["items"][GROUND_TRUTH]] += 1
    assert sides[True] and sides[False]  # the real photo is not always on one side


# ------------------------------------------------------------------------------- leaks a participant can probe
def test_images_carry_no_validator_from_write_order(tmp_path):
    root = tmp_path / "s"
    make_study(root)
    client, study = client_for(root)
    token = client.post("/api/start", json={}).json()["token"]
    for trial in client.post("/api/state", json={"token": token}).json()["remaining"]:
        r = client.get("/" + trial["images"][0], headers={"If-None-Match": "*", "If-Modified-Since":
                                                          "Thu, 01 Jan 2099 00:00:00 GMT"})
        assert r.status_code == 200 and r.content.startswith(b"\x89PNG")  # never a 304 a validator would allow
        assert "etag" not in r.headers and "last-modified" not in r.headers  # these came from the file's mtime


@pytest.mark.parametrize("protocol", ["single", "pair"])
def test_no_id_recurs_across_participants_or_pairs(tmp_path, protocol):
    root = tmp_path / "s"
    m = make_study(root, n_photos=6, per_participant=6)
    client, study = client_for(root, protocol)
    shown, trials = Counter(), Counter()
    for _ in range(4):  # a curious participant making tokens of their own
        token = client.post("/api/start", json={}).json()["token"]
        for t in client.post("/api/state", json={"token": token}).json()["remaining"]:
            trials[t["trial"]] += 1
            shown.update(t["images"])
    assert set(trials.values()) == {1} and set(shown.values()) == {1}  # the real image kept one ID across pairs
    assert not {s.removeprefix("img/") for s in shown} & set(m.items)  # manifest IDs never reach a participant


def test_participant_creation_is_capped_at_the_schedule_slots(tmp_path):
    root = tmp_path / "s"
    make_study(root, n_photos=4, per_participant=3)
    client, study = client_for(root)
    assert study.max_participants == 4 * 3  # photos x conditions
    tokens = [client.post("/api/start", json={}) for _ in range(study.max_participants)]
    assert all(r.status_code == 200 for r in tokens)
    r = client.post("/api/start", json={})
    assert r.status_code == 409 and "all the participants it takes (12)" in r.text
    assert len(study.store.participants()) == 12


@pytest.mark.parametrize("body", [
    b'{"study": "x", "token": "y", "trial": "z", "answer": 1, "rt_ms": 1e400}',  # inf after parsing
    b'{"study": "x", "token": "y", "trial": "z", "answer": 1, "rt_ms": NaN}',
    b"[" * 1000 + b"]" * 1000,  # nested 1,000 deep, under 2 KB
    b'{"a": ' * 600 + b"1" + b"}" * 600,
    b"\xff\xfe not utf-8",
    b"",
])
def test_every_malformed_body_gets_a_4xx(tmp_path, body):
    root = tmp_path / "s"
    make_study(root)
    client, study = client_for(root)
    client = TestClient(client.app, raise_server_exceptions=False)
    token = client.post("/api/start", json={}).json()["token"]
    trial = client.post("/api/state", json={"token": token}).json()["remaining"][0]["trial"]
    body = body.replace(b'"x"', f'"{study.manifest.study_id}"'.encode()).replace(b'"y"', f'"{token}"'.encode())
    body = body.replace(b'"z"', f'"{trial}"'.encode())
    answer_only = body.startswith(b'{"study"')  # a valid token: /api/state reads nothing else, and answers
    for path in ("/api/answer",) if answer_only else ("/api/answer", "/api/state"):
        r = client.post(path, content=body, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
    assert study.store.answers() == []


# ------------------------------------------------------------------------------------------------ simulation + report
def test_simulated_study_recovers_its_bias(tmp_path):
    root = tmp_path / "s"
    m = make_study(root, n_photos=24, per_participant=18, size=16, crop=24)
    bias = default_bias(m)
    store = simulate(m, 40, bias, protocols=("single", "pair"), seed=1)
    answers = store.answers()
    assert len(answers) == 2 * 40 * 18 and len({(a["token"], a["trial"]) for a in answers}) == len(answers)
    rows = {r["condition"]: r for r in summarise(m, answers)}
    for cond, p in bias.items():
        r = rows[cond]
        assert r["answers"] == 40 * 18 // 3 and r["participants"] == 40
        assert r["naturalness_low"] <= p <= r["naturalness_high"], (cond, p, r)
        assert r["identified"] == pytest.approx(1 - r["naturalness"])
        if cond != GROUND_TRUTH:
            q = fool_probability(bias, cond)
            assert r["pair_answers"] == 40 * 18 // 2 and r["fool_rate_low"] <= q <= r["fool_rate_high"], (cond, q, r)
    # the recovered shares are ordered as the bias is: a real check, not only interval coverage
    natural = [rows[c]["naturalness"] for c in (GROUND_TRUTH, METHOD_NAMES[0], METHOD_NAMES[1])]
    assert natural[0] > natural[1] > natural[2]


def test_report_cli_writes_tables_with_published_rows(study_dir, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["study", "report", str(study_dir), "--simulate", "6", "--out", str(out)]) == 0
    md = (out / "study.md").read_text()
    assert "SIMULATED" in md and "| `ground_truth` |" in md
    published = [line for line in md.splitlines() if line.endswith("| *published* |")]
    if Path(__file__).resolve().parents[1].joinpath("colorbench", "reference", "published.csv").is_file():
        assert len(published) == 7  # KTH Table 1 (3 Turing-test rows) + Tarrés Table 4 (4 naturalness rows)
        assert any("tarres | Table 4" in p and "87.0%" in p for p in published)
        assert any("kth | Table 1" in p and "40.3%" in p for p in published)
    with (out / "study.csv").open() as fh:
        assert fh.readline().startswith("condition,answers,participants,judged_real,naturalness")
    assert (out / "study.png").stat().st_size > 5000
    conn = sqlite3.connect(study_dir / "simulated.sqlite")
    assert conn.execute("SELECT COUNT(DISTINCT token) FROM participants").fetchone()[0] == 12  # 6 per protocol
    conn.close()


def test_report_counts_only_this_studys_answers(tmp_path):
    root = tmp_path / "s"
    m = make_study(root)
    client, study = client_for(root)
    token = client.post("/api/start", json={}).json()["token"]
    for t, a in zip(client.post("/api/state", json={"token": token}).json()["remaining"][:5], [1, 1, 0, 1, 0]):
        client.post("/api/answer",
                    json={"study": m.study_id, "token": token, "trial": t["trial"], "answer": a, "rt_ms": 1})
    study.store.close()
    rows, md = report(m)
    assert sum(r["answers"] for r in rows) == 5 and sum(r["judged_real"] for r in rows) == 3
    assert md == root / "study.md"


def test_create_from_checkpoints_and_from_bench_results(tmp_path, capsys):
    from colorbench.checkpoint import save_checkpoint
    from colorbench.registry import create_method
    from trainer_support import Tiny, registered

    with registered(Tiny, "study_tiny"):
        a = save_checkpoint(tmp_path / "runs" / "a" / "checkpoints" / "step_1", create_method("study_tiny", width=4), 1)
        b = save_checkpoint(tmp_path / "runs" / "b" / "checkpoints" / "step_1",
                            create_method("study_tiny", variant="wide"), 1)
        assert main(["study", "create", "--checkpoints", str(a), str(b), "--out", str(tmp_path / "s1"), "--size", "24",
                     "--n-images", "4", "--seed", "5"]) == 0
        m = load_manifest(tmp_path / "s1")
        assert m.conditions == [GROUND_TRUTH, "study_tiny", "study_tiny-b"] and len(m.photos) == 4
        assert m.per_participant == 4 and m.sources["study_tiny"]["checkpoint"] == str(a)
        assert all(Image.open(m.image_path(i)).size == (24, 24) for i in m.items)  # square held-out crops
        results = tmp_path / "results" / "quick" / "sample"
        results.mkdir(parents=True)
        (results / "metrics.csv").write_text(
            "dataset,method,variant,seed,status,checkpoint\n"
            f"sample,study_tiny,default,0,ok,{a}\nsample,study_tiny,default,1,ok,{b}\n"
            f"sample,study_tiny,wide,0,ok,{b}\nsample,study_tiny,broken,0,failed,\nsample,gray,default,0,ok,\n")
        assert main(["study", "create", "--from-results", str(results), "--out", str(tmp_path / "s2"), "--size", "16",
                     "--n-images", "3"]) == 0
        m2 = load_manifest(tmp_path / "s2")
        # one seed per method and variant; failed rows skipped; an untrained baseline rebuilt without a checkpoint
        assert m2.conditions == [GROUND_TRUTH, "study_tiny", "study_tiny-wide", "gray"]
        assert m2.sources["study_tiny"] == {"checkpoint": str(a), "dataset": "sample"}
    assert "3 photos x 4 conditions" in capsys.readouterr().out


@pytest.mark.parametrize("protocol", ["single", "pair"])
def test_served_images_tie_nothing_to_condition_or_to_other_tokens(tmp_path, protocol):
    """Three participants fetch every image: no file (or decoded pixels) repeats across tokens or pairs, and the
    size and headers of an image are the same whatever its condition."""
    root = tmp_path / "s"
    m = make_study(root, n_photos=6, per_participant=6)
    client, study = client_for(root, protocol)
    files, pixels, looks = Counter(), Counter(), {}
    for _ in range(3):
        token = client.post("/api/start", json={}).json()["token"]
        for t in client.post("/api/state", json={"token": token}).json()["remaining"]:
            for src, item in zip(t["images"], study.resolve(token, t["trial"])[1]):
                r = client.get("/" + src)
                assert r.status_code == 200
                files[hashlib.sha256(r.content).hexdigest()] += 1
                decoded = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"))
                pixels[hashlib.sha256(decoded.tobytes()).hexdigest()] += 1
                headers = tuple(sorted((k, v) for k, v in r.headers.items() if k != "date"))
                looks.setdefault(m.items[item][1], set()).add((len(r.content), headers))
    assert sum(files.values()) == 3 * m.per_participant * (2 if protocol == "pair" else 1)
    assert set(files.values()) == {1} and set(pixels.values()) == {1}  # nothing to hash and match
    assert set(looks) == set(m.conditions)
    assert len(set.union(*looks.values())) == 1  # one size and one header set for every condition


def test_image_responses_are_held_to_a_floor_that_depends_on_size_only(tmp_path, monkeypatch):
    from colorbench.study import reencode

    root = tmp_path / "s"
    make_study(root, n_photos=3, per_participant=3)
    client, study = client_for(root)
    token = client.post("/api/start", json={}).json()["token"]
    seen = []
    monkeypatch.setattr(reencode, "floor_s", lambda pixels: (seen.append(pixels), 0.2)[1])
    for t in client.post("/api/state", json={"token": token}).json()["remaining"]:
        start = time.perf_counter()
        assert client.get("/" + t["images"][0]).status_code == 200
        assert time.perf_counter() - start >= 0.2
    assert seen == [32 * 32] * 3  # the floor is asked for by pixel count, the same for every condition


def test_participants_need_an_invitation_the_organiser_issued(tmp_path, capsys):
    root = tmp_path / "s"
    make_study(root, n_photos=4, per_participant=3)
    assert main(["study", "invite", str(root), "-n", "3", "--url", "http://lab-pc:9000"]) == 0
    out, err = capsys.readouterr()
    links = out.split()
    assert len(links) == 3 and all(link.startswith("http://lab-pc:9000/?invite=") for link in links)
    assert "3 invitations issued (3 in all, 0 used)" in err
    codes = [link.split("=", 1)[1] for link in links]
    client, study = client_for(root, open_enrolment=False)
    for body in ({}, {"invite": "x" * 16}, {"invite": 7}, {"invite": codes[0][:-1]}):  # no, unknown, malformed codes
        r = client.post("/api/start", json=body)
        assert r.status_code == 403 and "by invitation" in r.text, (body, r.text)
    assert all(client.post("/api/start", json={}).status_code == 403 for _ in range(20))  # one client, many tries
    assert study.store.participants() == []  # none of that took a slot
    first = client.post("/api/start", json={"invite": codes[0]}).json()["token"]
    assert client.post("/api/start", json={"invite": codes[0]}).json()["token"] == first  # a revisit, same one
    assert client.post("/api/start", json={"invite": codes[1]}).json()["token"] != first
    assert [p[0] for p in study.store.participants()][:1] == [first] and len(study.store.participants()) == 2
    assert "<b>2</b> of 3 invitations used" in client.get("/organiser?key=organiser-key").text
    study.max_participants = 2  # the cap holds for invitations too
    r = client.post("/api/start", json={"invite": codes[2]})
    assert r.status_code == 409 and "all the participants it takes (2)" in r.text
    assert main(["study", "invite", str(root), "-n", "0"]) == 2
    assert main(["study", "invite", str(root), "--url", "lab-pc:9000"]) == 2
    assert main(["study", "serve", str(root), "--open", "--host", "0.0.0.0"]) == 2  # open only on loopback
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "-n 0: must be at least 1" in err[0] and "--url 'lab-pc:9000'" in err[1]
    assert "--open with --host 0.0.0.0" in err[2]


# ------------------------------------------------------------------------------------------ one-line errors (exit 2)
def one_error(capsys, argv: list[str]) -> str:
    """Run ``colorbench ARGV``, which must exit 2 with exactly one error line and no traceback; return that line."""
    assert main(argv) == 2, argv
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and ": error: " in err[0] and "Traceback" not in captured.err, err
    return err[0]


def test_create_refuses_a_checkpoint_with_one_infinite_weight(tmp_path, capsys):
    from colorbench.checkpoint import WEIGHTS, read_safetensors, save_checkpoint, write_safetensors
    from colorbench.registry import create_method
    from trainer_support import Tiny, registered

    with registered(Tiny, "study_tiny"):
        ckpt = save_checkpoint(tmp_path / "run" / "checkpoints" / "step_1", create_method("study_tiny"), 1)
        weights = read_safetensors(ckpt / WEIGHTS)
        name = next(k for k, v in weights.items() if v.is_floating_point())
        weights[name].view(-1)[0] = float("inf")  # one weight of all
        write_safetensors(weights, ckpt / WEIGHTS)
        line = one_error(capsys, ["study", "create", "--checkpoints", str(ckpt), "--out", str(tmp_path / "s")])
    assert f"checkpoint {ckpt} holds non-finite weights (NaN or infinite in 1 tensor" in line
    assert not (tmp_path / "s" / "manifest.json").exists()


def test_create_into_a_place_that_cannot_be_written_is_one_line(tmp_path, capsys, monkeypatch):
    from colorbench import _atomic

    a_file = tmp_path / "file"
    a_file.write_text("x")
    # a file, a folder under a file, a device: refused before any checkpoint is looked at (the checkpoint is missing)
    for out, words in ((a_file, "is a file, not a folder"), (a_file / "s", f"lies under the file {a_file}"),
                       (Path("/dev/full"), "is a file, not a folder")):
        line = one_error(capsys, ["study", "create", "--checkpoints", str(tmp_path / "nope"), "--out", str(out)])
        assert f"--out {out} {words}" in line
    photos = photo_crops(3, 24)
    real_write, calls = _atomic.write_bytes, []

    def full_disk(path, data):  # the fourth file meets a full disk
        calls.append(path)
        if len(calls) == 4:
            raise OSError(28, "No space left on device")
        return real_write(path, data)

    monkeypatch.setattr(_atomic, "write_bytes", full_disk)
    with pytest.raises(UserError, match=r"--out .*: cannot write the study there \(No space left on device\)"):
        create_study(tmp_path / "full", {"grey": GreyMethod()}, photos, size=16)
    assert list((tmp_path / "full" / "images").iterdir()) == []  # no half study left behind
    monkeypatch.undo()

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr("tempfile.TemporaryFile", read_only)
    with pytest.raises(UserError, match=r"cannot write the study there \(Read-only file system\)"):
        create_study(tmp_path / "ro", {"grey": GreyMethod()}, photos, size=16)


def test_serve_port_out_of_range_or_busy_is_one_line_before_any_url(tmp_path, capsys):
    import socket

    for port in ("-1", "0", "70000"):  # checked before the study folder (which does not exist) is read
        line = one_error(capsys, ["study", "serve", str(tmp_path / "nope"), "--port", port])
        assert f"--port {port}: must be a TCP port from 1 to 65535" in line
    root = tmp_path / "s"
    make_study(root, n_photos=3, per_participant=3)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["study", "serve", str(root), "--port", str(port)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert captured.out == "" and len(err) == 1 and "Traceback" not in captured.err  # no URL printed
    assert f"cannot listen on 127.0.0.1 port {port}" in err[0] and "choose another --port" in err[0]


def test_a_corrupt_answers_database_is_one_line_naming_it(tmp_path, capsys):
    root = tmp_path / "s"
    m = make_study(root, n_photos=3, per_participant=3)
    db = root / DATABASE
    store = Store(db, m.study_id)
    for _ in range(200):
        store.new_participant("single")
    store.close()
    whole = db.read_bytes()
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE answers (x)")
    conn.commit()
    conn.close()
    for content in (b"garbage " * 100, whole[: len(whole) // 2], other.read_bytes()):
        db.write_bytes(content)
        for argv in (["serve", str(root), "--port", "1"], ["report", str(root)], ["invite", str(root)]):
            line = one_error(capsys, ["study", *argv])
            assert f"{db} is not a usable answers database (" in line and "move it away" in line, line

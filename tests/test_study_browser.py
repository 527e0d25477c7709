"""The study page in a real browser: Debian's headless Chromium driven by Playwright (no browser download).

One participant answers 20 photos, by clicking and by keyboard, reloads half-way and continues, and finishes;
the database and the report then hold exactly those answers. A second run checks the 2AFC page and the display-time
limit. Screenshots at phone (390 px) and desktop (1280 px) widths are written to the test's folder, and also to
``$COLORBENCH_STUDY_SCREENSHOTS`` when set (``results/study`` holds the committed ones).
"""
from __future__ import annotations

import json
import os
import shutil
import time
import sqlite3
from pathlib import Path

import pytest

from colorbench.study.service import participant_id
from colorbench.study.manifest import DATABASE, load_manifest
from colorbench.study.report import summarise
from colorbench.study.store import Store
from study_support import make_study, organiser_url, served

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1}

pytestmark = pytest.mark.browser
if not Path(CHROMIUM).is_file():
    pytest.skip(f"BROWSER TEST NOT RUN: {CHROMIUM} is missing; install Debian's chromium "
                "(`apt-get install -y chromium`, as .ci/run does) to run the perceptual-study browser test",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright (Python) is in the test extra: pip install playwright")

KEYS = ["r", "c", "ArrowLeft", "ArrowRight", "1", "2"]
IMAGES_LOADED = "Array.from(document.querySelectorAll('#photos img')).every(i => i.complete && i.naturalWidth > 0)"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def shoot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one
    target = os.environ.get("COLORBENCH_STUDY_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(target) / name)


def wait_trial(page, number: int, total: int) -> None:
    page.wait_for_selector(f"#count:text-is('Photo {number} of {total}')", timeout=10_000)
    # Polled from Python: page.wait_for_function re-evaluates a string predicate inside the page with eval, which
    # the study's Content-Security-Policy (script-src 'self') rightly refuses whenever the first check is false.
    deadline = time.monotonic() + 10
    while not page.evaluate(IMAGES_LOADED):
        assert time.monotonic() < deadline, f"trial {number}: images did not load within 10 s"
        page.wait_for_timeout(50)


def test_participant_answers_twenty_reloads_and_finishes(browser, tmp_path):
    root = tmp_path / "s"
    m = make_study(root, n_photos=20, per_participant=20, size=256, crop=256, n_methods=1)
    store = Store(root / DATABASE, m.study_id)
    invites = store.new_invitations(2)  # as `colorbench study invite` does
    store.close()
    sent: list[dict] = []
    with served(root, open_enrolment=False) as (base, proc):
        stranger = browser.new_context(**DESKTOP)  # no invitation: the page says so and nobody is made
        page = stranger.new_page()
        page.goto(base + "/")
        page.click("#start")
        page.wait_for_selector("#error", state="visible")
        assert "by invitation" in page.inner_text("#error")
        stranger.close()

        context = browser.new_context(**DESKTOP)
        page = context.new_page()
        page.on("request", lambda r: sent.append(json.loads(r.post_data)) if r.url.endswith("/api/answer") else None)
        page.goto(base + "/?invite=" + invites[0])
        assert page.is_visible("#intro") and page.is_visible("text=Real colours, or colourised?")
        assert not page.is_visible("text=Left is real")  # the pair protocol's buttons stay hidden
        shoot(page, tmp_path, "desktop-intro.png")
        page.click("#start")
        for i in range(20):
            wait_trial(page, i + 1, 20)
            if i == 1:
                assert page.locator("#photos img").bounding_box()["width"] >= 256  # shown at 256 px or more
                shoot(page, tmp_path, "desktop-trial.png")
            if i == 10:
                page.reload()  # the token in localStorage brings the participant back to photo 11
                wait_trial(page, 11, 20)
            if i % 2 == 0:
                page.click("#btn-real" if i % 4 == 0 else "#btn-col")
            else:
                page.keyboard.press(KEYS[(i // 2) % len(KEYS)])
        page.wait_for_selector("#done", state="visible", timeout=10_000)
        assert page.is_hidden("#error")
        shoot(page, tmp_path, "desktop-done.png")
        page.reload()
        page.wait_for_selector("#done", state="visible")  # a finished participant stays finished
        context.close()

        phone = browser.new_context(**PHONE)  # a new participant on a phone: tap through two photos
        page = phone.new_page()
        page.goto(base + "/?invite=" + invites[1])
        shoot(page, tmp_path, "phone-intro.png")
        page.tap("#start")
        wait_trial(page, 1, 20)
        page.tap("#btn-real")
        wait_trial(page, 2, 20)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
        box = page.locator("#btn-col").bounding_box()
        assert box["height"] >= 44 and box["y"] + box["height"] <= 844  # big enough and on screen
        shoot(page, tmp_path, "phone-trial.png")
        phone.close()

        organiser = browser.new_context(**DESKTOP)  # the organiser's page wears the participant page's stylesheet
        page = organiser.new_page()
        page.goto(organiser_url(proc))
        page.wait_for_selector("table.organiser")
        style = "(s => [s.fontFamily, s.backgroundColor])(getComputedStyle(document.body))"
        assert page.evaluate(style)[1] == "rgb(244, 244, 242)" and page.locator("progress").count() == 2
        shoot(page, tmp_path, "desktop-organiser.png")
        organiser.close()

    expected = {(a["trial"], a["answer"]) for a in sent[:20]}
    assert len(sent) == 20 and len(expected) == 20  # the phone participant's page is not listened to
    key_answer = {"r": 1, "c": 0, "ArrowLeft": 1, "ArrowRight": 0, "1": 1, "2": 0}
    clicks_and_keys = [(1 if i % 4 == 0 else 0) if i % 2 == 0 else key_answer[KEYS[(i // 2) % len(KEYS)]]
                       for i in range(20)]
    assert [a["answer"] for a in sent[:20]] == clicks_and_keys
    conn = sqlite3.connect(root / DATABASE)
    rows = conn.execute("SELECT token, trial, answer, protocol, rt_ms FROM answers ORDER BY id").fetchall()
    (key,) = conn.execute("SELECT value FROM meta WHERE key='alias_key'").fetchone()
    conn.close()
    first = rows[0][0]
    # the store keeps the manifest's trial IDs; the page saw this participant's own alias of each
    assert {(participant_id(bytes.fromhex(key), tok, t), a) for tok, t, a, *_ in rows if tok == first} == expected
    assert len(rows) == 21 and all(p == "single" and rt >= 0 for *_, p, rt in rows)
    summary = summarise(load_manifest(root), [{"token": tok, "trial": t, "answer": a, "protocol": p, "shown": t}
                                              for tok, t, a, p, _ in rows if tok == first])
    assert sum(r["answers"] for r in summary) == 20 and sum(r["judged_real"] for r in summary) == 10
    assert all(r["participants"] == 1 for r in summary)
    assert m.per_participant == 20


def test_pair_page_with_display_time_limit(browser, tmp_path):
    root = tmp_path / "s"
    make_study(root, n_photos=6, per_participant=6, size=256, crop=256)
    with served(root, "--protocol", "pair", "--time-limit", "0.6") as (base, _):
        for name, ctx in (("desktop", DESKTOP), ("phone", PHONE)):
            context = browser.new_context(**ctx)
            page = context.new_page()
            page.goto(base + "/")
            assert page.is_visible("text=Choose the one with the real colours")
            assert page.is_visible("text=Each photo is shown for 0.6 seconds")
            page.click("#start")
            wait_trial(page, 1, 6)
            imgs = page.locator("#photos img")
            assert imgs.count() == 2
            left, right = imgs.nth(0).bounding_box(), imgs.nth(1).bounding_box()
            # side by side, as the buttons say
            assert abs(left["y"] - right["y"]) < 1 and left["x"] + left["width"] <= right["x"]
            shoot(page, tmp_path, f"{name}-pair.png")
            page.wait_for_selector("#timeout", state="visible", timeout=5_000)  # the images are hidden after 0.6 s
            assert page.evaluate("getComputedStyle(document.querySelector('#photos img')).visibility") == "hidden"
            page.keyboard.press("ArrowLeft")
            wait_trial(page, 2, 6)
            page.click("#btn-right")
            wait_trial(page, 3, 6)
            context.close()
    conn = sqlite3.connect(root / DATABASE)
    rows = conn.execute("SELECT protocol, answer FROM answers ORDER BY id").fetchall()
    conn.close()
    assert rows == [("pair", 0), ("pair", 1), ("pair", 0), ("pair", 1)]

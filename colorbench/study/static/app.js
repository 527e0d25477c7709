// colorbench perceptual study page: one trial at a time, answers posted one by one, resumable after a reload.
"use strict";
(function () {
  const body = document.body;
  const protocol = body.dataset.protocol;
  const timeLimit = parseFloat(body.dataset.timeLimit) || 0;
  const invite = new URLSearchParams(window.location.search).get("invite");  // from the organiser's link
  const KEY = "colorbench-study-token" + (invite ? ":" + invite : "");
  const $ = (id) => document.getElementById(id);
  let state = null, token = null, shownAt = 0, busy = false, timer = null;

  function show(id) {
    for (const s of ["intro", "trial", "done"]) $(s).hidden = s !== id;
  }
  function fail(message) {
    const e = $("error"); e.textContent = message; e.hidden = false;
  }
  async function post(path, data) {
    const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                 body: JSON.stringify(data || {})});
    if (!r.ok) { const err = new Error((await r.text()).trim()); err.status = r.status; throw err; }
    return r.json();
  }

  function render() {
    clearTimeout(timer);
    const total = state.total, done = state.done;
    $("bar-fill").style.width = (100 * done / total) + "%";
    $("bar").setAttribute("aria-valuemax", total);
    $("bar").setAttribute("aria-valuenow", done);
    if (!state.remaining.length) { show("done"); return; }
    show("trial");
    const trial = state.remaining[0];
    $("count").textContent = "Photo " + (done + 1) + " of " + total;
    const box = $("photos");
    box.className = "photos" + (trial.images.length > 1 ? " two" : "");
    box.replaceChildren();
    $("timeout").hidden = true;
    let pending = trial.images.length;
    shownAt = performance.now();
    for (const src of trial.images) {
      const img = new Image();
      img.alt = "photo";
      img.onload = img.onerror = () => {
        if (--pending === 0) { shownAt = performance.now(); if (timeLimit > 0) timer = setTimeout(expire, timeLimit * 1000); }
      };
      img.src = src;
      box.appendChild(img);
    }
    const next = state.remaining[1];
    if (next) for (const src of next.images) new Image().src = src;  // preload
  }
  function expire() { $("photos").classList.add("expired"); $("timeout").hidden = false; }

  async function answer(value) {
    if (busy || !state || !state.remaining.length || $("trial").hidden) return;
    busy = true;
    for (const b of document.querySelectorAll(".answers button")) b.disabled = true;
    const trial = state.remaining[0];
    try {
      const r = await post("api/answer", {study: state.study, token: token, trial: trial.trial, answer: value,
                                          rt_ms: Math.round(performance.now() - shownAt)});
      if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
      state.remaining.shift();
      state.done = r.done;
      render();
    } catch (e) {
      fail(e.message || "could not save the answer; check the connection and try again");
    } finally {
      busy = false;
      for (const b of document.querySelectorAll(".answers button")) b.disabled = false;
    }
  }

  async function start() {
    $("start").disabled = true;
    try {
      if (!token) {
        token = (await post("api/start", invite ? {invite: invite} : {})).token;
        localStorage.setItem(KEY, token);
      }
      state = await post("api/state", {token: token});
      render();
    } catch (e) {
      fail(e.message);
      $("start").disabled = false;
    }
  }

  async function boot() {
    if (timeLimit > 0) { $("limit-s").textContent = String(timeLimit); $("limit-note").hidden = false; }
    token = localStorage.getItem(KEY);
    if (token) {
      try {
        state = await post("api/state", {token: token});
        if (!state.remaining.length) { show("done"); return; }
        if (state.done > 0) { render(); return; }  // resume straight into the next trial
      } catch (e) {
        token = null; localStorage.removeItem(KEY);  // a token of another study or database: start afresh
      }
    }
    show("intro");
  }

  $("start").addEventListener("click", start);
  for (const b of document.querySelectorAll(".answers button"))
    b.addEventListener("click", () => answer(parseInt(b.dataset.answer, 10)));
  document.addEventListener("keydown", (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (!$("intro").hidden && ev.key === "Enter") { ev.preventDefault(); start(); return; }
    const k = ev.key.toLowerCase();
    let v = null;
    if (protocol === "single") {
      if (k === "r" || k === "arrowleft" || k === "1") v = 1;
      else if (k === "c" || k === "arrowright" || k === "2") v = 0;
    } else {
      if (k === "arrowleft" || k === "1") v = 0;
      else if (k === "arrowright" || k === "2") v = 1;
    }
    if (v !== null) { ev.preventDefault(); answer(v); }
  });
  boot();
})();

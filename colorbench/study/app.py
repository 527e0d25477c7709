"""The web app (Starlette): one page, a JSON API, the manifest's images, an organiser view.

Routes::

    GET  /                     the page (static/index.html); GET /static/app.js, /static/style.css
    POST /api/start  {invite}  -> {"token"}                     the invitation's participant (new the first time)
    POST /api/state  {token}   -> remaining trials, progress, protocol, time limit
    POST /api/answer {study, token, trial, answer, rt_ms} -> {"stored", "done", "total"}
    GET  /img/<id>             an image, by the participant's own opaque ID only, re-encoded for that participant
                               (one size per photo whatever the condition; no ETag, no Last-Modified)
    GET  /organiser?key=K      progress for the organiser; K is printed when the server starts

Refusals are plain-text 4xx: 400 malformed (any body that is not a small JSON value), 403 unknown token, invitation
(or none, unless the server runs with ``--open``) or key, 404
unknown ID, 409 foreign study, a trial not on the participant's schedule or a study that has all its participants,
413 a body over ``MAX_BODY`` bytes. Nothing served names a method or condition.
"""
from __future__ import annotations

import asyncio
import hmac
import html
import json
import time
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from colorbench.study import reencode
from colorbench.study.service import AnswerError, Study

MAX_BODY = 2048  # bytes; an answer is ~150
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'",
}
STATIC = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8",
          "index.html": "text/html; charset=utf-8"}


def _static(name: str) -> bytes:
    return resources.files("colorbench.study").joinpath("static", name).read_bytes()


def _plain(status: int, message: str) -> PlainTextResponse:
    return PlainTextResponse(message + "\n", status_code=status, headers={**HEADERS, "Cache-Control": "no-store"})


async def _json_body(request: Request, allow_empty: bool = False) -> Any:
    """The request's JSON body, refusing more than ``MAX_BODY`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise AnswerError(413, f"request body too large (at most {MAX_BODY} bytes)")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise AnswerError(413, f"request body too large (at most {MAX_BODY} bytes)")
    if allow_empty and not body.strip():
        return {}
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested ~1,000 deep
        raise AnswerError(400, "the request body must be JSON (plain numbers, nested at most a few levels)") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def organiser_page(study_id: str, per_participant: int, protocol: str, progress: dict[str, Any]) -> str:
    """The organiser's progress page, styled by the participant page's stylesheet: totals, then one row per
    participant with a bar of answers out of ``per_participant`` (a ``<progress>`` element: the page's CSP allows no
    inline style)."""
    participants = progress["participants"]
    done = sum(p["answers"] >= per_participant for p in participants)
    rows = "".join(
        f"<tr><td>{html.escape(str(p['protocol']))}</td><td>{int(p['index'])}</td>"
        f"<td><progress max='{per_participant}' value='{min(int(p['answers']), per_participant)}'></progress></td>"
        f"<td class='num'>{int(p['answers'])} / {per_participant}</td></tr>" for p in participants)
    table = (f"<table class='organiser'><thead><tr><th>protocol</th><th>participant</th><th>progress</th>"
             f"<th class='num'>answers</th></tr></thead><tbody>{rows}</tbody></table>" if participants
             else "<p class='count'>No participant has started yet.</p>")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'><meta name='robots' content='noindex'>"
            "<title>Study progress</title><link rel='stylesheet' href='static/style.css'></head><body><main>"
            f"<h1>Study {html.escape(study_id)}</h1>"
            f"<div class='totals'><div><b>{len(participants)}</b> participants</div><div><b>{done}</b> finished</div>"
            f"<div><b>{progress['answers']}</b> answers</div>"
            f"<div><b>{progress['invitations_used']}</b> of {progress['invitations']} invitations used</div></div>"
            f"<p class='count'>New participants get the <b>{html.escape(protocol)}</b> protocol, "
            f"{per_participant} trials each. This page does not refresh itself; reload it.</p>{table}"
            "</main></body></html>")


def create_app(study: Study, organiser_key: str) -> Starlette:
    """The Starlette app serving ``study``; ``organiser_key`` guards ``/organiser``."""
    pages = {name: _static(name) for name in STATIC}
    limit = "" if study.time_limit is None else f"{study.time_limit:g}"
    pages["index.html"] = (pages["index.html"].replace(b"{{protocol}}", study.protocol.encode())
                           .replace(b"{{time_limit}}", limit.encode()))

    def static(name: str):
        async def endpoint(request: Request) -> Response:
            return Response(pages[name], media_type=STATIC[name], headers={**HEADERS, "Cache-Control": "no-cache"})
        return endpoint

    async def start(request: Request) -> Response:
        body = await _json_body(request, allow_empty=True)
        invite = body.get("invite") if isinstance(body, dict) else None
        token = await run_in_threadpool(study.start, invite)
        return JSONResponse({"token": token}, headers={**HEADERS, "Cache-Control": "no-store"})

    async def state(request: Request) -> Response:
        body = await _json_body(request)
        token = body.get("token") if isinstance(body, dict) else None
        result = await run_in_threadpool(study.state, token)
        return JSONResponse(result, headers={**HEADERS, "Cache-Control": "no-store"})

    async def answer(request: Request) -> Response:
        body = await _json_body(request)
        result = await run_in_threadpool(study.answer, body)
        return JSONResponse(result, headers={**HEADERS, "Cache-Control": "no-store"})

    async def image(request: Request) -> Response:
        start = time.perf_counter()
        try:
            data, pixels = await run_in_threadpool(study.image, request.path_params["item"])
        except (KeyError, OSError):
            return _plain(404, "no such image")
        # held to a floor that depends on the size only: a smoother stored file decodes faster
        await asyncio.sleep(max(0.0, reencode.floor_s(pixels) - (time.perf_counter() - start)))
        # no ETag or Last-Modified: both came from the file's mtime, and the files are written in condition order
        return Response(data, media_type="image/png", headers={**HEADERS, "Cache-Control": "private, max-age=3600"})

    async def organiser(request: Request) -> Response:
        key = request.query_params.get("key", "")
        if not hmac.compare_digest(key.encode(), organiser_key.encode()):
            return _plain(403, "organiser key required: use the URL printed when the server started")
        progress = await run_in_threadpool(study.store.progress)
        page = organiser_page(study.manifest.study_id, study.manifest.per_participant, study.protocol, progress)
        return Response(page, media_type="text/html; charset=utf-8",
                        headers={**HEADERS, "Cache-Control": "no-store"})

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AnswerError)
        return _plain(exc.status, exc.message)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        return _plain(status, "not found" if status == 404 else "request refused")

    routes = [
        Route("/", static("index.html")),
        Route("/static/app.js", static("app.js")),
        Route("/static/style.css", static("style.css")),
        Route("/api/start", start, methods=["POST"]),
        Route("/api/state", state, methods=["POST"]),
        Route("/api/answer", answer, methods=["POST"]),
        Route("/img/{item}", image),
        Route("/organiser", organiser),
    ]
    return Starlette(routes=routes, exception_handlers={AnswerError: refused, 404: not_found, 405: not_found})

"""The web app (Starlette): one page, a JSON API, the manifest's images, an organiser view.

Routes::

    GET  /                     the page (static/index.html); GET /static/app.js, /static/style.css
    POST /api/start            -> {"token"}                     a new participant
    POST /api/state  {token}   -> remaining trials, progress, protocol, time limit
    POST /api/answer {study, token, trial, answer, rt_ms} -> {"stored", "done", "total"}
    GET  /img/<id>             an image, by the participant's own opaque ID only (no ETag, no Last-Modified)
    GET  /organiser?key=K      progress for the organiser; K is printed when the server starts

Refusals are plain-text 4xx: 400 malformed (any body that is not a small JSON value), 403 unknown token or key, 404
unknown ID, 409 foreign study, a trial not on the participant's schedule or a study that has all its participants,
413 a body over ``MAX_BODY`` bytes. Nothing served names a method or condition.
"""
from __future__ import annotations

import hmac
import html
import json
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

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
        await _json_body(request, allow_empty=True)  # caps the body; the content is ignored
        token = await run_in_threadpool(study.start)
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
        try:
            path = study.image_path(request.path_params["item"])
            data = await run_in_threadpool(path.read_bytes)
        except (KeyError, OSError):
            return _plain(404, "no such image")
        # no ETag or Last-Modified: both came from the file's mtime, and the files are written in condition order
        return Response(data, media_type="image/png", headers={**HEADERS, "Cache-Control": "private, max-age=3600"})

    async def organiser(request: Request) -> Response:
        key = request.query_params.get("key", "")
        if not hmac.compare_digest(key.encode(), organiser_key.encode()):
            return _plain(403, "organiser key required: use the URL printed when the server started")
        progress = await run_in_threadpool(study.store.progress)
        per = study.manifest.per_participant
        rows = "".join(f"<tr><td>{p['protocol']}</td><td>{p['index']}</td><td>{p['answers']} / {per}</td></tr>"
                       for p in progress["participants"])
        done = sum(p["answers"] >= per for p in progress["participants"])
        page = (f"<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>"
                f"<title>Study progress</title><h1>Study {html.escape(study.manifest.study_id)}</h1>"
                f"<p>{len(progress['participants'])} participants, {done} finished, {progress['answers']} answers. "
                f"New participants get the <b>{study.protocol}</b> protocol.</p>"
                f"<table><tr><th>protocol</th><th>participant</th><th>answers</th></tr>{rows}</table>")
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

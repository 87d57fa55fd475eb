"""The live web page at ``/``: workloads, QPU queues, the timeline and the invariant verdict.

Server-rendered with Jinja2; a small script of its own (``static/live.js``, shipped in the
package, no CDN) polls ``/page/live`` and swaps the live part in place, so the page
follows the run without a reload. Every row links to a detail page with its trace records.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from ..emulator import NotFound
from .view import Filters, LiveView, Pages, page_context, seconds

__all__ = ["LiveView", "router"]

STATIC = {"page.css": "text/css", "live.js": "text/javascript"}
POLL_MS = 400
PARTS = ("status", "workloads", "qpus", "timeline")
"""The page's live parts, in the order their digests are listed."""


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("qsession.server.pages", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["seconds"] = seconds
    return env


def router(view: LiveView) -> APIRouter:
    """The page's routes (``/``, ``/page/live``, detail pages, static files) over ``view``."""
    api = APIRouter(tags=["page"], include_in_schema=False)
    env = _environment()
    emulator = view.emulator

    def render(name: str, **context: Any) -> HTMLResponse:
        context.setdefault("backends", list(emulator.backends))
        return HTMLResponse(env.get_template(name).render(**context))

    @api.get("/")
    def index(request: Request) -> HTMLResponse:
        filters, pages = Filters.of(request.query_params), Pages.of(request.query_params)
        snap = view.look()
        guarded = request.app.state.access.control_token is not None
        with view.lock:
            live = view.context(snap, filters, pages)
        return render("index.html", poll_ms=POLL_MS, guarded=guarded,
                      **page_context(emulator, filters), **live)

    last: dict[tuple[int, int, Filters, Pages], dict[str, Any]] = {}

    @api.get("/page/live")
    def live(request: Request) -> JSONResponse:
        filters, pages = Filters.of(request.query_params), Pages.of(request.query_params)
        with emulator.lock:
            key = (emulator.trace.count, int(emulator.service.clock.now()), filters, pages)
        version = f"{key[0]}:{key[1]}"
        if request.query_params.get("v") == version:  # the page is up to date
            return JSONResponse({"version": version, "same": True})
        body = last.get(key)
        if body is None:  # nothing cached for this instant and these filters: render
            snap = view.look()
            with view.lock:
                context = view.context(snap, filters, pages)
            parts = {name: env.get_template(f"_{name}.html").render(**context)
                     for name in PARTS}
            digests = {name: hashlib.blake2b(text.encode(), digest_size=6).hexdigest()
                       for name, text in parts.items()}
            body = {"now": snap.now_us / 1e6, "records": snap.records, "ok": snap.verdict.ok,
                    "version": f"{snap.records}:{snap.now_us}", "parts": parts,
                    "digests": ",".join(digests[name] for name in PARTS)}
            last.clear()
            last[(snap.records, snap.now_us, filters, pages)] = body
        # Parts the page already shows (their digests came back) are not sent again.
        held = request.query_params.get("h", "").split(",")
        fresh = {name: text for i, (name, text) in enumerate(body["parts"].items())
                 if i >= len(held) or held[i] != body["digests"].split(",")[i]}
        return JSONResponse({**body, "parts": fresh})

    @api.get("/page/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:
            raise NotFound(f"no static file {name!r}; there are {sorted(STATIC)}")
        text = resources.files("qsession.server.pages").joinpath("static", name).read_text()
        return Response(text, media_type=STATIC[name])

    @api.get("/page/{kind}/{ident}")
    def detail(kind: str, ident: str) -> HTMLResponse:
        snap = view.look()
        with view.lock:
            board = view.board
            row: Any = None
            if kind == "sessions" and ident in board.sessions:
                row = board.session_row(ident, snap.now_us)
            elif kind == "jobs" and ident in board.jobs:
                row = board.job_row(ident)
            if row is None:
                raise NotFound(f"no {kind.rstrip('s')} {ident!r} in this run; the page at / "
                               "lists every session, batch and job")
            entity = kind.rstrip("s")
            records = view.records_of(entity, ident)
            live = view.context(snap, Filters(), Pages())
        return render("detail.html", kind=entity, row=row, records=records, **live)

    return api

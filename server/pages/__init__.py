"""The live web page at ``/``: workloads, QPU queues, the timeline and the invariant verdict.

Server-rendered with Jinja2; a small script of its own (``static/live.js``, shipped in the
package, no CDN) polls ``/page/live`` and swaps the live part in place, so the page
follows the run without a reload. Every row links to a detail page with its trace records.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from ..emulator import Emulator, NotFound
from .view import Filters, LiveMonitor, live_context, page_context, records_of, seconds, snapshot

STATIC = {"page.css": "text/css", "live.js": "text/javascript"}
POLL_MS = 400


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("qsession.server.pages", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["seconds"] = seconds
    return env


def router(emulator: Emulator) -> APIRouter:
    """The page's routes: ``/``, ``/page/live``, detail pages and the static files."""
    api = APIRouter(tags=["page"], include_in_schema=False)
    env = _environment()
    monitor = LiveMonitor(str(emulator.trace.meta.get("clock", "virtual")))

    def render(name: str, **context: Any) -> HTMLResponse:
        context.setdefault("backends", list(emulator.backends))
        return HTMLResponse(env.get_template(name).render(**context))

    @api.get("/")
    def index(request: Request) -> HTMLResponse:
        filters = Filters.of(request.query_params)
        snap = snapshot(emulator, monitor)
        guarded = request.app.state.access.control_token is not None
        return render("index.html", poll_ms=POLL_MS, guarded=guarded,
                      **page_context(emulator, filters), **live_context(snap, emulator, filters))

    last: dict[tuple[int, int, Filters], dict[str, Any]] = {}

    @api.get("/page/live")
    def live(request: Request) -> JSONResponse:
        filters = Filters.of(request.query_params)
        with emulator.lock:
            key = (emulator.trace.count, int(emulator.service.clock.now()), filters)
        version = f"{key[0]}:{key[1]}"
        if request.query_params.get("v") == version:  # the page is up to date
            return JSONResponse({"version": version, "same": True})
        if key in last:  # nothing new since another look with these filters
            return JSONResponse(last[key])
        snap = snapshot(emulator, monitor)
        context = live_context(snap, emulator, filters)
        parts = {name: env.get_template(f"_{name}.html").render(**context)
                 for name in ("status", "workloads", "qpus", "timeline")}
        body = {"now": snap.board.now, "records": len(snap.records), "ok": snap.verdict.ok,
                "version": f"{len(snap.records)}:{snap.now_us}", "parts": parts}
        last.clear()
        last[(len(snap.records), snap.now_us, filters)] = body
        return JSONResponse(body)

    @api.get("/page/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:
            raise NotFound(f"no static file {name!r}; there are {sorted(STATIC)}")
        text = resources.files("qsession.server.pages").joinpath("static", name).read_text()
        return Response(text, media_type=STATIC[name])

    @api.get("/page/{kind}/{ident}")
    def detail(kind: str, ident: str) -> HTMLResponse:
        snap = snapshot(emulator, monitor)
        board = snap.board
        row: Any = None
        if kind == "sessions":
            row = board.sessions.get(ident)
        elif kind == "jobs":
            row = board.jobs.get(ident)
        if row is None:
            raise NotFound(f"no {kind.rstrip('s')} {ident!r} in this run; the page at / lists "
                           "every session, batch and job")
        entity = kind.rstrip("s")
        records = records_of(snap.records, entity, ident)
        return render("detail.html", kind=entity, row=row, records=records,
                      **live_context(snap, emulator, Filters()))

    return api

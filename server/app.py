"""The composition root: the ASGI app, its routers under both API prefixes, its error handlers.

Every error leaves in IBM's body (``wire.error_body``): bad input is a 4xx, never a 5xx
(the client retries 5xx five times, POSTs included); a fault of the server itself is a
500 with a message, counted in ``/qsession/v1/state``, and the server goes on.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from qsession.runtime import IBMError, IBMRuntimeError

from . import pages, platform, wire
from .emulator import Conflict, Emulator, Forbidden, NotFound, UnknownBackend
from .guard import Access, BodyTooLarge, Guard
from .routes import (
    accounts,
    analytics,
    backends,
    control,
    instances,
    jobs,
    sessions,
    tags,
    versions,
    workloads,
)
from .routes.common import API_PREFIXES, Unauthorized, UnsupportedVersion, api_version
from .store import Durable

log = logging.getLogger("qsession.server")

DESCRIPTION = (
    "qsession's emulation of IBM Quantum Platform's Qiskit Runtime REST API (jobs, "
    "sessions, backends, instances, workloads, analytics, accounts, versions; IAM, Global "
    "Search, Global Catalog), served under /api/v1 and /experimental/api/v1, plus "
    "qsession's own /qsession/v1 control routes. Every endpoint is listed below; "
    "`qsession docs rest-api` compares each with IBM's reference.")


def _error(status: int, message: str, code: int | None = None) -> JSONResponse:
    return JSONResponse(wire.error_body(message, status=status, code=code), status_code=status)


def build_app(emulator: Emulator, access: Access | None = None) -> FastAPI:
    """The ASGI app serving ``emulator``, behind the ``Guard`` of ``access``."""
    app = FastAPI(title="qsession IBM Quantum Platform emulator", version="1",
                  description=DESCRIPTION)
    app.state.emulator = emulator
    app.state.access = access = access if access is not None else Access()
    # Nothing leaves before what it tells is durable (the state folder's fsync policy).
    app.add_middleware(Durable, emulator=emulator)
    # Inside Starlette's error middleware: a fault of the guard itself is counted too.
    app.add_middleware(Guard, access=access)
    app.include_router(platform.router(emulator))
    for prefix in API_PREFIXES:
        for module in (backends, sessions, jobs, tags, instances, workloads, analytics,
                       accounts):
            app.include_router(module.router(), prefix=prefix,
                               dependencies=[Depends(api_version)])
        app.include_router(versions.router(), prefix=prefix)
    app.include_router(control.router())
    app.openapi = lambda: _with_links(app)  # type: ignore[method-assign]
    app.state.page_view = view = pages.LiveView(emulator)
    app.include_router(pages.router(view))  # the live page at /

    @app.exception_handler(NotFound)
    async def not_found(_request: Request, err: NotFound) -> JSONResponse:
        code = wire.CODE_BACKEND_NOT_FOUND if str(err).startswith("Backend") else None
        return _error(404, str(err), code)

    @app.exception_handler(wire.LimitError)
    async def over_limit(_request: Request, err: wire.LimitError) -> JSONResponse:
        return _error(400, str(err), err.code)

    @app.exception_handler(UnsupportedVersion)
    async def bad_version(_request: Request, err: UnsupportedVersion) -> JSONResponse:
        return _error(400, str(err), wire.CODE_VALIDATION)

    @app.exception_handler(Conflict)
    async def conflict(_request: Request, err: Conflict) -> JSONResponse:
        return _error(409, str(err))

    @app.exception_handler(Forbidden)
    async def forbidden(_request: Request, err: Forbidden) -> JSONResponse:
        return _error(403, str(err), wire.CODE_NOT_AUTHORIZED)

    @app.exception_handler(Unauthorized)
    async def unauthorized(_request: Request, err: Unauthorized) -> JSONResponse:
        return _error(401, str(err), wire.CODE_INVALID_CREDENTIALS)

    async def bad_input(_request: Request, err: Exception) -> JSONResponse:
        code = (wire.CODE_BACKEND_NOT_FOUND if isinstance(err, UnknownBackend)
                else wire.CODE_VALIDATION)
        return _error(400, str(err) or type(err).__name__, code)

    # Bad input as the runtime reports it (IBMInputValueError, the closed-session error,
    # ValueError/TypeError from coercing pubs): the request's fault, a 400.
    for kind in (IBMError, IBMRuntimeError, ValueError, TypeError):
        app.add_exception_handler(kind, bad_input)

    @app.exception_handler(BodyTooLarge)
    async def too_large(_request: Request, err: BodyTooLarge) -> JSONResponse:
        return _error(413, str(err), 413)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, err: RequestValidationError) -> JSONResponse:
        return _error(400, *wire.validation_message(err.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, err: StarletteHTTPException) -> JSONResponse:
        response = _error(err.status_code, str(err.detail))
        for name, value in (err.headers or {}).items():
            response.headers[name] = value  # e.g. Allow on a 405
        return response

    @app.exception_handler(ClientDisconnect)
    async def disconnected(_request: Request, _err: ClientDisconnect) -> JSONResponse:
        # The client left before its body arrived (a slow client dropped by the read
        # deadline, a closed tab): nothing failed here, and the answer reaches no one.
        return _error(400, "the client closed the connection before its request body "
                      "arrived; send the whole body")

    @app.exception_handler(Exception)
    async def fault(request: Request, err: Exception) -> JSONResponse:
        emulator.fault()
        log.exception("server fault on %s %s", request.method, request.url.path)
        return _error(500, f"qsession server fault ({type(err).__name__}: {err}); the server "
                      "goes on, please report this", wire.CODE_INTERNAL)

    return app


LINKS = {
    ("/sessions", "post"): ("session_id", "/id", [
        ("/sessions/{session_id}", "get"), ("/sessions/{session_id}", "patch"),
        ("/sessions/{session_id}/close", "delete")]),
    ("/jobs", "post"): ("job_id", "/id", [
        ("/jobs/{job_id}", "get"), ("/jobs/{job_id}", "delete"),
        ("/jobs/{job_id}/metrics", "get"), ("/jobs/{job_id}/logs", "get"),
        ("/jobs/{job_id}/cancel", "post"), ("/jobs/{job_id}/tags", "put")]),
}
"""OpenAPI links: the id a creation returns names the object of the follow-up operations
(a generic client, or Schemathesis's stateful tests, walks them)."""


def _with_links(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, built once, with ``LINKS`` under both API prefixes."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    document = get_openapi(title=app.title, version=app.version,
                           description=app.description, routes=app.routes)
    paths = document["paths"]
    # Bad input is a 400 in IBM's body (never FastAPI's 422): drop what FastAPI declares.
    for operations in paths.values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    for name in ("HTTPValidationError", "ValidationError"):
        document.get("components", {}).get("schemas", {}).pop(name, None)
    for prefix in API_PREFIXES:
        for (source, method), (param, pointer, targets) in LINKS.items():
            answer = paths.get(prefix + source, {}).get(method, {}).get("responses", {})
            if "200" not in answer:
                continue
            links = {}
            for path, verb in targets:
                target = paths.get(prefix + path, {}).get(verb)
                if target is None:
                    continue
                name = target["operationId"].split("_")[0].capitalize()
                links[name] = {
                    "operationId": target["operationId"],
                    "parameters": {param: f"$response.body#{pointer}"}}
            answer["200"]["links"] = links
    app.openapi_schema = document
    return document


def openapi_document(emulator: Emulator | None = None) -> dict[str, Any]:
    """The OpenAPI document of the app (served at /openapi.json; installed as openapi.json
    beside the pages ``qsession docs`` lists)."""
    if emulator is None:
        emulator = Emulator(backends=())
    return build_app(emulator).openapi()

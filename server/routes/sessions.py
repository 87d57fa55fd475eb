"""``POST /sessions``, ``GET|PATCH /sessions/{id}``, ``DELETE /sessions/{id}/close``.

The client's ``Session.close()`` is the PATCH (``accepting_jobs: false``: queued jobs
still run) and its ``Session.cancel()`` is the DELETE (queued jobs are cancelled), as
in qiskit-ibm-runtime's ``api/rest/runtime_session.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from qsession.runtime import IBMInputValueError

from .. import wire
from ..emulator import Emulator
from .common import decode, raw_body, tenant


def router() -> APIRouter:
    """The session routes."""
    api = APIRouter(tags=["sessions"])

    @api.post("/sessions", summary="Open a session (mode dedicated) or a batch")
    def create(request: Request, body: bytes = Depends(raw_body)) -> dict[str, Any]:
        owner = tenant(request)
        emulator: Emulator = request.app.state.emulator
        data = decode(body)
        backend = data.get("backend")
        if not isinstance(backend, str):
            raise IBMInputValueError("a session needs a backend: send \"backend\": NAME")
        named = data.get("instance")
        # IBM's execution-modes guide sends a legacy "hub/group/project" here, which names
        # no instance of this platform: only another tenant's instance is refused.
        if (named not in (None, owner.crn, owner.name)
                and (named in emulator.by_crn or named in emulator.instances)):
            raise IBMInputValueError(
                f"the body names instance {named!r} but the request is made for {owner.crn}")
        session = emulator.open_session(owner, backend=backend,
                                        mode=str(data.get("mode") or "dedicated"),
                                        max_ttl=data.get("max_ttl"))
        return wire.session_json(session.details(), emulator.trace)

    @api.get("/sessions/{session_id}", summary="A session's details")
    def details(session_id: str, request: Request) -> dict[str, Any]:
        emulator: Emulator = request.app.state.emulator
        session = emulator.session(tenant(request), session_id)
        with emulator.lock:
            return wire.session_json(session.details(), emulator.trace)

    @api.patch("/sessions/{session_id}", status_code=204,
               summary="Stop accepting jobs (the client's Session.close())")
    def update(session_id: str, request: Request, body: bytes = Depends(raw_body)) -> Response:
        emulator: Emulator = request.app.state.emulator
        session = emulator.session(tenant(request), session_id)
        data = decode(body)
        if data.get("accepting_jobs") is not False or set(data) - {"accepting_jobs"}:
            raise IBMInputValueError(
                "PATCH /sessions/{id} takes {\"accepting_jobs\": false} (a session never "
                "reopens)")
        session.close()
        return Response(status_code=204)

    @api.delete("/sessions/{session_id}/close", status_code=204,
                summary="Cancel the session: queued jobs are cancelled (Session.cancel())")
    def cancel(session_id: str, request: Request) -> Response:
        emulator: Emulator = request.app.state.emulator
        emulator.session(tenant(request), session_id).cancel()
        return Response(status_code=204)

    return api

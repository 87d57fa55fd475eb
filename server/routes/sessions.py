"""``POST /sessions``, ``GET|PATCH /sessions/{id}``, ``DELETE /sessions/{id}/close``.

The client's ``Session.close()`` is the PATCH (``accepting_jobs: false``: queued jobs
still run) and its ``Session.cancel()`` is the DELETE (queued jobs are cancelled), as
in qiskit-ibm-runtime's ``api/rest/runtime_session.py``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request, Response

from qsession.runtime import IBMInputValueError, Session

from .. import models, wire
from ..emulator import Conflict, Emulator, Forbidden
from .common import errors, parse, raw_body, request_body, tenant

SessionId = Path(min_length=1, max_length=500, description="A session or batch id")


def _json(emulator: Emulator, session: Session) -> models.SessionResponse:
    return wire.session_json(session.details(), emulator.trace, user=emulator.user_id,
                             model_state=session.state)


def router() -> APIRouter:
    """The session routes."""
    api = APIRouter(tags=["sessions"])

    @api.post("/sessions", summary="Open a session (mode dedicated) or a batch",
              response_model=models.SessionResponse, response_model_exclude_none=True,
              responses=errors(400, 401, 403, 404),
              openapi_extra=request_body(models.CreateSession))
    def create(request: Request, raw: bytes = Depends(raw_body)) -> models.SessionResponse:
        owner = tenant(request)
        body = parse(models.CreateSession, raw)
        emulator: Emulator = request.app.state.emulator
        backend = body.backend or body.backend_name
        if backend is None:
            raise IBMInputValueError("a session needs a backend: send \"backend\": NAME")
        named = body.instance
        # IBM's execution-modes guide sends a legacy "hub/group/project" here, which names
        # no instance of this platform: only another tenant's instance is refused.
        if (named not in (None, owner.crn, owner.name)
                and (named in emulator.by_crn or named in emulator.instances)):
            raise Forbidden(
                f"the body names instance {named!r} but the request is made for {owner.crn}")
        session = emulator.open_session(owner, backend=backend, mode=body.mode,
                                        max_ttl=body.max_ttl)
        with emulator.lock:
            return _json(emulator, session)

    @api.get("/sessions/{session_id}", summary="A session's details",
             response_model=models.SessionResponse, response_model_exclude_none=True,
             responses=errors(401, 403, 404))
    def details(request: Request, session_id: str = SessionId) -> models.SessionResponse:
        emulator: Emulator = request.app.state.emulator
        session = emulator.session(tenant(request), session_id)
        with emulator.lock:
            return _json(emulator, session)

    @api.patch("/sessions/{session_id}", status_code=204, response_class=Response,
               summary="Accept jobs or stop accepting them (false: the client's close())",
               responses=errors(400, 401, 403, 404, 409),
               openapi_extra=request_body(models.UpdateSession))
    def update(request: Request, session_id: str = SessionId,
               raw: bytes = Depends(raw_body)) -> Response:
        emulator: Emulator = request.app.state.emulator
        session = emulator.session(tenant(request), session_id)
        change = parse(models.UpdateSession, raw)
        if not change.accepting_jobs:
            session.close()  # idempotent: a closed session stays closed
        elif not session.details().get("accepting_jobs"):
            # The lifecycle has no way back to accepting (docs/semantics.md): a session
            # that stopped accepting jobs drains or is closed (IBM's AcceptingJobs: it "will
            # be immediately closed when there are no more jobs"). IBM's reference lists no
            # error for this PATCH; a 204 would tell the caller its session takes jobs that
            # POST /jobs then refuses, so it is a 409, IBM's status for a request that
            # conflicts with an object's state (as cancelling a final job).
            raise Conflict(f"Session {session_id} no longer accepts jobs (it is "
                           f"{wire.SESSION_STATE.get(session.state, session.state)}); open "
                           "a new session with POST /sessions")
        return Response(status_code=204)

    @api.delete("/sessions/{session_id}/close", status_code=204, response_class=Response,
                summary="Cancel the session: queued jobs are cancelled (Session.cancel())",
                responses=errors(401, 403, 404))
    def cancel(request: Request, session_id: str = SessionId) -> Response:
        emulator: Emulator = request.app.state.emulator
        emulator.session(tenant(request), session_id).cancel()
        return Response(status_code=204)

    return api

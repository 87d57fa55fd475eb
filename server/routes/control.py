"""qsession's own routes under ``/qsession/v1``: steer virtual time and read the run.

IBM has nothing like them; they let tests and notebooks stay exact: ``advance``,
``run-until-idle`` and ``step`` move a virtual clock, ``state`` and ``trace`` read it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from qsession.runtime import IBMInputValueError
from qsession.runtime.engine.clock import ClockError

from ..emulator import Emulator
from .common import decode, errors, raw_body, request_body

MAX_ADVANCE = 1e9
"""The most one ``advance`` moves a virtual clock (about 31 years)."""


class Empty(BaseModel):
    """The body of a control route that takes none: a JSON object (``{}``), read as nothing."""


class Advance(BaseModel):
    """``POST /qsession/v1/advance``: how many virtual seconds to let pass."""

    seconds: float = Field(ge=0, le=MAX_ADVANCE, description="virtual seconds, 0 to 1e9")

PREFIX = "/qsession/v1"


def state_of(emulator: Emulator) -> dict[str, Any]:
    """The clock and the queues now (``GET /qsession/v1/state``)."""
    service = emulator.service
    with emulator.lock:
        clock = service.clock
        return {
            "clock": emulator.clock_name,
            "now": service.now().isoformat().replace("+00:00", "Z"),
            "now_seconds": clock.now() / 1e6,
            "epoch": clock.epoch.isoformat().replace("+00:00", "Z"),
            "backends": {name: {"queued": int(s.queued_count), "idle": s.is_idle()}
                         for name, s in service.schedulers.items()},
            "jobs": sum(1 for _ in emulator.all_jobs()),
            "sessions": sum(1 for _ in emulator.all_sessions()),
            "restarts": emulator.restarts,
            "trace_records": emulator.trace.count,
            "faults": emulator.faults,
            "instances": {i.name: {"crn": i.crn, "plan": i.plan, "allocation": i.allocation}
                          for i in emulator.instances.values()},
        }


def _virtual(emulator: Emulator, what: str) -> None:
    if emulator.clock_name == "wall":
        raise IBMInputValueError(f"{what} steers virtual time; this server runs on the wall "
                                 "clock (start it with --clock virtual or fast)")


def router() -> APIRouter:
    """The control routes."""
    api = APIRouter(prefix=PREFIX, tags=["qsession"])

    @api.get("/state", summary="The clock and the queues now")
    def state(request: Request) -> dict[str, Any]:
        return state_of(request.app.state.emulator)

    @api.post("/advance", summary="Let virtual seconds pass, firing timers on the way",
              openapi_extra=request_body(Advance), responses=errors(400, 401, 403, 415))
    def advance(request: Request, body: bytes = Depends(raw_body)) -> dict[str, Any]:
        emulator: Emulator = request.app.state.emulator
        _virtual(emulator, "advance")
        seconds = decode(body).get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise IBMInputValueError(f"advance takes {{\"seconds\": number from 0 to "
                                     f"{MAX_ADVANCE:g}}}, not {seconds!r:.40}")
        if seconds > MAX_ADVANCE:
            raise IBMInputValueError(f"seconds={seconds!r:.40} is too large: one advance moves "
                                     f"virtual time at most {MAX_ADVANCE:g} s")
        try:
            # Virtual time counts whole microseconds: a shorter step moves nothing.
            emulator.service.advance(round(seconds * 1e6) / 1e6)
        except (OverflowError, ClockError) as err:  # past the clock's last instant
            raise IBMInputValueError(f"advance by {seconds!r} s is past the last instant the "
                                     f"virtual clock can reach ({err})") from None
        return state_of(emulator)

    @api.post("/run-until-idle", summary="Advance until no job is queued or running",
              openapi_extra=request_body(Empty), responses=errors(400, 401, 403, 415))
    def run_until_idle(request: Request) -> dict[str, Any]:
        emulator: Emulator = request.app.state.emulator
        _virtual(emulator, "run-until-idle")
        emulator.service.run_until_idle()
        return state_of(emulator)

    @api.post("/step", summary="Jump to the next timer and fire it",
              openapi_extra=request_body(Empty), responses=errors(400, 401, 403, 415))
    def step(request: Request) -> dict[str, Any]:
        emulator: Emulator = request.app.state.emulator
        _virtual(emulator, "step")
        moved = emulator.step()
        return {**state_of(emulator), "moved": moved}

    @api.post("/reset", summary="Empty the platform: no session, job or record (for tests)",
              openapi_extra=request_body(Empty), responses=errors(400, 401, 403, 415))
    def reset(request: Request) -> dict[str, Any]:
        emulator: Emulator = request.app.state.emulator
        emulator.reset()
        return state_of(emulator)

    @api.get("/trace", summary="The trace so far (qsession-trace JSON lines)",
             response_class=Response, responses={200: {
                 "description": "One JSON record per line (`qsession docs trace-format`)",
                 "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}})
    def trace(request: Request) -> PlainTextResponse:
        emulator: Emulator = request.app.state.emulator
        with emulator.lock:
            text = emulator.trace.dumps()
        return PlainTextResponse(text, media_type="application/x-ndjson")

    return api

"""Seeded bugs in the HTTP door, for ``qsession verify --mutants``.

``WIRE_MUTANTS`` patch one entry or one function of ``server/wire.py`` (the one mapping
between the runtime and IBM's JSON): the doors part (``server/doors.py``) must see the HTTP
door disagree with the in-process one. ``REST_MUTANTS`` wrap one function of the request
forms, tenancy, tokens or the proxy's host rule: the REST part
(``server/rest_properties.py``) must see a property fail. ``DURABLE_MUTANTS`` break what a
state folder keeps across a crash: the HTTP part (``server/http_machine.py``), which
crashes the server and restarts it on its folder, must see INV-DURABLE fail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from unittest import mock

from qsession.properties.mutants import Mutant
from qsession.runtime.engine.scheduler import RESTART_ERROR, Scheduler

from . import forms, intercept, wire
from .emulator import Emulator
from .store import Store
from .tokens import Tokens


def _elapsed_in_ms(real: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    body = real(*args, **kwargs)  # a models.SessionResponse
    if body.elapsed_time is not None:
        body.elapsed_time = body.elapsed_time * 1000  # BUG: milliseconds, not seconds
    return body


WIRE_MUTANTS: tuple[Mutant, ...] = (
    Mutant("wire-pending-as-active", "a session that never ran a job is reported active",
           frozenset({"INV-DOORS"}),
           lambda: [mock.patch.dict(wire.SESSION_STATE, {"pending": "active",
                                                                 "open": "active"})]),
    Mutant("wire-elapsed-in-ms", "a session's elapsed_time goes over the wire in ms",
           frozenset({"INV-DOORS"}),
           lambda: [_wrap(wire, "session_json", _elapsed_in_ms)]),
    Mutant("wire-cancelled-as-failed", "a cancelled job is reported Failed",
           frozenset({"INV-DOORS"}),
           lambda: [mock.patch.dict(wire.JOB_STATUS, {"CANCELLED": "Failed"})]),
)
"""The wire-mapping catalogue (the doors part kills each)."""



def _values_in_key_order(real: Callable[..., Any], where: str, value: Any,
                         circuit: Any) -> Any:
    if isinstance(value, Mapping) and len(value) > 1:
        value = list(value.values())  # BUG: bound in the dict's order, not by name
    return real(where, value, circuit)


def _any_tenant(real: Callable[..., Any], self: Any, tenant: Any, job_id: str) -> Any:
    owner = next((r.instance for r in self.all_jobs() if r.id == job_id), None)
    # BUG: the job is looked up whoever owns it
    return real(self, self.instances.get(owner, tenant), job_id)


def _unsigned(self: Any, token: str) -> dict[str, Any]:
    import jwt

    from .tokens import TokenRejected

    try:
        claims: dict[str, Any] = jwt.decode(  # BUG: the signature is not checked
            token, options={"verify_signature": False})
    except (jwt.InvalidTokenError, ValueError) as err:
        raise TokenRejected(f"not a token: {err}") from None
    return claims


def _suffix_without_dot(host: str) -> bool:
    return host.lower().rstrip(".").endswith(intercept.IBM_DOMAIN)  # BUG: evilcloud.ibm.com


def _wrap(owner: Any, name: str, wrapper: Callable[..., Any]) -> Any:
    real = getattr(owner, name)
    return mock.patch.object(owner, name, lambda *a, **k: wrapper(real, *a, **k))


REST_MUTANTS: tuple[Mutant, ...] = (
    Mutant("forms-values-in-key-order", "parameter values by name are bound in the body's "
           "key order", frozenset({"INV-REST"}),
           lambda: [_wrap(forms, "_values", _values_in_key_order)]),
    Mutant("tenancy-any-owner", "a job is found whichever tenant asks",
           frozenset({"INV-REST"}), lambda: [_wrap(Emulator, "job", _any_tenant)]),
    Mutant("tokens-unsigned", "a bearer token's signature is not checked",
           frozenset({"INV-REST"}), lambda: [mock.patch.object(Tokens, "check", _unsigned)]),
    Mutant("proxy-suffix-without-dot", "the proxy answers any host ending in cloud.ibm.com",
           frozenset({"INV-REST"}),
           lambda: [mock.patch.object(intercept, "is_ibm_host", _suffix_without_dot)]),
)
"""Bugs in request forms, tenancy, tokens and the proxy's host rule (the REST part kills
each)."""


def _block_buffered(real: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> None:
    real(self, *args, **kwargs)
    if self._trace_file is not None:
        # BUG: records wait in the process's buffer; an answer leaves before they reach
        # the OS, and a crash takes back what the client was told.
        self._trace_file.reconfigure(line_buffering=False)


def _running_goes_on(real: Callable[..., Any], self: Any, restarts: int,
                     reason: str = RESTART_ERROR) -> None:
    if self.running is None:
        real(self, restarts, reason)
        return
    # BUG: the restart is recorded, but the job that was running goes on as if its
    # execution had survived the process that ran it.
    self.trace.emit(self.now(), self.qpu, "qpu", self.qpu, "restart", restarts=restarts)


DURABLE_MUTANTS: tuple[Mutant, ...] = (
    Mutant("durable-ack-before-write", "an answer leaves before the trace records it reveals "
           "reach the OS", frozenset({"INV-DURABLE"}),
           lambda: [_wrap(Store, "attach", _block_buffered)]),
    Mutant("durable-running-resumed", "a job running at a crash goes on after the restart "
           "instead of failing", frozenset({"INV-DURABLE"}),
           lambda: [_wrap(Scheduler, "restart", _running_goes_on)]),
)
"""Bugs in what survives a crash (the HTTP part, which crashes the server, kills each)."""

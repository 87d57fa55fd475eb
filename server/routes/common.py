"""What every runtime route needs: the caller's tenant (auth + ``Service-CRN``) and its body."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from qsession.runtime import IBMInputValueError

from ..emulator import Emulator, Instance
from ..tokens import TokenRejected

API_PREFIXES = ("/api/v1", "/experimental/api/v1")
"""The client uses ``/api/v1`` on IBM's hosts and the URL as given when it says experimental."""


class Unauthorized(PermissionError):
    """No valid bearer token or API key (401: the client raises IBMNotAuthorizedError)."""


def tenant(request: Request) -> Instance:
    """The instance a request acts for: a valid bearer token and the ``Service-CRN`` header."""
    emulator: Emulator = request.app.state.emulator
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("Invalid credentials: send 'Authorization: Bearer TOKEN' with a "
                           "token from the IAM endpoint (POST /identity/token)")
    try:
        emulator.tokens.check(value.strip())
    except TokenRejected as err:
        raise Unauthorized(f"Invalid credentials: {err}") from None
    return emulator.instance_of(request.headers.get("service-crn"))


async def raw_body(request: Request) -> bytes:
    """The request body, unparsed (each route parses it once, with ``decode``)."""
    return await request.body()


def decode(body: bytes) -> dict[str, Any]:
    """A JSON object body, parsed once (typed values stay as sent); bad JSON is a 400."""
    try:
        data = json.loads(body or b"{}")
    except Exception as err:  # whatever fails to decode is the request's fault, never a 500
        raise IBMInputValueError(
            f"the request body cannot be decoded ({type(err).__name__}: {err}); send JSON "
            "as qiskit-ibm-runtime's RuntimeEncoder writes it") from None
    if not isinstance(data, dict):
        raise IBMInputValueError(
            f"the request body must be a JSON object, not {type(data).__name__}")
    return data

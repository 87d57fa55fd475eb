"""What every runtime route needs: the caller's tenant (auth + ``Service-CRN``) and its body."""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from fastapi import Header, Request
from pydantic import BaseModel

from qsession.runtime import IBMInputValueError

from ..emulator import Emulator, Instance
from ..tokens import TokenRejected

API_PREFIXES = ("/api/v1", "/experimental/api/v1")
"""The client uses ``/api/v1`` on IBM's hosts and the URL as given when it says experimental."""

API_VERSIONS: dict[str, tuple[Literal["live", "deprecated"], str | None]] = {
    "2024-01-01": ("deprecated", "2027-01-01"),
    "2025-01-01": ("deprecated", "2027-01-01"),
    "2025-05-01": ("deprecated", "2027-01-01"),
    "2026-02-01": ("deprecated", "2027-02-01"),
    "2026-02-15": ("deprecated", "2027-02-15"),
    "2026-03-15": ("deprecated", "2027-03-15"),
    "2026-04-15": ("live", None),
}
"""IBM's API versions (``GET /versions``): status and sunset date. The client 0.51 sends
2026-04-15; clients from 0.35 on send 2024-01-01; older ones send none."""


class UnsupportedVersion(ValueError):
    """An ``IBM-API-Version`` IBM does not list (400)."""


def api_version(ibm_api_version: str | None = Header(
        None, alias="IBM-API-Version",
        description="IBM's API version, YYYY-MM-DD (GET /versions); the live one if absent",
        json_schema_extra={"enum": list(API_VERSIONS)})) -> str:
    """The request's ``IBM-API-Version`` (the live one when absent); others are refused."""
    if ibm_api_version is None:
        return next(v for v, (status, _) in API_VERSIONS.items() if status == "live")
    if ibm_api_version not in API_VERSIONS:
        raise UnsupportedVersion(
            f"IBM-API-Version {ibm_api_version!r} is not a supported API version; send one "
            f"of {', '.join(API_VERSIONS)} (GET /versions lists them)")
    return ibm_api_version


def page_bounds(limit: int | None, offset: int | None, *, default: int,
                most: int) -> tuple[int, int]:
    """IBM's list paging: a ``limit`` or ``offset`` outside its range falls back to the
    default, with no error (IBM's reference, ``GET /jobs``)."""
    chosen = limit if limit is not None and 1 <= limit <= most else default
    start = offset if offset is not None and 0 <= offset < 2**31 else 0
    return chosen, start


ERROR_STATUS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                405: "Method Not Allowed", 409: "Conflict", 413: "Body too large",
                415: "Not JSON", 500: "Internal error"}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route declares, each with IBM's error body (``ErrorBody``).

    Every route can also answer 400 (a refused ``IBM-API-Version``, a bad body), 413 (a body
    over the size limit) and 500 (a fault of the server itself); they are added.
    """
    from ..models import ErrorBody

    wanted = sorted({*statuses, 400, 413, 500})
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    return {status: {"model": ErrorBody, "description": ERROR_STATUS.get(status, "Error"),
                     "content": body} for status in wanted}


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """An ``openapi_extra`` declaring ``model`` as a route's JSON body (the route reads the
    raw body itself, to decode it with the client's ``RuntimeDecoder``)."""
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": model.model_json_schema()}}}}


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


ModelT = TypeVar("ModelT", bound=BaseModel)


def parse(model: type[ModelT], body: bytes) -> ModelT:
    """A JSON body read as ``model`` (declared with ``request_body``); misfits are a 400.

    Routes read the raw body themselves (``raw_body``) so the guard's size limit answers
    413 as the body arrives, rather than FastAPI's body parser turning it into a 400.
    """
    from fastapi.exceptions import RequestValidationError
    from pydantic import ValidationError

    data = decode(body)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in err.errors()]) from None


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

"""The fake IBM Cloud parts the client calls before the runtime API: IAM, Global Search, Catalog.

* IAM (``POST /identity/token``, ``ibm_cloud_sdk_core.IAMTokenManager``): trades the API
  key for a signed JWT that expires in *wall* time (``tokens``; the SDK refreshes by the
  wall).
* Global Search (``POST {GLOBAL_SEARCH_URL}/v3/resources/search``): lists the account's
  quantum-computing instances (``Account.list_instances``).
* Global Catalog (``GET {GLOBAL_CATALOG_URL}/{plan_id}``): a plan's display name and
  pricing type, which the client lowercases into ``plan`` and ``pricing_type``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .tokens import TokenRejected

if TYPE_CHECKING:
    from .emulator import Emulator, Instance

SEARCH_PREFIX = "/global-search"
CATALOG_PREFIX = "/global-catalog/api/v1"
_PLAN_IDS = {"premium": "qsession-plan-premium", "open": "qsession-plan-open"}
# The client sorts instances by these pricing types (qiskit_runtime_service.py).
_PRICING = {"premium": "paid", "open": "free"}


def plan_id(instance: Instance) -> str:
    """The Global Catalog id of the instance's plan (``GET /instance``'s ``plan_id``)."""
    return _PLAN_IDS.get(instance.plan, _PLAN_IDS["premium"])


def iam_error(status: int, code: str, message: str) -> JSONResponse:
    """IAM's own error shape (``errorCode``/``errorMessage``), not the runtime API's."""
    return JSONResponse({"errorCode": code, "errorMessage": message,
                         "context": {"requestId": "qsession"}}, status_code=status)


def router(emulator: Emulator) -> APIRouter:
    """The IAM, Global Search and Global Catalog routes."""
    api = APIRouter(tags=["IBM Cloud"])

    @api.post("/identity/token", summary="IAM: exchange an API key for an access token")
    async def identity_token(request: Request) -> JSONResponse:
        # A urlencoded form (IAMTokenManager); parsed here, without python-multipart.
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace"),
                                             keep_blank_values=True).items()}
        grant = form.get("grant_type")
        if grant != "urn:ibm:params:oauth:grant-type:apikey":
            return iam_error(400, "BXNIM0109E",
                             f"Property missing or empty: grant_type must be the apikey grant, "
                             f"not {grant!r}")
        if not emulator.accepts_key(form.get("apikey")):
            return iam_error(400, "BXNIM0415E", "Provided API key could not be found.")
        return JSONResponse(emulator.tokens.issue("qsession"))

    @api.post(f"{SEARCH_PREFIX}/v3/resources/search",
              summary="Global Search: the account's quantum-computing instances")
    async def search(request: Request) -> JSONResponse:
        if not _authorized(request, emulator):
            return JSONResponse({"errors": [{"code": "not_authorized",
                                             "message": "invalid or missing bearer token"}]},
                                status_code=401)
        items = [{"crn": i.crn, "name": i.name, "service_plan_unique_id": _PLAN_IDS[i.plan],
                  "tags": [], "doc": {"extensions": {"allocation": i.allocation}}}
                 for i in emulator.instances.values()]
        return JSONResponse({"items": items, "limit": 100})

    @api.get(f"{CATALOG_PREFIX}/{{plan_id}}", summary="Global Catalog: a plan's entry")
    async def catalog(plan_id: str, request: Request) -> JSONResponse:
        if not _authorized(request, emulator):
            return JSONResponse({"message": "invalid or missing bearer token"}, status_code=401)
        for plan, pid in _PLAN_IDS.items():
            if pid == plan_id:
                return JSONResponse({
                    "id": pid, "name": plan,
                    "overview_ui": {"en": {"display_name": plan.capitalize()}},
                    "metadata": {"pricing": {"type": _PRICING[plan].capitalize()}},
                })
        return JSONResponse({"message": f"catalog entry {plan_id!r} not found"},
                            status_code=404)

    return api


def _authorized(request: Request, emulator: Emulator) -> bool:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    try:
        emulator.tokens.check(value.strip())
    except TokenRejected:
        return False
    return True

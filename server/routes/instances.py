"""``GET /instance``, ``GET|PUT /instances/configuration`` and ``GET /instances/usage``
(also at ``GET /usage``, the path IBM's set-up guide calls).

Usage is the fair-share ledger's charged QPU time over its rolling window (one ledger for
every QPU); the limit is what ``PUT /instances/configuration`` set, never below the usage
so far (409 otherwise), and a job submitted once usage reached it is refused with 409, as
IBM refuses it.
"""

from __future__ import annotations

import math
from datetime import timedelta

from fastapi import APIRouter, Depends, Request, Response

from .. import models, wire
from ..emulator import Conflict, Emulator
from ..platform import plan_id
from .common import errors, parse, raw_body, request_body, tenant

USAGE_ALIAS = (
    "IBM's guide 'Set up to use IBM Quantum Platform with REST API' checks a bearer token "
    "and a Service-CRN with GET /api/v1/usage, a path its REST reference does not list (the "
    "reference has GET /v1/instances/usage, operation get_usage). The emulator answers the "
    "guide's request with the instance's usage, the same answer as GET /instances/usage, "
    "so the guide's first step works; a program meant for IBM should call "
    "GET /instances/usage.")
"""Why ``GET /usage`` is served (its OpenAPI description)."""


def router() -> APIRouter:
    """The instance routes."""
    api = APIRouter(tags=["instances"])

    @api.get("/instance", summary="The instance named by Service-CRN: backends, plan, limits",
             response_model=models.InstanceDetails, response_model_exclude_none=True,
             responses=errors(401, 403, 404))
    def instance(request: Request) -> models.InstanceDetails:
        owner = tenant(request)
        emulator: Emulator = request.app.state.emulator
        limit = emulator.instance_limits.get(owner.name)
        quota = emulator.quota_seconds(owner)
        return models.InstanceDetails(
            backends=list(emulator.backends), plan_id=plan_id(owner),
            instance_limit=None if limit is None else float(limit),
            instance_limit_seconds=None if limit is None else f"{limit:g}",
            usage_allocation_seconds=None if quota is None else f"{quota:g}")

    @api.get("/instances/configuration", summary="The instance's usage limit in seconds",
             response_model=models.InstanceConfiguration, response_model_exclude_none=True,
             responses=errors(401, 403, 404))
    def configuration(request: Request) -> models.InstanceConfiguration:
        owner = tenant(request)
        emulator: Emulator = request.app.state.emulator
        return models.InstanceConfiguration(
            instance_limit=emulator.instance_limits.get(owner.name))

    @api.put("/instances/configuration", status_code=204, response_class=Response,
             summary="Set or remove (null) the instance's usage limit in seconds",
             responses=errors(400, 401, 403, 404, 409),
             openapi_extra=request_body(models.InstanceConfigurationUpdate))
    def update(request: Request, raw: bytes = Depends(raw_body)) -> Response:
        owner = tenant(request)
        change = parse(models.InstanceConfigurationUpdate, raw)
        emulator: Emulator = request.app.state.emulator
        limit = change.instance_limit
        with emulator.lock:
            used = emulator.usage_seconds(owner)
            if limit is not None and limit < used:
                # IBM's 409 "Usage exceeds instance limit": a limit is never below what the
                # instance has used (IBM's cost-limit guide: the limit "will always be
                # greater than or equal to the total cost").
                raise Conflict(
                    f"Usage exceeds instance limit: the instance has used {used:g} s in its "
                    f"usage period, more than {limit} s; set a limit of at least "
                    f"{math.ceil(used)} s, or null to remove it (GET /instances/usage)")
            emulator.set_instance_limit(owner, None if limit is None else float(limit))
        return Response(status_code=204)

    @api.get("/instances/usage", summary="QPU usage of the instance over its usage period",
             response_model=models.InstanceUsage, response_model_exclude_none=True,
             responses=errors(401, 403))
    @api.get("/usage", summary="The instance's usage, as GET /instances/usage answers it",
             description=USAGE_ALIAS, response_model=models.InstanceUsage,
             response_model_exclude_none=True, responses=errors(401, 403))
    def usage(request: Request) -> models.InstanceUsage:
        owner = tenant(request)
        emulator: Emulator = request.app.state.emulator
        limit = emulator.instance_limits.get(owner.name)
        quota = emulator.quota_seconds(owner)
        consumed = emulator.usage_seconds(owner)
        cap = limit if limit is not None else quota
        with emulator.lock:
            now = emulator.service.now()
            window = float(emulator.service.defaults["fair_share_window"])
        return models.InstanceUsage(
            instance_id=owner.crn,
            plan_id=plan_id(owner),
            usage_consumed_seconds=consumed,
            usage_limit_seconds=cap,
            usage_allocation_seconds=quota,
            usage_limit_reached=None if cap is None else consumed >= cap,
            usage_period=models.UsagePeriod(
                start_time=wire.iso(now - timedelta(seconds=window)), end_time=wire.iso(now)))

    return api

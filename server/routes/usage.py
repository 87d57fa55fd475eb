"""``GET /instances/usage``: the instance's consumed QPU seconds and plan limit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from .. import wire
from ..emulator import Emulator
from .common import tenant

OPEN_PLAN_QUOTA_S = 600.0
"""IBM's Open Plan: 10 minutes per 28-day window (SPEC §2a)."""


def router() -> APIRouter:
    """The usage route."""
    api = APIRouter(tags=["instances"])

    @api.get("/instances/usage", summary="QPU usage of the instance")
    def usage(request: Request) -> dict[str, Any]:
        owner = tenant(request)
        emulator: Emulator = request.app.state.emulator
        limit = OPEN_PLAN_QUOTA_S if owner.plan == "open" else None
        return wire.usage_json(owner.crn, owner.plan, emulator.usage_seconds(owner), limit)

    return api

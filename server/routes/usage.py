"""``GET /instances/usage``: the instance's consumed QPU seconds and plan limit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from .. import wire
from ..emulator import Emulator
from .common import tenant


def router() -> APIRouter:
    """The usage route."""
    api = APIRouter(tags=["instances"])

    @api.get("/instances/usage", summary="QPU usage of the instance")
    def usage(request: Request) -> dict[str, Any]:
        owner = tenant(request)
        emulator: Emulator = request.app.state.emulator
        return wire.usage_json(owner.crn, owner.plan, emulator.usage_seconds(owner),
                               emulator.quota_seconds(owner))

    return api

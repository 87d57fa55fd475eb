"""``GET /backends`` and ``/backends/{name}/configuration|properties|status``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from .. import wire
from ..emulator import Emulator
from .common import tenant


def router() -> APIRouter:
    """The backend routes (every instance sees every backend)."""
    api = APIRouter(tags=["backends"])

    @api.get("/backends", summary="The backends of the instance, with queue lengths")
    def backends(request: Request) -> dict[str, Any]:
        tenant(request)
        emulator: Emulator = request.app.state.emulator
        devices = [wire.backend_device(b.name, qubits=int(b.configuration["n_qubits"]),
                                       queue_length=emulator.queue_length(b.name),
                                       processor_type=b.configuration.get("processor_type"),
                                       clops=b.configuration.get("clops"))
                   for b in emulator.backends.values()]
        return {"devices": devices}

    @api.get("/backends/{name}/configuration", summary="A backend's configuration")
    def configuration(name: str, request: Request) -> dict[str, Any]:
        tenant(request)
        return dict(request.app.state.emulator.backend(name).configuration)

    @api.get("/backends/{name}/properties", summary="A backend's calibration properties")
    def properties(name: str, request: Request) -> dict[str, Any]:
        tenant(request)
        return dict(request.app.state.emulator.backend(name).properties)

    @api.get("/backends/{name}/status", summary="A backend's status and queue length")
    def status(name: str, request: Request) -> dict[str, Any]:
        tenant(request)
        emulator: Emulator = request.app.state.emulator
        backend = emulator.backend(name)
        return wire.backend_status(name, backend.version, emulator.queue_length(name))

    return api

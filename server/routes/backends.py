"""``GET /backends`` and ``/backends/{id}/configuration|properties|status|defaults``."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from fastapi import APIRouter, Path, Query, Request

from .. import models, wire
from ..emulator import Emulator, NotFound, ServedBackend
from .common import errors, tenant

BackendId = Path(min_length=1, max_length=500, description="A backend name")
CalibrationId = Query(None, min_length=1, max_length=100,
                      description="Only the data of this calibration (404 for another)")


def _backend(request: Request, name: str, calibration_id: str | None = None) -> ServedBackend:
    tenant(request)
    emulator: Emulator = request.app.state.emulator
    backend = emulator.backend(name)
    if calibration_id is not None and calibration_id != emulator.calibration_id(name):
        raise NotFound(f"Backend {name} has no calibration {calibration_id!r}; its jobs "
                       "name the one it has (a job's calibration_id)")
    return backend


def router() -> APIRouter:
    """The backend routes (every instance sees every backend)."""
    api = APIRouter(tags=["backends"])

    @api.get("/backends", summary="The backends of the instance, with queue lengths",
             response_model=models.BackendsResponse, response_model_exclude_none=True,
             responses=errors(401, 403))
    def backends(request: Request, fields: str | None = Query(
            None, description="wait_time_seconds: add each backend's wait times")
                 ) -> models.BackendsResponse:
        tenant(request)
        emulator: Emulator = request.app.state.emulator
        devices = []
        for b in emulator.backends.values():
            device = wire.backend_device(b.name, qubits=int(b.configuration["n_qubits"]),
                                         queue_length=emulator.queue_length(b.name),
                                         processor=b.configuration.get("processor_type"),
                                         clops=b.configuration.get("clops"))
            if fields == "wait_time_seconds":
                device.wait_time_seconds = emulator.wait_times(b.name)
            devices.append(device)
        return models.BackendsResponse(devices=devices)

    @api.get("/backends/{backend_id}/configuration", summary="A backend's configuration",
             response_model=models.BackendConfiguration, response_model_exclude_unset=True,
             responses=errors(401, 403, 404))
    def configuration(request: Request, backend_id: str = BackendId,
                      calibration_id: str | None = CalibrationId) -> dict[str, Any]:
        # Sent as built: IBM's recorded answer for a fake backend (its nulls included),
        # every key IBM requires for the ideal QPU.
        config = dict(_backend(request, backend_id, calibration_id).configuration)
        kind = wire.processor_type(config.pop("processor_type", None))
        if kind is not None:
            config["processor_type"] = kind
        return config

    @api.get("/backends/{backend_id}/properties",
             summary="A backend's calibration data ({} for the ideal QPU, which has none)",
             response_model=models.BackendProperties | models.NoData,
             responses=errors(401, 403, 404))
    def properties(request: Request, backend_id: str = BackendId,
                   calibration_id: str | None = CalibrationId,
                   updated_before: models.QueryTime | None = Query(
                       None, description="Only calibration data updated before this instant "
                                         "({} when the backend has none that old)")
                   ) -> dict[str, Any]:
        found = dict(_backend(request, backend_id, calibration_id).properties or {})
        if updated_before is not None and found:
            # An emulated QPU has one calibration set, dated by its last_update_date: data
            # asked for before that date does not exist. IBM's client reads an empty answer
            # as "no properties" (IBMBackend.properties(datetime=...) returns None).
            before = (updated_before if updated_before.tzinfo is not None
                      else updated_before.replace(tzinfo=UTC))
            if wire.parse_time(str(found["last_update_date"])) >= before:
                return {}
        return found

    @api.get("/backends/{backend_id}/status", summary="A backend's status and queue length",
             response_model=models.BackendStatus, responses=errors(401, 403, 404))
    def status(request: Request, backend_id: str = BackendId) -> models.BackendStatus:
        backend = _backend(request, backend_id)
        emulator: Emulator = request.app.state.emulator
        return wire.backend_status(backend.version, emulator.queue_length(backend_id))

    @api.get("/backends/{backend_id}/defaults",
             summary="A backend's default settings (estimated drive and readout frequencies)",
             response_model=models.BackendDefaults, responses=errors(401, 403, 404))
    def defaults(request: Request, backend_id: str = BackendId) -> dict[str, Any]:
        backend = _backend(request, backend_id)
        if backend.defaults is None:
            # IBM: "Simulator backends may not support this"; the ideal QPU has no
            # calibration to estimate frequencies from.
            raise NotFound(f"Backend {backend_id} has no defaults: it is noiseless and has "
                           "no calibration data")
        return dict(backend.defaults)

    return api

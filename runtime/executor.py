"""``Executor``: IBM's primitive that runs a ``QuantumProgram`` (program ``executor``).

Its constructor, ``options`` (the client's ``ExecutorOptions``), ``mode``, ``backend()``
and ``run(program, dry_run=False)`` are IBM's; the job it returns is a qsession job in the
session, batch or job mode given, scheduled and timed like every other job.
"""

from __future__ import annotations

import warnings
from typing import Any

from .clock import to_seconds, to_us
from .job import RuntimeJobV2
from .primitives import _note_dry_run, _resolve_mode
from .programs import ExecutorOptions, QuantumProgram, prepare_program
from .qpu import QPU
from .session import Session
from .settings import job_time_limit

__all__ = ["Executor"]


class Executor:
    """Runs quantum programs on an emulated QPU, in a session, a batch or job mode."""

    _PROGRAM_ID = "executor"

    options: Any
    """The executor's ``ExecutorOptions``."""

    def __init__(self, mode: Session | QPU | None = None,
                 options: Any = None) -> None:
        self.options = options if options is not None else ExecutorOptions()
        self._session, self._backend = _resolve_mode(mode)

    def __setattr__(self, name: str, value: Any) -> None:
        # IBM's Executor coerces options on every assignment (a dict becomes ExecutorOptions).
        if name == "options":
            if isinstance(value, dict):
                value = ExecutorOptions(**value)
            elif not isinstance(value, ExecutorOptions):
                raise TypeError(f"Expected ExecutorOptions or dict, got {type(value)}")
        super().__setattr__(name, value)

    def backend(self) -> QPU:
        """The QPU the programs run on."""
        return self._backend

    @property
    def mode(self) -> Session | None:
        """The session or batch the executor runs in (None in job mode)."""
        return self._session

    def run(self, program: Any, dry_run: bool = False) -> RuntimeJobV2:
        """Submit a ``QuantumProgram`` (a samplomatic one is converted first); returns a job.

        ``dry_run=True`` runs the job as usual, with a warning (as the other primitives).
        """
        _note_dry_run(dry_run)
        if not isinstance(program, QuantumProgram) and hasattr(program, "items"):
            program = QuantumProgram.from_(program)
        return submit_program(self._backend, self._session, program, self.options,
                              instance=None)


def submit_program(qpu: QPU, session: Session | None, program: Any, options: Any, *,
                   instance: str | None) -> RuntimeJobV2:
    """Queue an executor job for ``program`` on ``qpu`` (in ``session``, or job mode)."""
    service = qpu.service
    scheduler = service.scheduler_of(qpu)
    prepared = prepare_program(qpu, program, options)
    limit = _time_limit(options, session)
    tags = list(options.environment.job_tags)
    not_emulated = _not_emulated(options)
    _report_not_emulated(service, not_emulated)
    with service.call(), scheduler.clock.instant():
        record = scheduler.submit(
            None if session is None else session._record,
            instance=scheduler.settings.check_instance(instance),
            kind="executor",
            payload=prepared,
            duration_us=prepared.duration_us,
            seed=service.next_seed(),
            time_limit_us=to_us(limit),
            circuits=prepared.num_circuits,
            shots=prepared.shots,
            tags=tuple(tags),
        )
        record.inputs = {"quantum_program": program,
                         "options": options.model_dump(exclude={"simulator"}),
                         "not_emulated": not_emulated}
    return RuntimeJobV2(service, record)


_NOT_EMULATED = {
    "execution.init_qubits": True,
    "execution.scheduler_timing": False,
    "execution.stretch_values": False,
    "environment.log_level": "WARNING",
    "environment.private": False,
    "environment.image": None,
    "simulator.layer_noise_model": None,
}
"""Executor options an emulated QPU takes but cannot honour, with IBM's defaults."""


def _not_emulated(options: Any) -> list[str]:
    """The options set away from IBM's default that only hardware (or IBM's cloud) honours."""
    names = [name for name, default in _NOT_EMULATED.items()
             if _field(options, name) != default]
    if options.experimental:
        names.append("experimental")
    return names


def _field(options: Any, path: str) -> Any:
    group, name = path.split(".")
    return getattr(getattr(options, group), name)


def _report_not_emulated(service: Any, names: list[str]) -> None:
    """Warn once per service and option name, as for the other primitives' options."""
    reported = service._not_emulated_reported
    fresh = [name for name in names if name not in reported]
    if fresh:
        reported.update(fresh)
        warnings.warn(
            f"options accepted, not emulated (an emulated QPU has no hardware for them; they "
            f"are kept in job.inputs): {', '.join(fresh)}", UserWarning, stacklevel=4)


def _time_limit(options: Any, session: Session | None) -> int:
    # As IBM's Executor: the top-level value wins over the deprecated environment one.
    requested = options.max_execution_time or options.environment.max_execution_time
    return job_time_limit(requested, None if session is None
                          else to_seconds(session._record.max_time_us))

"""``Executor``: IBM's primitive that runs a ``QuantumProgram`` (program ``executor``).

Its constructor, ``options`` (the client's ``ExecutorOptions``), ``mode``, ``backend()``
and ``run(program, dry_run=False)`` are IBM's; the job it returns is a qsession job in the
session, batch or job mode given, scheduled and timed like every other job.
"""

from __future__ import annotations

from typing import Any

from ..engine.qpu import QPU
from .job import RuntimeJobV2
from .programs import ExecutorOptions, QuantumProgram, prepare_program
from .session import Session
from .submission import note_dry_run, resolve_mode, submit_job

__all__ = ["Executor"]


class Executor:
    """Runs quantum programs on an emulated QPU, in a session, a batch or job mode."""

    _PROGRAM_ID = "executor"

    options: Any
    """The executor's ``ExecutorOptions``."""

    def __init__(self, mode: Session | QPU | None = None,
                 options: Any = None) -> None:
        self.options = options if options is not None else ExecutorOptions()
        self._session, self._backend = resolve_mode(mode)

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
        note_dry_run(dry_run)
        if not isinstance(program, QuantumProgram) and hasattr(program, "items"):
            program = QuantumProgram.from_(program)
        return submit_program(self._backend, self._session, program, self.options,
                              instance=None)


def submit_program(qpu: QPU, session: Session | None, program: Any, options: Any, *,
                   instance: str | None) -> RuntimeJobV2:
    """Check ``program`` against ``qpu`` and queue it as an executor job (in ``session``,
    or job mode) through the one submission door."""
    prepared = prepare_program(qpu, program, options)
    # As IBM's Executor: the top-level value wins over the deprecated environment one.
    requested = options.max_execution_time or options.environment.max_execution_time
    return submit_job(
        qpu, session, kind="executor", prepared=prepared, instance=instance, seed=None,
        max_execution_time=requested, tags=list(options.environment.job_tags),
        inputs={"quantum_program": program,
                "options": options.model_dump(exclude={"simulator"})},
        not_emulated=_not_emulated(options))


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

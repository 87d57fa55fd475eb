"""``RuntimeJobV2``: a job handle with ``qiskit-ibm-runtime``'s methods, statuses and errors.

In virtual time ``result()`` moves the clock to the job's end (firing every timer on the
way, so other sessions and background jobs progress as they would have).
"""

from __future__ import annotations

import copy
import functools
import importlib.metadata
import json
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from qsession.model import CANCELLED, DONE, ERROR, QUEUED, RUNNING

from ..engine.clock import ClockError, ReentrantCallError, iso, to_seconds
from ..engine.errors import (
    IBMInputValueError,
    IBMRuntimeError,
    RuntimeInvalidStateError,
    RuntimeJobFailureError,
    RuntimeJobMaxTimeoutError,
    RuntimeJobTimeoutError,
)
from ..engine.inputs import seconds_us
from ..engine.pubs import shots_for_precision
from ..engine.records import JobRecord
from ..engine.scheduler import MAX_TIME_ERROR
from .results import EstimatorResult

if TYPE_CHECKING:
    from ..engine.platform import Platform
    from ..engine.qpu import QPU


class RuntimeJobV2:
    """A submitted job: status, result, cancel, metrics and usage."""

    ERROR = ERROR
    JOB_FINAL_STATES = (DONE, CANCELLED, ERROR)
    image = ""
    """IBM's runtime image name: none (``""``, the default image)."""

    def __init__(self, service: Platform, record: JobRecord) -> None:
        self._service = service
        self._record = record

    # -- identity --------------------------------------------------------------------

    def job_id(self) -> str:
        """The job's id."""
        return self._record.id

    @property
    def session_id(self) -> str | None:
        """The id of the job's session or batch (None in job mode)."""
        return self._record.session_id

    @property
    def primitive_id(self) -> str:
        """``sampler`` or ``estimator``."""
        return self._record.kind

    @property
    def creation_date(self) -> datetime:
        """When the job was submitted (UTC, on the service's clock)."""
        return self._service.clock.datetime(self._record.created)

    @property
    def instance(self) -> str:
        """The instance the job is accounted to (fair share)."""
        return self._record.instance

    @property
    def tags(self) -> list[str]:
        """The job's tags (``options.environment.job_tags``)."""
        return list(self._record.tags)

    @property
    def usage_estimation(self) -> dict[str, float]:
        """The modeled QPU time, known at submission: ``{"quantum_seconds": ...}``."""
        return {"quantum_seconds": to_seconds(self._record.duration_us)}

    def backend(self, timeout: float | None = None) -> QPU:
        """The QPU the job runs on."""
        return self._service.qpus[self._record.qpu]

    @property
    def program_id(self) -> str:
        """IBM's program id: ``sampler`` or ``estimator`` (as ``primitive_id``)."""
        return self._record.kind

    @property
    def inputs(self) -> dict[str, Any]:
        """What the job was given: ``pubs``, the ``options`` set, ``version`` 2 (IBM's keys).

        ``not_emulated`` names the options an emulated QPU accepts but cannot honour.
        """
        return {**copy.deepcopy(self._record.inputs), "version": 2, "support_qiskit": True}

    @property
    def max_execution_time(self) -> int | None:
        """The job's effective limit in QPU seconds: its own, capped by the service's."""
        limit = self._record.time_limit_us
        return None if limit is None else int(to_seconds(limit))

    @property
    def private(self) -> bool:
        """``options.environment.private`` (an emulator keeps every input anyway)."""
        env = self._record.inputs.get("options", {}).get("environment", {})
        return bool(env.get("private", False))

    def update_tags(self, new_tags: list[str]) -> list[str]:
        """Replace the job's tags (duplicates dropped, as IBM's client sends a set)."""
        if not isinstance(new_tags, list) or not all(isinstance(t, str) for t in new_tags):
            raise IBMInputValueError("job_tags needs to be a list of strings.")
        with self._service.call():
            scheduler = self._service.scheduler_of(self._record.qpu)
            scheduler.set_tags(self._record, sorted(set(new_tags)))
            return list(self._record.tags)

    def properties(self, refresh: bool = False) -> Any:
        """The backend's properties for this job (an emulated QPU's do not drift)."""
        return self.backend().properties()

    # -- status ----------------------------------------------------------------------

    def status(self) -> str:
        """``QUEUED``, ``RUNNING``, ``DONE``, ``ERROR`` or ``CANCELLED``."""
        with self._service.call():
            return self._record.state

    def done(self) -> bool:
        """True if the job finished successfully."""
        return self.status() == DONE

    def running(self) -> bool:
        """True while the job runs on the QPU."""
        return self.status() == RUNNING

    def cancelled(self) -> bool:
        """True if the job was cancelled."""
        return self.status() == CANCELLED

    def errored(self) -> bool:
        """True if the job failed (including expiry of its session while it queued)."""
        return self.status() == ERROR

    def in_final_state(self) -> bool:
        """True once DONE, ERROR or CANCELLED."""
        return self.status() in (DONE, ERROR, CANCELLED)

    def error_message(self) -> str | None:
        """Why the job failed (None unless it is in ERROR)."""
        with self._service.call():
            return self._record.error if self._record.state == ERROR else None

    # -- waiting and results -----------------------------------------------------------

    def wait_for_final_state(self, timeout: float | None = None,
                             poll_interval: float | None = None) -> None:
        """Wait (in the service's time) until the job is final, or raise on timeout.

        ``poll_interval`` is IBM's argument; the runtime is not polled, so it is accepted
        and has no effect.
        """
        with self._service.call():
            self._wait(timeout)

    def _wait(self, timeout: float | None) -> None:
        record = self._record
        timeout_us = None if timeout is None else seconds_us(
            timeout, "timeout", self._service.clock,
            fix="give a finite number of seconds >= 0, or None to wait until the job ends")
        try:
            done = self._service.clock.wait_for(lambda: record.is_final, timeout_us)
        except ReentrantCallError as err:
            raise IBMRuntimeError(f"job {record.id}: {err}") from None
        except ClockError as err:  # pragma: no cover - would be a scheduler bug
            raise RuntimeJobTimeoutError(f"Job {record.id} can never complete: {err}") from err
        if not done:
            raise RuntimeJobTimeoutError(
                f"Timed out waiting for job to complete after {timeout} secs.")

    def executor_result(self) -> tuple[Any, Any]:
        """qsession's: a DONE executor job's undecoded ``QuantumProgramResult`` and its
        ``QuantumProgram`` -- what IBM's service sends back, for the client to decode."""
        record = self._record
        if record.kind != "executor":
            raise IBMInputValueError(f"job {record.id} is a {record.kind} job, not an executor job")
        from .programs import program_result

        return program_result(self._service.clock, record), record.payload.program

    def result(self, timeout: float | None = None, decoder: Any = None,
               poll_interval: float | None = None) -> Any:
        """The job's ``PrimitiveResult``, waiting for it (virtual time jumps to its end).

        Raises ``RuntimeJobFailureError`` if it failed, ``RuntimeJobMaxTimeoutError`` if
        it ran past its ``max_execution_time``, ``RuntimeInvalidStateError`` if it was
        cancelled and ``RuntimeJobTimeoutError`` past ``timeout`` seconds. ``decoder``
        (one or a list of ``ResultDecoder`` classes) is applied in chain to the result, as
        IBM's client does; ``poll_interval`` is accepted and has no effect.
        """
        with self._service.call():
            self._wait(timeout)
            record = self._record
            if record.state == CANCELLED:
                raise RuntimeInvalidStateError(
                    f"Unable to retrieve result for job {record.id}. Job was cancelled.")
            if record.state == ERROR:
                if record.error == MAX_TIME_ERROR:
                    raise RuntimeJobMaxTimeoutError(record.error)
                raise RuntimeJobFailureError(
                    f"Unable to retrieve job result. {record.error}")
            if record.kind == "executor":
                from .programs import decoded_result

                return decoded_result(self._service.clock, record)
            if record.kind == "estimator" and not isinstance(record.result, EstimatorResult):
                record.result = EstimatorResult.wrap(record.result)
            _add_ibm_metadata(record, self._service.clock)
            if decoder is None:
                return record.result
            return _decode(record.result, decoder)

    def cancel(self) -> None:
        """Cancel the job now (a running job is stopped and the QPU freed)."""
        with self._service.call():
            scheduler = self._service.scheduler_of(self._record.qpu)
            scheduler.cancel_job(self._record)

    # -- accounting ------------------------------------------------------------------

    def usage(self, partial: bool = False) -> float:
        """Quantum seconds billed for the job: 0 until it is final (IBM's ``usage()``).

        ``partial=True`` gives the usage so far (the time a running job has held the QPU).
        A job failed by the system (a QPU fault) is billed 0.
        """
        with self._service.call(), self._service.clock.lock:
            r = self._record
            if not r.is_final and not partial:
                return 0.0
            return to_seconds(self._usage_us())

    def _usage_us(self) -> int:
        r = self._record
        if r.state == RUNNING and r.running is not None:
            return self._service.clock.now() - r.running
        return r.usage_us

    def metrics(self) -> dict[str, Any]:
        """IBM's metrics: ISO-8601 ``Z`` timestamps, usage in seconds, ``qiskit_version``."""
        with self._service.call(), self._service.clock.lock:
            r = self._record
            clock = self._service.clock
            payload = r.payload
            usage = to_seconds(self._usage_us())
            return {
                "timestamps": {
                    "created": iso(clock, r.created),
                    "running": iso(clock, r.running),
                    "finished": iso(clock, r.finished),
                },
                # IBM's metrics give whole seconds; ``usage()`` keeps the fraction.
                "usage": {"quantum_seconds": round(usage), "seconds": round(usage)},
                "bss": {"seconds": round(usage)},
                "qiskit_version": _qiskit_version(),
                "caller": "qsession",
                "num_circuits": getattr(payload, "num_circuits", None),
                "num_qubits": getattr(payload, "num_qubits", None),
                "position_in_queue": self._position() if r.state == QUEUED else None,
                "estimated_running_time_seconds": to_seconds(r.duration_us),
            }

    def _position(self) -> int:
        scheduler = self._service.scheduler_of(self._record.qpu)
        queued = sorted(j.seq for j in scheduler.jobs.values() if j.state == QUEUED)
        return queued.index(self._record.seq) + 1

    def logs(self) -> str:
        """Execution logs (an emulated QPU writes none)."""
        return ""

    def __repr__(self) -> str:
        return f"<RuntimeJobV2('{self._record.id}', '{self._record.kind}')>"


def _add_ibm_metadata(record: JobRecord, clock: Any) -> None:
    """Give a result the metadata IBM's carry, once: the job's execution span
    and, for the estimator, each pub's shots, precision, circuit metadata and resilience."""
    result = record.result
    metadata = getattr(result, "metadata", None)
    if not isinstance(metadata, dict) or "execution" in metadata or record.running is None:
        return
    pubs = getattr(record.payload, "pubs", ())
    start, stop = clock.datetime(record.running), clock.datetime(record.finished)
    slices: dict[int, tuple[Any, ...]] = {}
    for i, pub in enumerate(pubs):
        if record.kind == "sampler":
            # IBM's sampler spans are DoubleSliceSpans: (shape with shots, the flattened
            # parameter sets, the shots), as its recorded results and result schema show.
            slices[i] = ((*tuple(pub.shape), pub.shots), slice(0, math.prod(pub.shape)),
                         slice(0, pub.shots))
        else:
            slices[i] = (tuple(pub.shape), slice(0, math.prod(pub.shape)))
    metadata["execution"] = {"execution_spans": _execution_spans(start, stop, slices)}
    metadata.setdefault("version", 2)
    for pub_result in result:
        # Aer's own timings are not part of IBM's pub metadata.
        pub_result.metadata.pop("simulator_metadata", None)
    if record.kind != "estimator":
        return
    from qiskit.primitives import DataBin, PubResult

    pub_results = []
    for pub, pub_result in zip(pubs, result, strict=False):
        pub_result.metadata.update({
            "shots": shots_for_precision(pub.precision),
            "target_precision": pub.precision,
            "circuit_metadata": dict(pub.circuit.metadata or {}),
            "resilience": {},
            "num_randomizations": 1,  # no twirling here: each circuit runs as written
        })
        data = pub_result.data
        # IBM's estimator data also carries the ensemble's standard error (over twirling
        # randomizations); with one randomization it is the standard error itself.
        pub_results.append(PubResult(
            DataBin(evs=data.evs, stds=data.stds, ensemble_standard_error=data.stds.copy(),
                    shape=data.shape), metadata=pub_result.metadata))
    record.result = type(result)(pub_results, metadata=metadata)


def _execution_spans(start: datetime, stop: datetime,
                     slices: dict[int, tuple[Any, ...]]) -> Any:
    """IBM's ``ExecutionSpans`` when qiskit-ibm-runtime is installed, else plain dicts: one
    ``DoubleSliceSpan`` (sampler: shape, parameter-set slice, shot slice) or ``SliceSpan``."""
    try:
        from qiskit_ibm_runtime.execution_span import DoubleSliceSpan, ExecutionSpans, SliceSpan
    except ImportError:
        return [{"start": start, "stop": stop, "pubs": sorted(slices)}]
    double = any(len(value) == 3 for value in slices.values())
    span = DoubleSliceSpan(start, stop, slices) if double else SliceSpan(start, stop, slices)
    return ExecutionSpans([span])


def _decode(result: Any, decoder: Any) -> Any:
    """IBM's decoding: the result as the service's JSON, through each applicable decoder."""
    steps = list(decoder) if isinstance(decoder, list | tuple) else [decoder]
    for step in steps:
        if not callable(getattr(step, "decode", None)):
            raise IBMInputValueError(
                f"decoder {step!r} has no decode() method; give a ResultDecoder subclass or "
                "a list of them")
    try:
        from qiskit_ibm_runtime.json import RuntimeEncoder
    except ImportError as err:
        raise IBMInputValueError(
            "result(decoder=...) decodes the service's JSON with qiskit-ibm-runtime's "
            "encoder: pip install 'qsession[ibm]'") from err
    raw: Any = json.dumps(result, cls=RuntimeEncoder)
    for step in steps:
        applicable = getattr(step, "is_applicable", None)
        if applicable is None or applicable(raw):
            raw = step.decode(raw)
    return raw


@functools.cache
def _qiskit_version() -> str:
    """The versions string IBM's metrics carry, e.g. ``qiskit-2.3.0,qiskit_aer-0.17.2``."""
    parts = []
    for dist in ("qsession", "qiskit", "qiskit_aer", "qiskit_ibm_runtime"):
        try:
            parts.append(f"{dist}-{importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return ",".join(parts)

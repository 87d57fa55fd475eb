"""A client program for the crash test, written for IBM Quantum (no qsession): it keeps going
while the server behind it is killed and restarted.

``python crash_worker.py MODE SEED N LOG``: MODE ``session`` (N jobs in one Session, one
after another), ``batch`` (N jobs in a Batch, submitted at once), ``jobs`` (N job-mode
jobs, some cancelled at once) or ``mixed`` (a Session, a Batch and job mode in turn,
cancelling some). Appends one JSON line to LOG as each fact becomes known, flushed at
once: ``{"received": id}`` when ``run()`` returned a job id, ``{"read": id, "counts": ...}``
when a result was read, ``{"final": id, "status": s}`` at the end. A call that meets a
server that is down (connection refused or reset, a 5xx after the client's own retries)
is made again until the server answers; anything else ends the program with an error.
"""

from __future__ import annotations

import contextlib
import json
import random
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import Batch, QiskitRuntimeService, SamplerV2, Session
from qiskit_ibm_runtime.api.exceptions import RequestsApiError
from qiskit_ibm_runtime.exceptions import RuntimeInvalidStateError, RuntimeJobFailureError

T = TypeVar("T")
SIGNS_OF_A_DOWN_SERVER = ("Connection aborted", "Connection refused", "RemoteDisconnected",
                          "Max retries exceeded", "Connection reset", "ConnectionError")
PATIENCE_S = 90.0
"""How long a call keeps trying while the server is down (restarts take a few seconds)."""


def down(err: BaseException) -> bool:
    """Whether ``err`` means the server was not there (killed, restarting), not a refusal."""
    if isinstance(err, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return True
    if isinstance(err, RequestsApiError):
        code = getattr(err, "status_code", -1)  # -1: no answer at all
        return code is None or code < 0 or code >= 500
    cause = err.__cause__ or err.__context__
    if cause is not None and down(cause):
        return True
    # The client re-raises some of these as IBMRuntimeError "from None": only the text tells.
    return any(sign in str(err) for sign in SIGNS_OF_A_DOWN_SERVER)


def again(call: Callable[[], T]) -> T:
    """``call()``, made again while the server is down."""
    deadline = time.monotonic() + PATIENCE_S
    while True:
        try:
            return call()
        except Exception as err:
            if not down(err) or time.monotonic() > deadline:
                raise
            print(f"server down ({type(err).__name__}); trying again", file=sys.stderr)
            time.sleep(0.2)


class Log:
    """The facts this client learned, one JSON line each, on disk at once."""

    def __init__(self, path: str) -> None:
        self.fh = open(path, "a", encoding="utf-8")  # noqa: SIM115

    def __call__(self, **fact: Any) -> None:
        self.fh.write(json.dumps(fact) + "\n")
        self.fh.flush()


def main() -> None:
    mode, seed, count, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    rng = random.Random(seed)
    log = Log(path)
    service = again(QiskitRuntimeService)
    backend = again(lambda: service.backend("ibm_brisbane"))
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    isa = generate_preset_pass_manager(optimization_level=1, backend=backend,
                                       seed_transpiler=seed).run(bell)
    jobs: list[Any] = []

    def submit(sampler: SamplerV2) -> Any:
        time.sleep(rng.uniform(0.0, 0.3))  # a little classical work between jobs
        job = again(lambda: sampler.run([isa], shots=rng.choice([10, 20, 40])))
        log(received=job.job_id())
        jobs.append(job)
        return job

    def maybe_cancel(job: Any) -> None:
        if rng.random() < 0.25:
            with contextlib.suppress(RuntimeInvalidStateError):  # it ended first
                again(job.cancel)

    if mode == "session":
        session = again(lambda: Session(backend=backend))
        sampler = SamplerV2(mode=session)
        for _ in range(count):
            finish(submit(sampler), log)
        again(session.close)
    elif mode == "batch":
        batch = again(lambda: Batch(backend=backend))
        sampler = SamplerV2(mode=batch)
        for _ in range(count):
            submit(sampler)
        again(batch.close)
    elif mode == "jobs":
        sampler = SamplerV2(mode=backend)
        for _ in range(count):
            maybe_cancel(submit(sampler))
    else:
        session = again(lambda: Session(backend=backend))
        batch = again(lambda: Batch(backend=backend))
        samplers = [SamplerV2(mode=session), SamplerV2(mode=batch), SamplerV2(mode=backend)]
        for i in range(count):
            job = submit(samplers[i % 3])
            maybe_cancel(job)
            if i % 4 == 3:
                finish(job, log)
        again(session.close)
        again(batch.close)
    for job in jobs:
        finish(job, log)


FINISHED: set[str] = set()


def finish(job: Any, log: Log) -> None:
    """Wait for the job's end (through restarts); read its result if it has one (once)."""
    if job.job_id() in FINISHED:
        return
    FINISHED.add(job.job_id())
    again(lambda: job.wait_for_final_state(timeout=PATIENCE_S))
    status = again(job.status)
    if status == "DONE":
        result = again(job.result)
        log(read=job.job_id(), counts=result[0].data.meas.get_counts())
    elif status == "ERROR":
        try:
            again(job.result)
        except RuntimeJobFailureError as err:  # the reason it failed
            log(failed=job.job_id(), reason=str(err)[:300])
    log(final=job.job_id(), status=str(status))


if __name__ == "__main__":
    main()

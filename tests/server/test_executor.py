"""IBM's executor primitives through the real client (0.51) over HTTP: program ``executor``.

The same programs as tests/runtime/test_executor_primitives.py (written once in
tests/helpers/executor_programs.py), with ``qiskit_ibm_runtime``'s own
``executor_sampler.Sampler``, ``executor_estimator.Estimator``, ``Executor`` and
``QuantumProgram``: the client prepares and encodes the program and decodes the result;
the server decodes, schedules, times and runs it. Virtual clock, moved through the
server's ``/qsession/v1`` control routes, so every timestamp is exact.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import runpy
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers.executor_programs import (
    api_of,
    bell,
    duration,
    expiry_and_cancel,
    hand_built_program,
    isa,
    primitives_in,
    times,
)
from helpers.server import control
from qiskit_ibm_runtime import QuantumProgram
from qiskit_ibm_runtime.exceptions import (
    IBMRuntimeError,
    RuntimeInvalidStateError,
    RuntimeJobFailureError,
    RuntimeJobMaxTimeoutError,
)
from qiskit_ibm_runtime.results import QuantumProgramResult

from qsession.server import Connection
from qsession.server.launch import ENV_KEYS

API = api_of("qiskit_ibm_runtime")
ROOT = Path(__file__).resolve().parents[2]


def settle(conn: Connection) -> None:
    control(conn, "run-until-idle", {})


@pytest.mark.parametrize("twirl", [False, True], ids=["plain", "twirled"])
@pytest.mark.parametrize("mode", ["session", "batch", "job"])
def test_sampler_and_estimator_in_each_mode(conn: Connection, mode: str, twirl: bool) -> None:
    backend = conn.service.backend("ibm_brisbane")
    out = primitives_in(API, backend, lambda: settle(conn), mode, twirl)
    sampled, estimated = out["jobs"]
    assert set(out["counts"]) == {"00", "11"}  # noiseless copy of the backend
    assert sum(out["counts"].values()) == (128 if twirl else 100)
    assert out["evs"] == pytest.approx(1.0, abs=1e-9)
    for job in (sampled, estimated):
        assert job.primitive_id == "executor" and job.status() == "DONE"
    d1, d2 = duration(sampled), duration(estimated)
    assert times(sampled) == (0.0, 0.0, d1)
    assert times(estimated) == (0.0, d1, round(d1 + d2, 6))
    # The client decoded the chunk timing the server wrote: the job's QPU span.
    spans = out["sampler_metadata"]["executor"].chunk_timing
    assert [times_of(s) for s in spans] == [(0.0, d1)]
    # The announced duration is the server QPU's timing model over the program it
    # decoded: one sub-job per item, one execution of `shots` shots per item element
    # (randomizations × parameter sets).
    qpu = conn.server.emulator.backends["ibm_brisbane"].qpu
    program = conn.server.emulator.service.job(sampled.job_id()).inputs["quantum_program"]
    expected_us = sum(qpu.timing.job_microseconds(
        [(qpu.timing.circuit_seconds(item.circuit, qpu.target), program.shots)]
        * math.prod(item.shape)) for item in program.items)
    assert d1 == expected_us / 1e6
    assert math.prod(program.items[0].shape) == (2 if twirl else 1)
    expected = None if mode == "job" else out["holder"].session_id
    assert sampled.session_id == estimated.session_id == expected
    if mode != "job":
        details = out["holder"].details()
        assert details["mode"] == ("dedicated" if mode == "session" else "batch")
        assert details["state"] == "closed"


def times_of(span: object) -> tuple[float | None, float | None]:
    from helpers.executor_programs import seconds

    return seconds(span.start), seconds(span.stop)  # type: ignore[attr-defined]


def test_executor_runs_a_hand_built_program(conn: Connection) -> None:
    backend = conn.service.backend("ibm_brisbane")
    out = hand_built_program(API, backend, lambda: settle(conn))
    job, result = out["job"], out["result"]
    assert isinstance(result, QuantumProgramResult)
    rotation = result[0]["meas"]
    assert rotation.shape == (2, 40, 1)
    assert not rotation[0].any() and rotation[1].all()
    pair = result[1]["meas"]
    assert pair.shape == (40, 2) and (pair[:, 0] == pair[:, 1]).all()
    spans = result.metadata.chunk_timing
    assert [(p.idx_item, p.size) for s in spans for p in s.parts] == [(0, 2), (1, 1)]
    assert times_of(spans[0])[0] == 0.0 and times_of(spans[1])[1] == duration(job)
    assert times_of(spans[0])[1] == times_of(spans[1])[0]
    assert job.tags == ["hand-built"]
    found = conn.service.jobs(job_tags=["hand-built"], program_id="executor")
    assert [j.job_id() for j in found] == [job.job_id()]
    again = conn.service.job(job.job_id()).result()  # retrieved: the client decodes again
    assert np.array_equal(again[1]["meas"], pair)


def test_queued_executor_jobs_expire_at_max_ttl_and_cancel_at_once(conn: Connection) -> None:
    backend = conn.service.backend("ibm_brisbane")
    out = expiry_and_cancel(API, backend,
                            lambda s: control(conn, "advance", {"seconds": s}))
    long, queued, cancelled = out["long"], out["queued"], out["cancelled"]
    d = duration(long)
    assert d > 2.0
    assert cancelled.status() == "CANCELLED" and times(cancelled) == (0.0, None, 0.5)
    assert queued.status() == "ERROR" and times(queued) == (0.0, None, 2.0)
    assert long.status() == "DONE" and times(long) == (0.0, 0.0, d)
    with pytest.raises(RuntimeJobFailureError, match="max time"):
        queued.result()
    with pytest.raises(RuntimeInvalidStateError, match="cancelled"):
        cancelled.result()
    assert out["session"].details()["state"] == "closed"


def test_max_execution_time_stops_an_executor_job_with_reason_1305(conn: Connection) -> None:
    backend = conn.service.backend("ibm_brisbane")
    program = QuantumProgram(shots=10_000)
    program.append_circuit_item(isa(backend, bell()))
    executor = API.Executor(backend)
    executor.options.max_execution_time = 1  # sent as the job's cost
    job = executor.run(program)
    assert duration(job) > 1
    settle(conn)
    assert times(job) == (0.0, 0.0, 1.0)
    with pytest.raises(RuntimeJobMaxTimeoutError):
        job.result()


def test_a_non_isa_program_is_refused_with_ibms_message(conn: Connection) -> None:
    backend = conn.service.backend("ibm_brisbane")
    program = QuantumProgram(shots=10)
    program.append_circuit_item(bell())  # h is not an instruction of ibm_brisbane
    # The client turns the 400 into IBMRuntimeError("Failed to run program: 400 ...").
    with pytest.raises(IBMRuntimeError, match="400 Client Error") as err:
        API.Executor(backend).run(program)
    assert "quantum program item 0: The instruction h on qubits (0,)" in str(err.value)
    circuit = isa(backend, bell())
    assert API.Sampler(mode=backend).run([circuit], shots=5).status() in ("RUNNING", "QUEUED")


PORTED = sorted((ROOT / "examples" / "ibm").glob("executor_*.py"))


def same_ids(text: str) -> str:
    """``text`` with each id replaced by its rank of first appearance (id1, id2, ...)."""
    seen: dict[str, str] = {}
    pattern = r"\b(?:[sj]\d+|[0-9a-hjkmnp-tv-z]{19}[0g])\b"
    return re.sub(pattern, lambda m: seen.setdefault(m.group(0), f"id{len(seen) + 1}"), text)


@pytest.mark.parametrize("example", PORTED, ids=lambda p: p.stem)
def test_executor_examples_print_the_same_in_both_doors(example: Path, tmp_path: Path) -> None:
    """The port back to IBM's package name runs under ``qsession run`` (HTTP, the real
    client) and prints what the ported program prints in process."""
    assert len(PORTED) >= 2
    source = example.read_text()
    assert "from qsession.runtime" in source
    unported = tmp_path / example.name
    unported.write_text(source.replace("qsession.runtime", "qiskit_ibm_runtime"))
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env["HOME"] = str(tmp_path)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "qsession"), "run", "--no-noise", "--seed", "3",
         "--", sys.executable, str(unported)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "0 server fault(s)" in done.stderr and "jobs: " in done.stderr
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        runpy.run_path(str(example), run_name="__main__")
    # The same output but for the ids: IBM's shape over HTTP, s1/j2 in process.
    assert same_ids(done.stdout) == same_ids(out.getvalue())
    # The run's trace (executor jobs included) keeps every invariant.
    check = subprocess.run(
        [str(Path(sys.executable).parent / "qsession"), "check",
         str(tmp_path / "qsession-out" / "trace.jsonl"), "--settled"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert check.returncode == 0, check.stdout

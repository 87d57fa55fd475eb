"""What each qiskit-ibm-runtime release from 0.41 to 0.51 sends to ``POST /jobs`` runs here.

``tests/data/clients/qiskit-ibm-runtime-*.json`` were recorded by
``tests/data/clients/record.py``: each release, installed in a virtualenv of its own (its
Qiskit of the time beside it), ran ``tests/data/clients/programs.py`` under ``qsession run``
and read back and checked every result itself (job, session and batch modes, IBM's session
guide pubs, option groups, and from 0.46 the executor); the recording holds every
``POST /jobs`` and ``POST /sessions`` body as the release put it on the wire. Here each
body is posted again as recorded: every job must run to completion, with its result in
the form that release reads (the client's encoded primitive results; executor results in
the schema version its params named).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from helpers.rest import Rest
from helpers.server import start

from qsession.server import Connection

DATA = Path(__file__).resolve().parents[1] / "data" / "clients"
RECORDINGS = sorted(DATA.glob("qiskit-ibm-runtime-*.json"),
                    key=lambda p: tuple(int(x) for x in p.stem.rsplit("-", 1)[1].split(".")))


@pytest.fixture(scope="module")
def rest() -> Iterator[Rest]:
    conn: Connection = start(clock="fast", backends=("ibm_brisbane",))
    try:
        yield Rest(conn)
    finally:
        conn.close()


def test_the_recordings_span_the_releases_that_speak_the_platform_api() -> None:
    versions = [json.loads(p.read_text())["client"] for p in RECORDINGS]
    assert versions[-1] == "0.51.0"
    assert versions[0] == "0.41.0"  # the first release on IBM Quantum Platform's API
    assert {"0.46.1", "0.47.0", "0.48.0", "0.49.0"} <= set(versions)  # each executor schema


@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda p: p.stem.rsplit("-", 1)[1])
def test_every_request_a_release_sent_is_accepted_and_runs(rest: Rest, recording: Path) -> None:
    from qiskit_ibm_runtime import RuntimeDecoder
    from qiskit_ibm_runtime.decoders.executor.decoder import ExecutorResultDecoder

    data = json.loads(recording.read_text())
    session: str | None = None
    jobs = []
    for item in data["requests"]:
        body = copy.deepcopy(item["body"])
        if item["path"] == "sessions":
            response = requests.post(f"{rest.base}/api/v1/sessions", headers=rest.headers(),
                                     json=body, timeout=60)
            assert response.status_code == 200, response.text
            session = response.json()["id"]
            continue
        if body.get("session_id") == "{session}":
            body["session_id"] = session
        jobs.append((body, rest.submit(body)))
    programs = [body["program_id"] for body, _ in jobs]
    assert programs.count("sampler") == 3 and programs.count("estimator") == 2
    for body, job_id in jobs:
        assert rest.wait(job_id) == {"status": "Completed"}, body["program_id"]
        text = requests.get(f"{rest.base}/api/v1/jobs/{job_id}/results",
                            headers=rest.headers(), timeout=60).text
        params = body["params"]
        if body["program_id"] == "executor":
            assert json.loads(text)["schema_version"] == params["schema_version"]
            result = ExecutorResultDecoder.decode(text)
            assert len(result) == len(params["quantum_program"]["items"])
        else:
            assert params["support_qiskit"] is True
            result = json.loads(text, cls=RuntimeDecoder)
            assert len(result) == len(params["pubs"])

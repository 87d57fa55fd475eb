"""docs/rest-api.md holds: every endpoint has a row naming real tests, and its curl lines work."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from helpers.server import start

from qsession.server.app import openapi_document

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "rest-api.md").read_text(encoding="utf-8")
ELSEWHERE = {("GET", "/jobs/{id}/results")}
"""Described with IBM's REST guides' requests (results and request forms)."""


def _rows() -> dict[tuple[str, str], list[str]]:
    rows: dict[tuple[str, str], list[str]] = {}
    for line in DOC.splitlines():
        match = re.match(r"\| `(GET|POST|PUT|PATCH|DELETE) (/[^`]*)` \|.*\| (`test_.*) \|$", line)
        if match:
            tests = re.findall(r"`(test_\w+)`", match.group(3))
            rows[(match.group(1), match.group(2))] = tests
    return rows


def test_every_endpoint_has_a_row_and_every_row_names_real_tests() -> None:
    rows = _rows()
    document = openapi_document()
    served = {(method.upper(), re.sub(r"\{\w+\}", "{id}", path.removeprefix("/api/v1")))
              for path, operations in document["paths"].items() if path.startswith("/api/v1/")
              for method in operations}
    assert served - ELSEWHERE == set(rows), "docs/rest-api.md's table and the served routes differ"
    sources = "\n".join(p.read_text(encoding="utf-8")
                        for p in (ROOT / "tests" / "server").glob("test_*.py"))
    for endpoint, tests in rows.items():
        assert tests, endpoint
        for name in tests:
            assert f"def {name}(" in sources, f"{endpoint}: no test named {name}"


def test_the_curl_lines_work_against_a_server() -> None:
    # As a reader follows the page: `qsession serve --clock virtual` (its backends, a control
    # token in QSESSION_CONTROL_TOKEN, as its export lines give), then the lines in order,
    # the first of which submits the job the others look at.
    blocks = re.findall(r"```sh[^\n]*\n(.*?)```", DOC, flags=re.S)
    serve, setup, lines = blocks[0], blocks[1], blocks[2]
    assert "--clock virtual" in serve and setup.startswith("QS=")
    assert lines.startswith("JOB=") and lines.count("curl ") >= 30
    token = "curl-lines-control-token"
    connection = start(backends=("ibm_brisbane", "qsession_ideal"), control_token=token)
    try:
        port = connection.server.url.rsplit(":", 1)[1]
        script = "set -euo pipefail\n" + (setup + lines).replace("8290", port)
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                              timeout=300, check=False,
                              env={**os.environ, "QSESSION_CONTROL_TOKEN": token})
        assert done.returncode == 0, done.stderr + done.stdout
        assert '"samples"' in done.stdout  # the job's plain-JSON result
        assert '"versions"' in done.stdout and '"devices"' in done.stdout
        assert '"workloads"' in done.stdout and "409: the job is final" in done.stdout
        (job,) = connection.server.emulator.all_jobs()
        assert job.deleted and job.state == "DONE" and list(job.tags) == ["sweep", "run-1"]
        assert connection.server.emulator.faults == 0
    finally:
        connection.close()

"""A plain HTTP caller of the server, as IBM's REST guides call IBM: ``requests`` and JSON."""

from __future__ import annotations

import json
import time
from typing import Any

import requests
from qiskit import QuantumCircuit, qasm3
from qiskit.transpiler import generate_preset_pass_manager

from qsession.server import Connection

FINAL = ("Completed", "Failed", "Cancelled")


def typed(value: Any) -> Any:
    """``value`` as the Python client puts it on the wire (``RuntimeEncoder`` JSON)."""
    from qiskit_ibm_runtime import RuntimeEncoder

    return json.loads(json.dumps(value, cls=RuntimeEncoder))


class Rest:
    """A caller with a bearer token from the server's IAM and its instance's CRN."""

    def __init__(self, conn: Connection) -> None:
        env = conn.server.env()
        self.conn = conn
        self.base = conn.server.url
        self.api_key = env["QISKIT_IBM_TOKEN"]
        self.iam = f"{env['IAM_URL']}/identity/token"
        response = requests.post(self.iam, data={
            "grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": self.api_key},
            timeout=60)
        self.token = str(response.json()["access_token"])
        self.crn = env["QISKIT_IBM_INSTANCE"]

    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}",
                "Service-CRN": self.crn}

    def isa_qasm(self, circuit: QuantumCircuit, backend: str) -> str:
        """``circuit`` transpiled for ``backend`` (its target read through the real client),
        as OpenQASM 3."""
        return str(qasm3.dumps(self.isa(circuit, backend)))

    def isa(self, circuit: QuantumCircuit, backend: str) -> QuantumCircuit:
        target = self.conn.service.backend(backend)
        pm = generate_preset_pass_manager(optimization_level=1, backend=target,
                                          seed_transpiler=1)
        return pm.run(circuit)

    def post(self, body: dict[str, Any]) -> requests.Response:
        return requests.post(f"{self.base}/api/v1/jobs", headers=self.headers(), json=body,
                             timeout=120)

    def submit(self, body: dict[str, Any]) -> str:
        """POST /jobs (200 expected): the job id."""
        response = self.post(body)
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    def state(self, job_id: str) -> dict[str, Any]:
        response = requests.get(f"{self.base}/api/v1/jobs/{job_id}", headers=self.headers(),
                                timeout=120)
        assert response.status_code == 200, response.text
        return dict(response.json()["state"])

    def wait(self, job_id: str, limit: float = 120) -> dict[str, Any]:
        """Poll the job until it is final (each poll of an unfinished job waits on it)."""
        deadline = time.monotonic() + limit
        while True:
            state = self.state(job_id)
            if state["status"] in FINAL:
                return state
            assert time.monotonic() < deadline, f"job {job_id} is still {state}"

    def results(self, job_id: str) -> Any:
        """The results of a final job (plain JSON unless it asked for support_qiskit)."""
        response = requests.get(f"{self.base}/api/v1/jobs/{job_id}/results",
                                headers=self.headers(), timeout=120)
        assert response.status_code == 200, response.text
        return response.json()

    def run(self, body: dict[str, Any]) -> Any:
        """Submit, wait, read the results."""
        job_id = self.submit(body)
        assert self.wait(job_id) == {"status": "Completed"}
        return self.results(job_id)

    def refused(self, body: dict[str, Any]) -> str:
        """POST a body the server must refuse with a 400: its message."""
        response = self.post(body)
        assert response.status_code == 400, response.text
        return str(response.json()["errors"][0]["message"])

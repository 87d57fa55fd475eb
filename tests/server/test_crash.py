"""The platform survives SIGKILL: four client processes with the real client while the server
is killed at random points and restarted on the same state folder (docs/server.md,
"Persistence and recovery").

Afterwards every job id a client received exists and ended exactly once, every result a
client read reads back identical, no id was given twice, and ``qsession check`` passes
over the whole trace, restarts included. The kill points are drawn from a fixed seed, so
a failure can be run again; how far the clients got at each kill varies with the load.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from qiskit_ibm_runtime import QiskitRuntimeService

from qsession.runtime import Trace
from qsession.runtime.engine.ids import IBM_ID
from qsession.server.launch import ENV_KEYS, environment

QSESSION = str(Path(sys.executable).parent / "qsession")
WORKER = str(Path(__file__).resolve().parents[1] / "helpers" / "crash_worker.py")
KILLS = 3
PLAN = [("session", 8), ("batch", 10), ("jobs", 10), ("mixed", 12)]
FINAL = ("DONE", "ERROR", "CANCELLED")
FINAL_EVENTS = {"finish", "fail", "expire", "cancel"}
TOKEN = "crash-test-control-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """``qsession serve --state DIR`` in a process of its own, on a fixed port."""

    def __init__(self, state: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [QSESSION, "serve", "--state", str(state), "--clock", "fast", "--no-noise",
             "--seed", "5", "--backends", "ibm_brisbane", "--port", str(port),
             "--control-token", TOKEN],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={k: v for k, v in os.environ.items() if k not in ENV_KEYS})
        self.env: dict[str, str] = {}
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # the export lines, printed once it listens
            key, _, value = line.removeprefix("export ").strip().partition("=")
            self.env[key] = value.strip("'")
            if key == "QSESSION_CONTROL_TOKEN":
                break
        assert "QISKIT_IBM_URL" in self.env, self.proc.stderr.read() if self.proc.stderr \
            else "no output"

    def control(self, route: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}/qsession/v1/{route}", method="GET" if body is None else "POST",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def facts(logs: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(line) for log in logs if log.exists()
            for line in log.read_text().splitlines() if line.strip()]


def test_clients_lose_nothing_when_the_server_is_killed_three_times(tmp_path: Path) -> None:
    state, port, rng = tmp_path / "state", free_port(), random.Random(24)
    served = Served(state, port)
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, **served.env, "HOME": str(home)}
    logs = [tmp_path / f"client{i}.jsonl" for i in range(len(PLAN))]
    clients = [subprocess.Popen([sys.executable, WORKER, mode, str(i), str(n), str(log)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
               for i, ((mode, n), log) in enumerate(zip(PLAN, logs, strict=True))]
    in_flight_at_kill = []
    try:
        # The clients import qiskit first (a few seconds); then kill at random points.
        deadline = time.monotonic() + 60
        while not any(f.get("received") for f in facts(logs)):
            assert time.monotonic() < deadline, "no client got a job id"
            time.sleep(0.1)
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.1, 1.5))
            # Kill while jobs are in flight (queued, or a QPU busy), if any come within a
            # few seconds: how far the clients got depends on the load (on a quiet machine
            # they can be done in seconds), and a kill of an idle platform tests less.
            waited = time.monotonic() + 5
            while True:
                before = served.control("state")
                assert before["faults"] == 0
                in_flight = sum(s["queued"] + (not s["idle"])
                                for s in before["backends"].values())
                if in_flight or time.monotonic() > waited:
                    break
                time.sleep(0.02)
            in_flight_at_kill.append(in_flight)
            served.kill()
            started = time.monotonic()
            served = Served(state, port)  # the same folder, the same port
            print(f"restarted in {time.monotonic() - started:.1f} s", file=sys.stderr)
        outputs = [c.communicate(timeout=300) for c in clients]
        for client, (_out, err) in zip(clients, outputs, strict=True):
            assert client.returncode == 0, err[-3000:]
        served.control("run-until-idle", {})
        final_state = served.control("state")
        assert final_state["restarts"] == KILLS and final_state["faults"] == 0

        known = facts(logs)
        received = [f["received"] for f in known if "received" in f]
        assert len(received) == sum(n for _, n in PLAN)
        # No id was given twice, across clients and restarts; each is IBM-shaped.
        assert len(set(received)) == len(received)
        assert all(IBM_ID.fullmatch(job_id) for job_id in received)

        trace = Trace.read(state / "trace.jsonl")
        created = Counter(r.id for r in trace if r.event == "create")
        assert all(n == 1 for n in created.values())
        ends = Counter(r.id for r in trace if r.entity == "job" and r.event in FINAL_EVENTS)
        # Every job a client received exists and ended exactly once.
        assert {job_id: ends[job_id] for job_id in received} == dict.fromkeys(received, 1)
        assert set(ends) == {r.id for r in trace if r.entity == "job" and r.event == "create"}
        restarts = [r for r in trace if r.event == "restart"]
        assert [r.data["restarts"] for r in restarts] == list(range(1, KILLS + 1))

        with environment(served.env):
            service = QiskitRuntimeService()
            for job_id in received:
                assert service.job(job_id).status() in FINAL
            # Every result a client read reads back identical (before and after restarts).
            for fact in known:
                if "read" in fact:
                    counts = service.job(fact["read"]).result()[0].data.meas.get_counts()
                    assert counts == fact["counts"], fact["read"]
            for fact in known:
                if "final" in fact:
                    assert service.job(fact["final"]).status() == fact["status"]
        failed = [f for f in known if "failed" in f]
        assert all("5203" in f["reason"] for f in failed if "platform stopped" in f["reason"])

        check = subprocess.run([QSESSION, "check", str(state / "trace.jsonl"), "--settled"],
                               capture_output=True, text=True, timeout=300, check=False)
        assert check.returncode == 0, check.stdout[-5000:]
        # The kills met work in flight at least once, as the campaign means to.
        assert any(in_flight_at_kill), in_flight_at_kill
        print(f"crash test: {len(received)} jobs, {KILLS} kills with {in_flight_at_kill} "
              f"in flight, {sum(1 for f in known if 'read' in f)} results read, "
              f"{len(failed)} failed ({sum('5203' in f['reason'] for f in failed)} by a "
              f"restart), {len(trace)} records")
    finally:
        for client in clients:
            if client.poll() is None:
                client.kill()
                client.wait(timeout=30)
            for stream in (client.stdout, client.stderr):
                if stream is not None:
                    stream.close()
        served.stop()

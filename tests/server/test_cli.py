"""Milestone 4: ``qsession run -- COMMAND`` and ``qsession serve`` from the shell.

The programs in examples/ibm/ are written for IBM Quantum (bare ``QiskitRuntimeService()``,
``least_busy``, ``Session``/``Batch``, option groups, tags) and run here unchanged.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.server import isa_bell
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2

from qsession.runtime import Trace
from qsession.server.launch import ENV_KEYS, environment

ROOT = Path(__file__).resolve().parents[2]
QSESSION = str(Path(sys.executable).parent / "qsession")
EXAMPLES = sorted((ROOT / "examples" / "ibm").glob("*.py"))


def qsession(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the qsession command (a fresh HOME: no saved IBM account can interfere)."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env["HOME"] = str(cwd)
    return subprocess.run([QSESSION, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_ibm_examples_run_unchanged_under_qsession_run(example: Path, tmp_path: Path) -> None:
    done = qsession("run", "--no-noise", "--seed", "3", "--", sys.executable, str(example),
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "qsession-out"
    for name in ("trace.jsonl", "trace.perfetto.json", "timeline.png", "timeline.svg"):
        assert (out / name).is_file(), name
    assert "qsession: 1 session(s) and batch(es)" in done.stderr
    assert "0 server fault(s)" in done.stderr
    if example.name == "session_sampler.py":
        assert done.stdout.count("step ") == 3 and "after close: Closed" in done.stdout
        assert "qsession: jobs: 3 DONE" in done.stderr
    else:
        assert "5 jobs tagged 'sweep'" in done.stdout and "batch s1: closed" in done.stdout
        assert "qsession: jobs: 5 DONE" in done.stderr
    check = qsession("check", str(out / "trace.jsonl"), "--settled", cwd=tmp_path)
    assert check.returncode == 0, check.stdout


def test_run_exits_with_the_commands_status(tmp_path: Path) -> None:
    program = ("import os, sys; assert os.environ['QISKIT_IBM_URL'].endswith("
               "'/experimental/api/v1'); sys.exit(3)")
    done = qsession("run", "--no-noise", "-o", "out", "--", sys.executable, "-c", program,
                    cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert "qsession: jobs: none" in done.stderr
    assert Trace.read(tmp_path / "out" / "trace.jsonl").meta["server_clock"] == "fast"


def test_run_names_a_missing_command(tmp_path: Path) -> None:
    done = qsession("run", "--no-noise", "--", "no-such-program-here", cwd=tmp_path)
    assert done.returncode == 127 and "cannot run 'no-such-program-here'" in done.stderr


def test_serve_prints_the_clients_environment_and_serves(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    trace = tmp_path / "served.jsonl"
    proc = subprocess.Popen([QSESSION, "serve", "--clock", "virtual", "--no-noise",
                             "--trace", str(trace)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        exports: dict[str, str] = {}
        while len(exports) < len(ENV_KEYS):
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "serve ended"
            assert line.startswith("export ")
            key, _, value = line[len("export "):].strip().partition("=")
            exports[key] = value.strip("'")
        assert set(exports) == set(ENV_KEYS)
        assert exports["QISKIT_IBM_URL"].startswith("http://127.0.0.1:")
        with environment(exports):
            service = QiskitRuntimeService()
            backend = service.backend("ibm_brisbane")
            job = SamplerV2(mode=backend).run([isa_bell(backend)], shots=10)
            assert job.status() == "RUNNING"  # virtual: nothing moves until told
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    records = Trace.read(trace)
    assert [r.event for r in records.of("job")] == ["create", "start"]


def test_the_readme_leads_with_qsession_run_of_an_example_run_above() -> None:
    readme = (ROOT / "README.md").read_text()
    command = "qsession run -- python examples/ibm/session_sampler.py"
    assert command in readme
    first_block = readme.split("```sh\n")[2].split("```")[0].strip()  # after make demo/test
    assert first_block == command
    assert (ROOT / "examples" / "ibm" / "session_sampler.py") in EXAMPLES

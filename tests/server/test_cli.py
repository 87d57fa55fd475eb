"""Milestone 4: ``qsession run -- COMMAND`` and ``qsession serve`` from the shell.

The programs in examples/unchanged/ are written for IBM Quantum (bare ``QiskitRuntimeService()``,
``least_busy``, ``Session``/``Batch``, option groups, tags) and run here unchanged.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from helpers.faults import assert_no_server_faults
from helpers.server import isa_bell
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2

from qsession.runtime import Trace
from qsession.server.launch import ENV_KEYS, environment

ROOT = Path(__file__).resolve().parents[2]
QSESSION = str(Path(sys.executable).parent / "qsession")
EXAMPLES = sorted((ROOT / "examples" / "unchanged").glob("*.py"))


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
    assert_no_server_faults(done.stderr)
    if example.name == "session_sampler.py":
        assert "qsession: 1 session(s) and batch(es)" in done.stderr
        assert done.stdout.count("step ") == 3 and "after close: Closed" in done.stdout
        assert "qsession: jobs: 3 DONE" in done.stderr
    elif example.name == "session_guide.py":
        # IBM's "Run jobs in a session", all of it: seven sessions; an estimator pub with
        # observables shaped (3, 1) broadcast against parameters shaped (3, 2); a sampler
        # pub measured on all 127 qubits; two VQE loops (their length varies with the
        # unseeded starting point), one in two threads.
        assert "qsession: 7 session(s) and batch(es)" in done.stderr
        assert ("Result1: PrimitiveResult([PubResult(data=DataBin(evs=np.ndarray(<shape=(3, 2)"
                in done.stdout)
        assert "meas0=BitArray(<shape=(3, 2), num_shots=4096, num_bits=127>)" in done.stdout
        assert "'mode': 'dedicated'" in done.stdout
        assert re.search(r"qsession: jobs: \d+ DONE\n", done.stderr), done.stderr[-600:]
    else:
        assert "qsession: 1 session(s) and batch(es)" in done.stderr
        # Over HTTP ids are shaped as IBM's (20 characters), not s1.
        assert "5 jobs tagged 'sweep'" in done.stdout
        assert re.search(r"batch [0-9a-hjkmnp-tv-z]{19}[0g]: closed", done.stdout)
        assert "qsession: jobs: 5 DONE" in done.stderr
    check = qsession("check", str(out / "trace.jsonl"), "--settled", cwd=tmp_path)
    assert check.returncode == 0, check.stdout


def test_run_exits_with_the_commands_status(tmp_path: Path) -> None:
    # Under interception the client keeps IBM's default URLs: the proxy answers them.
    program = ("import os, sys; assert 'QISKIT_IBM_URL' not in os.environ; "
               "assert os.environ['HTTPS_PROXY'].startswith('http://127.0.0.1:'); sys.exit(3)")
    done = qsession("run", "--no-noise", "-o", "out", "--", sys.executable, "-c", program,
                    cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert "qsession: jobs: none" in done.stderr
    assert_no_server_faults(done.stderr)
    assert Trace.read(tmp_path / "out" / "trace.jsonl").meta["server_clock"] == "fast"


def test_run_without_the_plot_extra_ends_with_its_summary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules marks matplotlib as not importable, as if the [plot] extra
    # were not installed; the run still writes the trace and Perfetto file and reports.
    from qsession.server.launch import run_command

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    lines: list[str] = []
    status = run_command([sys.executable, "-c", "raise SystemExit(4)"], out_dir=tmp_path,
                         echo=lines.append, noise=False)
    assert status == 4
    assert any("qsession: jobs: none" in line for line in lines), lines
    assert lines[-2] == (f"qsession: wrote {tmp_path / 'trace.jsonl'}, "
                         f"{tmp_path / 'trace.perfetto.json'}")
    assert lines[-1] == ("qsession: skipped timeline.png, timeline.svg: matplotlib is not "
                         "installed (the plot extra: pip install 'qsession[plot]')")
    assert not (tmp_path / "timeline.png").exists()
    assert Trace.read(tmp_path / "trace.jsonl").meta["server_clock"] == "virtual"


def test_run_names_a_missing_command(tmp_path: Path) -> None:
    done = qsession("run", "--no-noise", "--", "no-such-program-here", cwd=tmp_path)
    assert done.returncode == 127 and "cannot run 'no-such-program-here'" in done.stderr


def test_serve_prints_the_clients_environment_and_serves(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    trace = tmp_path / "served.jsonl"
    proc = subprocess.Popen([QSESSION, "serve", "--clock", "virtual", "--no-noise",
                             "--trace", str(trace)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
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
        key, _, token = proc.stdout.readline()[len("export "):].strip().partition("=")
        assert key == "QSESSION_CONTROL_TOKEN" and len(token) >= 20  # made at random
        base = exports["IAM_URL"]
        with environment(exports):
            service = QiskitRuntimeService()
            backend = service.backend("ibm_brisbane")
            job = SamplerV2(mode=backend).run([isa_bell(backend)], shots=10)
            assert job.status() == "RUNNING"  # virtual: nothing moves until told
        # The control routes and the page need the token; the printed page address has it.
        assert requests.get(base + "/qsession/v1/state", timeout=30).status_code == 401
        state = requests.get(base + "/qsession/v1/state", timeout=30,
                             headers={"Authorization": f"Bearer {token}"})
        assert state.json()["jobs"] == 1
        assert requests.get(base + "/", timeout=30).status_code == 401
        assert proc.stderr is not None
        lines = [proc.stderr.readline(), proc.stderr.readline()]
        assert lines[1].strip() == f"# qsession: the live page: {base}/?token={token}"
        assert requests.get(f"{base}/?token={token}", timeout=30).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert_no_server_faults(err)
    records = Trace.read(trace)
    assert [r.event for r in records.of("job")] == ["create", "start"]


def test_the_readme_leads_with_qsession_run_of_an_installed_example() -> None:
    # The README's first runnable commands copy the examples out of the install and run
    # one (tests/test_markdown_blocks.py runs them, outside the repository).
    readme = (ROOT / "README.md").read_text()
    commands = ("qsession examples --copy my-examples\n"
                "qsession run -- python my-examples/unchanged/session_sampler.py")
    first_runnable = readme.split("```sh\n")[1].split("```")[0].strip()
    assert first_runnable == commands
    assert (ROOT / "examples" / "unchanged" / "session_sampler.py") in EXAMPLES


_RUNNER = """
import json, subprocess, sys
results = {}
for path in sys.argv[1:]:
    done = subprocess.run([sys.executable, path], capture_output=True, text=True)
    results[path] = [done.returncode, done.stdout[-400:], done.stderr[-1500:]]
print(json.dumps(results))
"""


def test_the_ibm_guide_examples_run_with_their_qiskit_ibm_runtime_imports(
        tmp_path: Path) -> None:
    """examples/ibm/ are IBM's guide programs ported by one import (tests/test_ibm_examples.py);
    with that import put back they are IBM's programs, and they run under ``qsession run``
    (one server for all, on the ideal QPU that LocalService() gives them in process)."""
    ported = []
    for example in sorted((ROOT / "examples" / "ibm").glob("*.py")):
        text = example.read_text()
        assert "from qsession.runtime" in text
        target = tmp_path / example.name
        target.write_text(text.replace("qsession.runtime", "qiskit_ibm_runtime"))
        ported.append(str(target))
    runner = tmp_path / "runner.py"
    runner.write_text(_RUNNER)
    done = qsession("run", "--no-noise", "--backends", "qsession_ideal", "--seed", "2", "--",
                    sys.executable, str(runner), *ported, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    failed = {Path(p).name: r[2] for p, r in results.items() if r[0] != 0}
    assert not failed, failed
    assert all(r[1].strip() for r in results.values())  # each printed its results
    assert_no_server_faults(done.stderr)
    check = qsession("check", str(tmp_path / "qsession-out" / "trace.jsonl"), "--settled",
                     cwd=tmp_path)
    assert check.returncode == 0, check.stdout

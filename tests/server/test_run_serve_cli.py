"""``qsession run`` and ``qsession serve`` under signals and mistakes.

``timeout``, CI cancellation and ``kill`` send SIGTERM; a terminal sends SIGINT to the whole
foreground group. Either way the program under ``qsession run`` is signalled first, then
the summary and the outputs are written. Each test says which finding it reproduces.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.faults import assert_no_server_faults

from qsession.insight.metrics import compute
from qsession.runtime import Trace
from qsession.server.launch import ENV_KEYS

QSESSION = str(Path(sys.executable).parent / "qsession")

# A program that opens a session, runs one job in it, says so, then waits to be stopped;
# on SIGTERM or SIGINT it writes a file (proof it was signalled) and exits 3.
_PROGRAM = """
import signal, sys, time, pathlib
mark = pathlib.Path(sys.argv[1])
def stop(signum, frame):
    mark.write_text(signal.Signals(signum).name)
    sys.exit(3)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
import warnings
warnings.simplefilter("ignore")
from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2, Session
service = QiskitRuntimeService()
backend = service.backend("qsession_ideal")
qc = QuantumCircuit(2); qc.h(0); qc.cx(0, 1); qc.measure_all()
isa = generate_preset_pass_manager(optimization_level=1, backend=backend).run(qc)
session = Session(backend=backend)
SamplerV2(mode=session).run([isa], shots=10).result()
print("ready", flush=True)
while True:
    time.sleep(0.1)
"""


def env_for(cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env["HOME"] = str(cwd)
    return env


def start_run(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], Path]:
    """``qsession run`` of the program above; returns once the program printed "ready"."""
    program = tmp_path / "prog.py"
    program.write_text(_PROGRAM)
    mark = tmp_path / "signalled.txt"
    proc = subprocess.Popen([QSESSION, "run", "--no-noise", "--backends", "qsession_ideal",
                             *args, sys.executable, str(program), str(mark)], cwd=tmp_path,
                            env=env_for(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", (line, proc.stderr.read() if proc.stderr else "")
    return proc, mark


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_run_stops_the_program_first_then_reports(tmp_path: Path,
                                                              sig: signal.Signals) -> None:
    """Reproduces: SIGTERM to ``qsession run`` (what ``timeout``, CI cancellation and
    ``kill`` send) killed it at once, wrote no summary, and left the program running,
    orphaned. A SIGINT sent to qsession alone (not the terminal's group) likewise."""
    proc, mark = start_run(tmp_path)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=120)
    assert mark.read_text() == sig.name  # the program was signalled, and exited
    assert proc.returncode == 3, err  # its status is qsession's
    assert "qsession: 1 session(s) and batch(es)" in err
    assert "qsession: jobs: 1 DONE" in err
    assert_no_server_faults(err)
    out = tmp_path / "qsession-out"
    assert (out / "trace.jsonl").is_file() and (out / "trace.perfetto.json").is_file()
    Trace.read(out / "trace.jsonl")  # whole records, readable


def test_a_stopped_run_bills_what_its_trace_bills(tmp_path: Path) -> None:
    """Reproduces: a run stopped by SIGINT reported its still active session billed 0 s."""
    proc, _mark = start_run(tmp_path)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    trace = Trace.read(tmp_path / "qsession-out" / "trace.jsonl")
    metrics = compute(trace)
    (session,) = metrics.sessions.values()
    assert session.state == "active" and session.usage_time > 0
    line = next(x for x in err.splitlines() if x.startswith("qsession: usage billed:"))
    assert line == f"qsession: usage billed: qsession {round(session.usage_time, 6):g} s"
    assert_no_server_faults(err)


def test_options_after_the_commands_first_word_belong_to_the_command(tmp_path: Path) -> None:
    """Reproduces: ``qsession run python prog.py --seed 3 -o x`` (no ``--``) took the
    program's ``--seed``/``-o`` as qsession's, and ``--help`` showed qsession's help."""
    program = tmp_path / "args.py"
    program.write_text("import json, sys; print(json.dumps(sys.argv[1:]))")
    for args in ([sys.executable, str(program), "--seed", "3", "-o", "x", "--help"],
                 ["--", sys.executable, str(program), "--seed", "3", "-o", "x", "--help"]):
        done = subprocess.run([QSESSION, "run", "--no-noise", *args], cwd=tmp_path,
                              env=env_for(tmp_path), capture_output=True, text=True,
                              timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.strip().splitlines()[-1]) == [
            "--seed", "3", "-o", "x", "--help"]
        assert (tmp_path / "qsession-out" / "trace.jsonl").is_file()  # not x/
        assert not (tmp_path / "x").exists()
        (tmp_path / "qsession-out" / "trace.jsonl").unlink()  # the second run may write
        for name in ("trace.perfetto.json", "timeline.png", "timeline.svg"):
            (tmp_path / "qsession-out" / name).unlink(missing_ok=True)


def test_a_busy_port_is_one_line_naming_the_port_and_the_fix(tmp_path: Path) -> None:
    """Reproduces: a busy ``--port`` was a 14-frame traceback."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        for command in (["run", "--port", str(port), "--", sys.executable, "-c", "pass"],
                        ["serve", "--port", str(port)]):
            done = subprocess.run([QSESSION, *command], cwd=tmp_path, env=env_for(tmp_path),
                                  capture_output=True, text=True, timeout=120, check=False)
            assert done.returncode == 2, done.stderr
            lines = [x for x in done.stderr.splitlines() if x.strip()]
            assert lines == [f"Error: port {port} on 127.0.0.1 is in use; choose another "
                             "with --port, or leave --port out for a free one"], done.stderr
    assert not (tmp_path / "qsession-out").exists()


def test_outputs_are_never_overwritten_silently(tmp_path: Path) -> None:
    """Reproduces: a mistyped command still overwrote ``qsession-out/`` (the earlier run's
    trace, timeline and Perfetto file). Now the run refuses before it starts, unless
    ``--force``."""
    first = subprocess.run([QSESSION, "run", "--no-noise", "--", sys.executable, "-c", "pass"],
                           cwd=tmp_path, env=env_for(tmp_path), capture_output=True,
                           text=True, timeout=300, check=False)
    assert first.returncode == 0, first.stderr
    trace = tmp_path / "qsession-out" / "trace.jsonl"
    kept = trace.read_bytes()
    typo = subprocess.run([QSESSION, "run", "--no-noise", "--", "pythn", "prog.py"],
                          cwd=tmp_path, env=env_for(tmp_path), capture_output=True, text=True,
                          timeout=300, check=False)
    assert typo.returncode == 2
    assert "qsession-out holds the outputs of an earlier run (trace.jsonl" in typo.stderr
    assert "--force" in typo.stderr and "-o" in typo.stderr
    assert trace.read_bytes() == kept
    forced = subprocess.run([QSESSION, "run", "--no-noise", "--force", "--", sys.executable,
                             "-c", "pass"], cwd=tmp_path, env=env_for(tmp_path),
                            capture_output=True, text=True, timeout=300, check=False)
    assert forced.returncode == 0, forced.stderr
    assert trace.read_bytes() != kept


def _serve(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([QSESSION, "serve", "--clock", "virtual", "--no-noise",
                             "--backends", "qsession_ideal", *args], cwd=tmp_path,
                            env=env_for(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if "the live page" in line or not line:
            break
    return proc


def test_serve_writes_its_trace_under_its_output_folder_and_stops_cleanly_on_sigterm(
        tmp_path: Path) -> None:
    """Reproduces: ``qsession serve`` wrote no trace unless asked, and SIGTERM skipped its
    clean shutdown (no "stopped", the trace file not closed)."""
    proc = _serve(tmp_path)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "# qsession: stopped" in err
    assert "qsession: jobs: none" in err
    assert_no_server_faults(err)
    out = tmp_path / "qsession-out"
    trace = Trace.read(out / "trace.jsonl")
    assert trace.meta["server_clock"] == "virtual"
    assert (out / "trace.perfetto.json").is_file()
    again = subprocess.run([QSESSION, "serve", "--no-noise"], cwd=tmp_path,
                           env=env_for(tmp_path), capture_output=True, text=True, timeout=60,
                           check=False)
    assert again.returncode == 2 and "--force" in again.stderr
    proc = _serve(tmp_path, "--trace", str(tmp_path / "elsewhere.jsonl"), "-o", "other")
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert_no_server_faults(err)
    assert (tmp_path / "elsewhere.jsonl").is_file()
    assert not (tmp_path / "other" / "trace.jsonl").exists()


def test_other_binding_mistakes_name_the_fix() -> None:
    """The same one-line refusals for a host this machine does not have, or cannot name."""
    from qsession.server.stopping import StartError, listening_socket

    with pytest.raises(StartError, match="this machine has no such address; leave --host out"):
        listening_socket("192.0.2.1", 0)  # TEST-NET-1: never this machine's
    with pytest.raises(StartError, match="not an address or name this machine can bind"):
        listening_socket("no-such-host.invalid", 0)
    if os.geteuid() != 0:  # root may bind any port
        with pytest.raises(StartError, match="needs privileges this user lacks"):
            listening_socket("127.0.0.1", 1)


def test_the_subprocess_fault_check_reads_the_summary_and_the_log() -> None:
    """What the tests above rely on to see a 500 in a server of another process."""
    ok = "qsession: 3 s of virtual time; 0 server fault(s)\n"
    assert_no_server_faults(ok)
    for bad in ("qsession: 3 s of virtual time; 2 server fault(s)\n",
                "server fault on POST /api/v1/jobs\nTraceback ...\n" + ok):
        with pytest.raises(AssertionError):
            assert_no_server_faults(bad)
    with pytest.raises(AssertionError, match="no 'server fault"):
        assert_no_server_faults("qsession: jobs: none\n")
    assert_no_server_faults("qsession: jobs: none\n", summary=False)

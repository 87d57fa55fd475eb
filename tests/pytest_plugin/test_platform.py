"""``qsession_platform``: code written for IBM, unmodified, against the module's HTTP server."""

from __future__ import annotations

import re

import pytest

from qsession.runtime import Trace
from qsession.runtime.engine.ids import IBM_ID

# Every test here starts the HTTP server; `make check` leaves them out.
pytestmark = pytest.mark.heavy

# The code under test is IBM's own client code, byte for byte: it reads the environment
# the fixture sets, so nothing in it names qsession.
UNMODIFIED = '''
from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2, Session


def bell_counts():
    service = QiskitRuntimeService()
    backend = service.least_busy(operational=True, simulator=False)
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure_all()
    isa = generate_preset_pass_manager(backend=backend, optimization_level=1).run(qc)
    with Session(backend=backend) as session:
        sampler = SamplerV2(mode=session)
        return sampler.run([isa], shots=100).result()[0].data.meas.get_counts()


def forgets_to_close():
    service = QiskitRuntimeService()
    backend = service.backend("ibm_brisbane")
    return Session(backend=backend)
'''

SUITE = '''
from ibm_code import bell_counts, forgets_to_close
from qsession.pytest_plugin import sessions


def test_the_unmodified_client(qsession_platform):
    counts = bell_counts()
    assert sum(counts.values()) == 100
    (session,) = sessions(qsession_platform.service)
    assert session.state == "closed" and len(session.done) == 1


def test_a_session_left_open_over_http(qsession_platform):
    forgets_to_close()


def test_the_next_test_is_judged_on_its_own(qsession_platform):
    assert bell_counts()
    assert len(sessions(qsession_platform.service)) == 3   # the module shares one server
    qsession_platform.advance(120)                          # steer the server's time
'''


def test_unmodified_client_code_runs_against_the_platform(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(ibm_code=UNMODIFIED, test_user=SUITE)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:schemathesis")
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["FAILED test_user.py::test_a_session_left_open_over_http - *"])
    match = re.search(r"^trace:\s+(\S+)$", out, re.M)
    assert match
    trace = Trace.read(match[1])
    assert trace.meta["server_clock"] == "fast"
    # Over HTTP ids are shaped as IBM's; the second session is the one left open.
    created = [r.id for r in trace if r.entity == "session" and r.event == "create"]
    assert len(created) == 2 and all(re.fullmatch(IBM_ID, s) for s in created)
    assert f"Session {created[1]} on ibm_brisbane was left open (pending, accepting jobs)" \
        in out

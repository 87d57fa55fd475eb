"""A pytest plugin for testing your own session code against qsession (``pytest11`` entry).

Installed with qsession, it is on in every pytest run and does nothing for a test that
uses none of it. What it gives:

- ``qsession_service``: a fresh in-process ``LocalService`` per test (virtual time, seeded
  from ``--qsession-seed`` and the node id), configured by ``@pytest.mark.qsession(...)``;
- ``qsession_platform``: the HTTP server (one per module) that unmodified
  ``qiskit_ibm_runtime`` code reaches through ``QiskitRuntimeService()``;
- at the end of the test's call: the service is run until idle, every invariant is
  checked on its trace, and a session or batch left open fails the test;
- on failure: the trace and a timeline picture under pytest's temporary directory, named
  in a ``qsession`` report section with the seed to replay;
- ``perturbed(condition)`` for Hypothesis tests (``qsession.properties.strategies.conditions``)
  and ``sessions()``/``session_facts()`` to assert on billing, activations and job
  outcomes.

``qsession docs testing-your-code`` is the guide.
"""

from .facts import SessionFacts, session_facts, sessions
from .fixtures import qsession_service
from .hooks import (
    pytest_addoption,
    pytest_configure,
    pytest_report_header,
    pytest_runtest_call,
    pytest_runtest_makereport,
    pytest_terminal_summary,
)
from .perturb import perturbed
from .platform import Platform, qsession_platform, qsession_platform_server
from .run import SessionCheckFailed
from .settings import MarkerError

__all__ = [
    "MarkerError",
    "Platform",
    "SessionCheckFailed",
    "SessionFacts",
    "perturbed",
    "pytest_addoption",
    "pytest_configure",
    "pytest_report_header",
    "pytest_runtest_call",
    "pytest_runtest_makereport",
    "pytest_terminal_summary",
    "qsession_platform",
    "qsession_platform_server",
    "qsession_service",
    "session_facts",
    "sessions",
]

"""The pytest hooks: options and marker, the end-of-call check, the failure report.

Each hook returns at once for a test that used neither the ``qsession_service`` fixture
nor ``perturbed()``: a stash lookup, nothing imported. The plugin's modules import only
pytest and the standard library at the top (no qiskit), so the plugin costs a test suite
that does not use it nothing measurable.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from .run import Run
from .settings import MARKER_HELP, PLATFORM_MARKER_HELP, add_options, clock_option, seed_option

FIXTURE_RUN = pytest.StashKey[Run]()
"""The run of the ``qsession_service`` fixture, on the test item."""
PLATFORM_RUN = pytest.StashKey[Run]()
"""This test's part of the ``qsession_platform`` server's run, on the test item."""
EXAMPLE_RUN = pytest.StashKey[Run]()
"""The latest ``perturbed()`` run of a test (with Hypothesis: the shrunk example, replayed
last), on the test item."""
WRITTEN = pytest.StashKey[list[str]]()
"""Node ids whose outputs were written, on the config (for the terminal summary)."""

_calling: list[pytest.Item] = []
"""The item whose call phase is running (``perturbed()`` registers its run there)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``--qsession-*`` options."""
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``qsession`` marker (so ``--strict-markers`` accepts it); check the ini."""
    config.addinivalue_line("markers", MARKER_HELP)
    config.addinivalue_line("markers", PLATFORM_MARKER_HELP)
    config.stash[WRITTEN] = []
    clock_option(config)
    seed_option(config)


def pytest_report_header(config: pytest.Config) -> str:
    """One header line with what a replay needs: the clock and the seed base."""
    return (f"qsession: clock {clock_option(config)}, seed base {seed_option(config)} "
            "(--qsession-seed)")


def current_item() -> pytest.Item | None:
    """The test whose call phase is running, if any."""
    return _calling[-1] if _calling else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    """After the test function returns: settle its service and fail it on any problem.

    A hook wrapper around the call phase, so that a broken invariant or a session left
    open fails the test (not an error in teardown) and a failure the test raised itself is
    reported unchanged.
    """
    _calling.append(item)
    try:
        result = yield
    finally:
        _calling.pop()
    for key in (FIXTURE_RUN, PLATFORM_RUN):
        run = item.stash.get(key, None)
        if run is not None and run.finish():
            pytest.fail(run.failure_message(), pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On a failed call (or with ``--qsession-keep-traces``): write outputs, add a section."""
    report = yield
    if report.when != "call":
        return report
    # Taken off the item: pytest keeps every item until the session ends, and a run holds
    # a service and its whole trace (the fixture's teardown keeps its own reference).
    runs = [run for run in (_pop(item, FIXTURE_RUN), _pop(item, PLATFORM_RUN),
                            _pop(item, EXAMPLE_RUN)) if run is not None]
    if runs and (report.failed or item.config.getoption("qsession_keep_traces")):
        from .artifacts import section

        report.sections.append(("qsession", section(item, runs, report.failed)))
        item.config.stash[WRITTEN].append(item.nodeid)
    return report


def _pop(item: pytest.Item, key: pytest.StashKey[Run]) -> Run | None:
    run = item.stash.get(key, None)
    if run is not None:
        del item.stash[key]
    return run


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Say where the traces went, once, when any were written."""
    written = config.stash.get(WRITTEN, [])
    if written:
        from .artifacts import output_dir_root

        terminalreporter.write_line(
            f"qsession: traces and timelines of {len(written)} test(s) under "
            f"{output_dir_root(config)}")

"""Fixtures of the plugin's tests: what the users' suites import is loaded once, first."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def loaded_once(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> None:
    """Load what the users' suites load, before the first in-process run.

    pytester restores ``sys.modules`` after each in-process run, and numpy (under qiskit)
    cannot be imported twice in one process: so everything a user's suite imports must
    be loaded before. Running one job and drawing its timeline loads it all.
    """
    import hypothesis.strategies  # noqa: F401
    import scipy.optimize  # noqa: F401
    from qiskit import QuantumCircuit
    from qiskit.transpiler import generate_preset_pass_manager

    import qsession.properties.mutants
    import qsession.properties.strategies  # noqa: F401
    from qsession.insight.timeline import draw_timeline
    from qsession.properties.invariants import check
    from qsession.runtime import Batch, LocalService, SamplerV2
    from qsession.runtime.ibm.workload import Background, generate  # noqa: F401

    service = LocalService(seed=1)
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    # transpiling as the users' suites do loads qiskit's stage plugins too
    pm = generate_preset_pass_manager(optimization_level=1, backend=service.backend())
    with Batch(backend=service.backend()) as batch:
        SamplerV2(mode=batch).run([pm.run(circuit)], shots=10).result()
    assert check(service.trace, settled=True).ok
    draw_timeline(service.trace, tmp_path_factory.mktemp("warm") / "t.png", None)
    # The HTTP door (a server and the real client talking to it) only when a selected test
    # runs users' suites against it: test_platform.py's. `make check` leaves those out and
    # starts no server.
    if not any(item.path.name == "test_platform.py" for item in request.session.items):
        return
    import warnings

    from qiskit_ibm_runtime import SamplerV2 as IBMSampler

    from qsession.server import connect

    with connect(clock="fast") as connection, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the client's V2 primitives
        backend = connection.service.backend("ibm_brisbane")
        pm = generate_preset_pass_manager(optimization_level=1, backend=backend)
        IBMSampler(mode=backend).run([pm.run(circuit)], shots=10).result()

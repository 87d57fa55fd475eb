"""Backend inspection and selection: configuration(), properties(), status(), filters, names.

Checked against the fake backends' own data (qiskit_ibm_runtime/fake_provider, 0.51) and
IBM's filter semantics (QiskitRuntimeService.backends / least_busy, and qiskit's
``filter_backends``: keyword filters match configuration, else status, attributes).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from helpers.circuits import bell, isa
from qiskit.providers.exceptions import QiskitBackendNotFoundError
from qiskit_ibm_runtime.fake_provider import FakeBrisbane, FakeManilaV2

from qsession.runtime import (
    QPU,
    IBMBackendError,
    IBMBackendValueError,
    LocalService,
    SamplerV2,
    Session,
)


@pytest.fixture(scope="module")
def service() -> LocalService:
    return LocalService(seed=2, backends=[QPU.ideal("ideal_8", 8), "fake_manila",
                                          "fake_brisbane"])


def test_fake_backend_data_is_the_fake_backends_own(service: LocalService) -> None:
    qpu, fake = service.backend("fake_manila"), FakeManilaV2()
    config, theirs = qpu.configuration(), fake.configuration()
    assert config.to_dict() == theirs.to_dict()
    assert config.n_qubits == 5 and config.basis_gates == theirs.basis_gates
    props = qpu.properties()
    assert props.to_dict() == fake.properties().to_dict()
    assert props.t1(0) == fake.properties().t1(0)
    assert props.readout_error(3) == fake.properties().readout_error(3)
    assert props.gate_error("sx", 0) == fake.properties().gate_error("sx", 0)
    # IBM's properties(datetime=...): the data last updated before then; an emulated QPU
    # has one calibration set, so before its date there is none (None, as IBM's client).
    dated = props.last_update_date
    assert qpu.properties(datetime=dated) is None
    assert qpu.properties(datetime=dated + timedelta(seconds=1)).to_dict() == props.to_dict()
    assert qpu.properties(datetime=datetime(2020, 1, 1)) is None  # naive: local time


def test_ideal_backend_configuration_comes_from_its_target(service: LocalService) -> None:
    qpu = service.backend("ideal_8")
    config = qpu.configuration()
    assert config.backend_name == "ideal_8" and config.n_qubits == 8
    assert set(config.basis_gates) == {"cx", "id", "rz", "sx", "x"}
    assert config.simulator is False and "simulator" in config
    assert len(config.coupling_map) == 8 * 7  # all-to-all, both directions
    assert "dynamic_circuits" in config.supported_features
    assert qpu.properties() is None  # no calibration: IBM's simulators answer None


def test_status_counts_the_schedulers_queue() -> None:
    svc = LocalService(seed=1, backends=[QPU.ideal("q", 2)])
    qpu = svc.backend()
    status = qpu.status()
    assert status.operational is True and status.status_msg == "active"
    assert status.pending_jobs == 0 and status.backend_name == "q"
    circuit = isa(bell(), qpu)
    for _ in range(3):
        SamplerV2(mode=qpu).run([circuit], shots=10)
    # all three wait: the first starts when the scheduler dispatches at this instant
    svc.advance(0)
    assert qpu.status().pending_jobs == 2
    svc.run_until_idle()
    assert qpu.status().pending_jobs == 0


def test_filters(service: LocalService) -> None:
    names = lambda qpus: [q.name for q in qpus]  # noqa: E731
    assert names(service.backends()) == ["ideal_8", "fake_manila", "fake_brisbane"]
    assert names(service.backends(min_num_qubits=6)) == ["ideal_8", "fake_brisbane"]
    assert names(service.backends(name="fake_manila")) == ["fake_manila"]
    assert names(service.backends(name="ibm_brisbane")) == ["fake_brisbane"]
    assert names(service.backends(simulator=False, operational=True)) == names(
        service.backends())
    assert service.backends(simulator=True) == []
    assert service.backends(operational=False) == []
    assert names(service.backends(n_qubits=5)) == ["fake_manila"]
    default = service.instances()[0]["crn"]
    assert names(service.backends(instance=default)) == names(service.backends())
    assert service.backends(instance="other") == []
    assert names(service.backends(filters=lambda b: b.num_qubits < 10)) == [
        "ideal_8", "fake_manila"]
    # the fake backends' own supported_features do not list dynamic circuits
    assert names(service.backends(dynamic_circuits=True)) == ["ideal_8"]
    assert service.least_busy(min_num_qubits=100).name == "fake_brisbane"
    with pytest.raises(QiskitBackendNotFoundError, match="No backend matches the criteria"):
        service.least_busy(min_num_qubits=1000)


def test_least_busy_picks_the_shortest_queue() -> None:
    svc = LocalService(seed=1, backends=[QPU.ideal("a", 2), QPU.ideal("b", 2)])
    a = svc.backend("a")
    circuit = isa(bell(), a)
    for _ in range(2):
        SamplerV2(mode=a).run([circuit], shots=10)
    svc.advance(0)
    assert a.status().pending_jobs == 1 and svc.least_busy().name == "b"


def test_ibm_names_find_fake_backends(service: LocalService) -> None:
    assert service.backend("ibm_brisbane") is service.backend("fake_brisbane")
    assert service.backend("ibmq_manila") is service.backend("fake_manila")
    with pytest.raises(QiskitBackendNotFoundError, match="no backend named 'ibm_kyiv'"):
        service.backend("ibm_kyiv")
    # the same error is an IBMBackendValueError under IBMBackendError, as in the client
    with pytest.raises(IBMBackendValueError):
        service.backend("ibm_kyiv")
    assert issubclass(IBMBackendValueError, IBMBackendError)
    assert issubclass(IBMBackendValueError, ValueError)


def test_a_fake_backend_name_joins_a_default_service() -> None:
    svc = LocalService(seed=4)
    qpu = svc.backend("fake_manila")  # README: service.backend("fake_manila")
    assert qpu.name == "fake_manila" and qpu.noise_model is not None
    assert svc.backend("fake_manila") is qpu
    assert [q.name for q in svc.backends()] == ["qsession_ideal", "fake_manila"]


def test_a_fake_backend_object_as_mode_and_session_backend() -> None:
    # IBM's local mode: SamplerV2(mode=FakeManilaV2()) and Session(backend=FakeManilaV2())
    fake = FakeManilaV2()
    circuit = isa(bell(), fake)
    job = SamplerV2(mode=fake).run([circuit], shots=200)
    counts = job.result()[0].data.meas.get_counts()
    assert sum(counts.values()) == 200 and job.backend().name == "fake_manila"
    assert set(counts) - {"00", "11"}  # noisy: some 01/10 outcomes
    with Session(backend=fake) as session:
        again = SamplerV2(mode=session).run([circuit], shots=50)
        assert again.session_id == session.session_id
    assert again.backend() is job.backend()  # the same QPU for the same fake object
    brisbane = FakeBrisbane()
    other = SamplerV2(mode=brisbane).run([isa(bell(), brisbane)], shots=20)
    assert other.backend().name == "fake_brisbane"


def test_a_service_without_backends_says_so() -> None:
    empty = LocalService(seed=1, backends=[])
    with pytest.raises(QiskitBackendNotFoundError, match="this service has no backends"):
        empty.backend()
    assert empty.backends() == []

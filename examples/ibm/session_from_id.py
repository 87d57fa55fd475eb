"""Shape of IBM's integration tests of sessions: reattach by id, close, cancel, error types."""

from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager

from qsession.runtime import IBMInputValueError, QiskitRuntimeService, Session
from qsession.runtime import SamplerV2 as Sampler

service = QiskitRuntimeService()
backend = service.least_busy(operational=True, simulator=False)

circuit = QuantumCircuit(2)
circuit.h(0)
circuit.cx(0, 1)
circuit.measure_all()

# A circuit that is not ISA is refused at submission, as IBM's client refuses it
session = Session(backend=backend)
try:
    Sampler(mode=session).run([circuit])
except IBMInputValueError as err:
    print(f"Refused: {str(err)[:80]}...")

isa_circuit = generate_preset_pass_manager(optimization_level=1, backend=backend).run(circuit)
first = Sampler(mode=session).run([isa_circuit], shots=100)
first.result()

# Another part of the program attaches to the same session by its id
attached = Session.from_id(session.session_id, service=service)
second = Sampler(mode=attached).run([isa_circuit], shots=100)
print(f"Same session: {second.session_id == first.session_id}")
second.result()

attached.close()
print(f"Status after close: {session.status()}")
print(f"Jobs of the session: {[j.job_id() for j in service.jobs(session_id=session.session_id)]}")

"""Shape of IBM's guide "Local testing mode": fake backends passed as the mode."""

from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager

from qsession.runtime import SamplerV2 as Sampler
from qsession.runtime import Session
from qsession.runtime.fake_provider import FakeManilaV2

# Bell circuit
qc = QuantumCircuit(2)
qc.h(0)
qc.cx(0, 1)
qc.measure_all()

fake_manila = FakeManilaV2()
pm = generate_preset_pass_manager(backend=fake_manila, optimization_level=1)
isa_qc = pm.run(qc)

# Job mode: the fake backend is the mode
sampler = Sampler(mode=fake_manila)
result = sampler.run([isa_qc], shots=1000).result()
print(f"Counts (job mode): {result[0].data.meas.get_counts()}")

# Session mode on the same fake backend
with Session(backend=fake_manila) as session:
    sampler = Sampler(mode=session)
    job = sampler.run([isa_qc], shots=1000)
    print(f"Counts (session {session.session_id}): {job.result()[0].data.meas.get_counts()}")

props = fake_manila.properties()
print(f"T1 of qubit 0 on {props.backend_name}: {props.t1(0):.2e} s")

"""Shape of IBM's guide "Run jobs in a session": one Session, an Estimator and a Sampler.

Only the ``qiskit_ibm_runtime`` import differs from code written for IBM Quantum.
"""

from qiskit.circuit.library import real_amplitudes
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager

from qsession.runtime import EstimatorV2 as Estimator
from qsession.runtime import QiskitRuntimeService, Session
from qsession.runtime import SamplerV2 as Sampler

service = QiskitRuntimeService()
backend = service.least_busy(operational=True, simulator=False)

ansatz = real_amplitudes(2, reps=1)
measured = ansatz.measure_all(inplace=False)
pm = generate_preset_pass_manager(optimization_level=1, backend=backend)
isa_ansatz = pm.run(ansatz)
isa_measured = pm.run(measured)
observable = SparsePauliOp("ZZ").apply_layout(isa_ansatz.layout)
params = [0.1, 0.2, 0.3, 0.4]

with Session(backend=backend) as session:
    estimator = Estimator(mode=session)
    estimator.options.default_shots = 2000
    sampler = Sampler(mode=session)
    sampler.options.default_shots = 500

    energy_job = estimator.run([(isa_ansatz, observable, params)])
    counts_job = sampler.run([(isa_measured, params)])
    print(f">>> Session ID: {session.session_id}")
    print(f">>> Session status: {session.status()}")

    energy = float(energy_job.result()[0].data.evs)
    counts = counts_job.result()[0].data.meas.get_counts()
    print(f"  > Expectation value: {energy:.4f}")
    print(f"  > Counts: {counts}")

details = session.details()
print(f">>> Session details: {details['state']}, usage {details['usage_time']} s")
print(f">>> Jobs in the session: {len(service.jobs(session_id=session.session_id))}")

"""A Bell pair sampled three times inside a dedicated Session, as on IBM Quantum.

Nothing here knows about qsession: run it against IBM with your account, or locally with
``qsession run -- python session_sampler.py`` (``qsession examples --copy DIR`` writes it
into DIR/unchanged).
"""

from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2, Session

service = QiskitRuntimeService()
backend = service.least_busy(operational=True, simulator=False)

bell = QuantumCircuit(2)
bell.h(0)
bell.cx(0, 1)
bell.measure_all()
isa = generate_preset_pass_manager(optimization_level=1, backend=backend).run(bell)

with Session(backend=backend) as session:
    sampler = SamplerV2(mode=session)
    sampler.options.default_shots = 200
    for step in range(3):
        job = sampler.run([isa])
        counts = job.result()[0].data.meas.get_counts()
        print(f"step {step}: job {job.job_id()} {counts}")
    details = session.details()
    print(f"session {session.session_id}: {details['state']}, usage {session.usage()} s")

print(f"after close: {session.status()}")

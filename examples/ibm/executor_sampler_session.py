"""Shape of IBM's guides for the client-side Sampler (qiskit-ibm-runtime 0.50+) in a Session.

``executor_sampler.Sampler`` does its pre- and post-processing (here Pauli twirling) on
the client and submits program ``executor``; the options are ``options_models`` ones.
"""

from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager

from qsession.runtime import QiskitRuntimeService, Session
from qsession.runtime.executor_sampler import Sampler
from qsession.runtime.options_models import SamplerOptions

service = QiskitRuntimeService()
backend = service.least_busy(operational=True, simulator=False)

ghz = QuantumCircuit(3)
ghz.h(0)
ghz.cx(0, 1)
ghz.cx(1, 2)
ghz.measure_all()
pm = generate_preset_pass_manager(optimization_level=1, backend=backend)
isa_circuit = pm.run(ghz)

options = SamplerOptions(default_shots=400)
options.twirling.enable_gates = True
options.twirling.num_randomizations = 4
options.twirling.shots_per_randomization = 100

with Session(backend=backend) as session:
    sampler = Sampler(mode=session, options=options)
    first = sampler.run([isa_circuit])
    counts = first.result()[0].data.meas.get_counts()
    print(f"job {first.job_id()} ({first.primitive_id}): {sum(counts.values())} shots, "
          f"{len(counts)} outcomes")
    sampler.options.twirling.enable_gates = False
    second = sampler.run([isa_circuit], shots=200)
    plain = second.result()[0].data.meas.get_counts()
    print(f"job {second.job_id()} without twirling: {sum(plain.values())} shots")
    print(f"both in session: {first.session_id == second.session_id == session.session_id}")

ghz_share = (counts.get("000", 0) + counts.get("111", 0)) / sum(counts.values())
print(f"GHZ outcomes 000 and 111: {ghz_share:.2f} of the twirled shots")
print(f"session after close: {session.status()}")

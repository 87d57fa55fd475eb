"""IBM's recommended uses of QiskitRuntimeService, as the client-version test runs them.

As placeholder_credentials.py, but the explicit instance is a CRN (IBM: "recommended"):
client 0.41.0 resolves an instance given by name to its CRN yet files its API client under
the name, so a Session then fails there as it would on IBM (fixed in 0.41.1).

From the client's reference ("QiskitRuntimeService", IBM Quantum Platform docs): direct
instantiation with channel, token="API_KEY" and instance="CRN"; saving a default account
with save_account(token=..., instance=..., set_as_default=True) then QiskitRuntimeService();
a named account. Then a Bell pair in a session, as the "Get started" guides run it, and
the job's usage and start as the release reads them.
"""

import sys

from qiskit import QuantumCircuit
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2, Session

service = QiskitRuntimeService(
    channel="ibm_quantum_platform",  # optional
    token="API_KEY",
    instance="crn:v1:bluemix:public:quantum-computing:us-east:a/ACCOUNT_ID:INSTANCE_ID::",
)
backend = service.least_busy(operational=True, simulator=False)
circuit = QuantumCircuit(2)
circuit.h(0)
circuit.cx(0, 1)
circuit.measure_all()
isa = generate_preset_pass_manager(backend=backend, optimization_level=1).run(circuit)
with Session(backend=backend) as session:
    job = SamplerV2(mode=session).run([isa], shots=200)
    counts = job.result()[0].data.meas.get_counts()
print("counts", sorted(counts))
# What each release reads of GET /jobs/{id}/metrics, in the shape of the API version it
# sends: the usage (usage.quantum_seconds before 0.51, qpu_charge_time_seconds since)
# and the instant the job started.
print("usage read", job.usage() > 0, job.metrics()["timestamps"].get("running") is not None)

QiskitRuntimeService.save_account(token="API_KEY", instance="CRN", set_as_default=True,
                                  overwrite=True)
saved = QiskitRuntimeService()
print("default account instance", saved.active_instance())
QiskitRuntimeService.save_account(token="ANOTHER_KEY", name="mine", overwrite=True)
named = QiskitRuntimeService(name="mine")
print("named account backends", sorted(b.name for b in named.backends()))
# What the child sees of the user's own saved account: never its key.
print("user account token", QiskitRuntimeService.saved_accounts()["users-own"]["token"])
sys.exit(0)

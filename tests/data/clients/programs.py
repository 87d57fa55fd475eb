"""Programs run by one release of qiskit-ibm-runtime against the server (see record.py).

Run by the release's own interpreter under ``qsession run``: every primitive form that
release can send (job, session and batch modes; short and broadcast pubs; nested estimator
observables as in IBM's session guide; option groups; the executor from 0.46 on), each read
back and checked by that release's own result decoders. Prints one JSON line: what ran.

With ``RECORD_REQUESTS=FILE`` set, each ``POST .../jobs`` and ``POST .../sessions`` body
the release sends is appended to FILE as it leaves (a JSON line); nothing sent is changed.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import qiskit_ibm_runtime as client
import requests
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import Batch, QiskitRuntimeService, Session
from qiskit_ibm_runtime import EstimatorV2 as Estimator
from qiskit_ibm_runtime import SamplerV2 as Sampler

RECORD = os.environ.get("RECORD_REQUESTS")
if RECORD:
    _send = requests.Session.send

    def _logged(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        path = urlsplit(request.url).path
        if request.method == "POST" and path.endswith(("/jobs", "/sessions")):
            body = request.body.decode() if isinstance(request.body, bytes) else request.body
            with open(RECORD, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"path": path.rsplit("/", 1)[1],
                                     "body": json.loads(body)}) + "\n")
        return _send(self, request, **kwargs)

    requests.Session.send = _logged  # type: ignore[method-assign]

# What ``qsession run`` gives the program (any key works; the URL only while the
# environment names one).
service = QiskitRuntimeService(channel="ibm_quantum_platform",
                               token=os.environ.get("QISKIT_IBM_TOKEN", "any-api-key"),
                               url=os.environ.get("QISKIT_IBM_URL"),
                               instance=os.environ.get("QISKIT_IBM_INSTANCE"))
backend = service.backend("ibm_brisbane")
pm = generate_preset_pass_manager(optimization_level=1, backend=backend, seed_transpiler=1)
ran: list[str] = []

bell = QuantumCircuit(2)
bell.h(0)
bell.cx(0, 1)
bell.measure_all()
isa_bell = pm.run(bell)

# Job mode: one sampler pub, shots given to run().
counts = Sampler(mode=backend).run([isa_bell], shots=100).result()[0].data.meas.get_counts()
assert set(counts) <= {"00", "11"} and sum(counts.values()) == 100, counts
ran.append("sampler job mode")

# IBM's session guide: a one-parameter circuit, parameters shaped (3, 2), observables
# shaped (3, 1) laid out on the ISA circuit, in a session with both primitives.
a = Parameter("a")
guide = QuantumCircuit(2)
guide.h(0)
guide.cx(0, 1)
guide.ry(a, 0)
guide.cx(0, 1)
guide.h(0)
guide.measure_all()
isa_guide = pm.run(guide)
params = np.random.default_rng(1).uniform(size=(2, 3)).T
observables = [[SparsePauliOp(["XX", "IY"], [0.5, 0.5]).apply_layout(isa_guide.layout)],
               [SparsePauliOp("XX").apply_layout(isa_guide.layout)],
               [SparsePauliOp("IY").apply_layout(isa_guide.layout)]]
with Session(backend=backend) as session:
    estimator = Estimator(mode=session)
    estimator.options.default_shots = 2000
    sampler = Sampler(mode=session)
    sampler.options.default_shots = 300
    job1 = estimator.run([(isa_guide, observables, params)])
    job2 = sampler.run([(isa_guide, params)])
evs = job1.result()[0].data.evs
assert evs.shape == (3, 2) and np.all(np.abs(evs) <= 1 + 1e-9), evs
assert job2.result()[0].data.meas.get_counts() and job2.result()[0].data.meas.shape == (3, 2)
ran.append("session guide estimator and sampler")

# Batch mode: option groups, an estimator pub with a precision and a list of observables.
zz = SparsePauliOp("ZZ").apply_layout(isa_bell.layout)
xx = SparsePauliOp("XX").apply_layout(isa_bell.layout)
with Batch(backend=backend) as batch:
    estimator = Estimator(mode=batch, options={"resilience_level": 1,
                                               "default_precision": 0.02})
    estimator.options.dynamical_decoupling.enable = True
    estimator.options.twirling.enable_gates = True
    sampler = Sampler(mode=batch)
    sampler.options.dynamical_decoupling.enable = True
    sampler.options.dynamical_decoupling.sequence_type = "XpXm"
    job3 = estimator.run([(pm.run(bell.remove_final_measurements(inplace=False)), [zz, xx],
                           None, 0.05)])
    job4 = sampler.run([(isa_bell, None, 50)])
evs = job3.result()[0].data.evs
assert evs.shape == (2,) and evs[0] > 0.8 and evs[1] > 0.8, evs
assert sum(job4.result()[0].data.meas.get_counts().values()) == 50
ran.append("batch estimator and sampler with options")

# The executor (0.46 on): a quantum program built by hand, in job mode.
if hasattr(client, "Executor") and hasattr(client, "QuantumProgram"):
    theta = Parameter("theta")
    rotation = QuantumCircuit(1)
    rotation.rx(theta, 0)
    rotation.measure_all()
    program = client.QuantumProgram(shots=40)
    program.append_circuit_item(pm.run(rotation), circuit_arguments=np.array([[0.0], [np.pi]]))
    result = client.Executor(backend).run(program).result()
    bits = np.asarray(result[0]["meas"])
    assert bits.shape == (2, 40, 1) and not bits[0].any() and bits[1].all(), bits.shape
    ran.append("executor program")

print(json.dumps({"client": client.__version__, "ran": ran}))

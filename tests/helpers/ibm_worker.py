"""A client program for the contention and load tests, written for IBM Quantum (no qsession).

``python ibm_worker.py MODE SEED N``: MODE ``session`` (N jobs in one Session), ``jobs``
(N job-mode jobs) or ``mixed`` (N jobs over a Session, a Batch and job mode, cancelling
some as soon as they are submitted). Prints one JSON line: the ids the server accepted,
the final statuses it reports, and the number of cancels that came too late.
"""

from __future__ import annotations

import json
import random
import sys

from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import Batch, QiskitRuntimeService, SamplerV2, Session
from qiskit_ibm_runtime.exceptions import RuntimeInvalidStateError


def main() -> None:
    mode, seed, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    service = QiskitRuntimeService()
    backend = service.backend("ibm_brisbane")
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    isa = generate_preset_pass_manager(optimization_level=1, backend=backend).run(bell)
    jobs = []
    late_cancels = 0
    if mode == "session":
        with Session(backend=backend) as session:
            sampler = SamplerV2(mode=session)
            jobs = [sampler.run([isa], shots=20) for _ in range(count)]
            jobs[-1].result()
    elif mode == "jobs":
        sampler = SamplerV2(mode=backend)
        jobs = [sampler.run([isa], shots=20) for _ in range(count)]
        jobs[-1].wait_for_final_state()
    else:
        session, batch = Session(backend=backend), Batch(backend=backend)
        samplers = [SamplerV2(mode=session), SamplerV2(mode=batch), SamplerV2(mode=backend)]
        for i in range(count):
            job = samplers[i % 3].run([isa], shots=rng.choice([10, 20, 40]))
            jobs.append(job)
            if rng.random() < 0.25:  # a cancel racing the job's start and end
                try:
                    job.cancel()
                except RuntimeInvalidStateError:
                    late_cancels += 1
            if i % 10 == 9:
                job.wait_for_final_state()
        session.close()
        batch.close()
    statuses = {}
    for job in jobs:
        again = service.job(job.job_id())
        again.wait_for_final_state(timeout=120)
        statuses[job.job_id()] = again.status()
    print(json.dumps({"ids": [j.job_id() for j in jobs], "statuses": statuses,
                      "late_cancels": late_cancels, "instance": service.active_instance()}))


if __name__ == "__main__":
    main()

"""B11: Sampler jobs through IBM's client-side ``executor_sampler.Sampler``, against ``SamplerV2``.

The client-side Sampler builds a ``QuantumProgram`` with the client's own ``prepare`` and
decodes the result with the client's post-processor; the job runs through the same
scheduler on the same Aer. Subject and baseline are the same loop of sampler jobs (a
3-qubit GHZ circuit, 1,000 shots, twirling off) in a qsession ``Session`` in virtual time;
the target is that the client-side path costs at most 2x.
"""

from __future__ import annotations

import time
from typing import Any

from .common import Result, fmt_s, interleaved, median, spread, verdict

CALLS = 30
SHOTS = 1000
TARGET = 2.0


def _loop(client_side: bool, calls: int) -> float:
    """Seconds for ``calls`` sampler jobs (service, session and transpilation included)."""
    from qiskit import QuantumCircuit
    from qiskit.transpiler import generate_preset_pass_manager

    from qsession.runtime import LocalService, SamplerV2, Session
    from qsession.runtime.executor_sampler import Sampler

    began = time.perf_counter()
    service = LocalService(seed=1)
    backend = service.backend()
    ghz = QuantumCircuit(3)
    ghz.h(0)
    ghz.cx(0, 1)
    ghz.cx(1, 2)
    ghz.measure_all()
    isa = generate_preset_pass_manager(optimization_level=1, backend=backend,
                                       seed_transpiler=0).run(ghz)
    with Session(backend=backend) as session:
        sampler: Any = Sampler(mode=session) if client_side else SamplerV2(mode=session)
        for _ in range(calls):
            sampler.run([isa], shots=SHOTS).result()[0].data.meas.get_counts()
    seconds = time.perf_counter() - began
    service.close()
    return seconds


def run(quick: bool = False, **_options: Any) -> Result:
    """Measure B11 (``quick``: 3 calls, one repetition)."""
    calls, repeats = (3, 1) if quick else (CALLS, 5)
    times = interleaved({"v2": lambda: _loop(False, calls),
                         "client": lambda: _loop(True, calls)}, repeats)
    v2, client = median(times["v2"]), median(times["client"])
    ratio = client / v2
    return Result(
        id="B11",
        figure=f"{calls} Sampler jobs (3-qubit GHZ, {SHOTS} shots, twirling off) through the "
               "client-side executor_sampler.Sampler",
        subject=f"{fmt_s(client)} ({fmt_s(client / calls)}/job) as program executor",
        baseline=f"{fmt_s(v2)} the same jobs through SamplerV2",
        ratio=f"{ratio:.3f}×",
        target=f"≤ {TARGET}×",
        verdict=verdict(ratio <= TARGET),
        notes=[f"medians of {repeats} interleaved repetitions; client-side "
               f"{spread(times['client'])}, SamplerV2 {spread(times['v2'])}",
               "the client's prepare, local-mode runner and post-processor run in the loop"],
        raw={"client_s": times["client"], "v2_s": times["v2"], "ratio": ratio},
    )

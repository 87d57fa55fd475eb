"""B12: Estimator pubs whose circuits end in measurements, against the same pubs without them.

IBM accepts Estimator circuits with final measurements; they do not change an expectation
value, and run as given Aer samples them shot by shot (qsession removes them first).
Subject and baseline are the same loop of estimator jobs through a qsession ``Session`` in
virtual time, on a 4-qubit ansatz transpiled for the QPU, with and without
``measure_all()``; the target is that measurements cost at most 1.5x.
"""

from __future__ import annotations

import time
from typing import Any

from .common import Result, fmt_s, interleaved, median, spread, verdict

CALLS = 30
PRECISION = 0.005
TARGET = 1.5


def _loop(measured: bool, calls: int) -> float:
    """Seconds for ``calls`` estimator jobs (service, session and transpilation included)."""
    import numpy as np
    from qiskit.circuit.library import efficient_su2
    from qiskit.quantum_info import SparsePauliOp
    from qiskit.transpiler import generate_preset_pass_manager

    from qsession.runtime import EstimatorV2, LocalService, Session

    began = time.perf_counter()
    service = LocalService(seed=1)
    backend = service.backend()
    ansatz = efficient_su2(4, reps=2)
    if measured:
        ansatz.measure_all()
    isa = generate_preset_pass_manager(optimization_level=1, backend=backend,
                                       seed_transpiler=0).run(ansatz)
    observable = SparsePauliOp.from_list([("ZZII", 1.0), ("IIXX", 0.5)]).apply_layout(
        isa.layout)
    rng = np.random.default_rng(1)
    with Session(backend=backend) as session:
        estimator = EstimatorV2(mode=session)
        estimator.options.default_precision = PRECISION
        for _ in range(calls):
            values = rng.uniform(0, 2 * np.pi, ansatz.num_parameters)
            estimator.run([(isa, observable, values)]).result()
    seconds = time.perf_counter() - began
    service.close()
    return seconds


def run(quick: bool = False, **_options: Any) -> Result:
    """Measure B12 (``quick``: 3 calls, one repetition)."""
    calls, repeats = (3, 1) if quick else (CALLS, 5)
    times = interleaved({"bare": lambda: _loop(False, calls),
                         "measured": lambda: _loop(True, calls)}, repeats)
    bare, measured = median(times["bare"]), median(times["measured"])
    ratio = measured / bare
    return Result(
        id="B12",
        figure=f"{calls} Estimator jobs (4 qubits, precision {PRECISION}) whose circuits end "
               "in measurements",
        subject=f"{fmt_s(measured)} ({fmt_s(measured / calls)}/job) with measure_all()",
        baseline=f"{fmt_s(bare)} the same circuits without measurements",
        ratio=f"{ratio:.3f}×",
        target=f"≤ {TARGET}×",
        verdict=verdict(ratio <= TARGET),
        notes=[f"medians of {repeats} interleaved repetitions; measured "
               f"{spread(times['measured'])}, bare {spread(times['bare'])}",
               "final measurements are removed before Aer runs the pub; kept, Aer samples "
               "every shot"],
        raw={"measured_s": times["measured"], "bare_s": times["bare"], "ratio": ratio},
    )

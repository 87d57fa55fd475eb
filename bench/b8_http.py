"""B8: the seed's VQE through the unmodified client over HTTP, against the client's local mode.

The same ``qiskit-ibm-runtime`` calls (``Session``, ``EstimatorV2``, ``result()``) twice:
once against qsession's server on loopback (``qsession.server.connect``, fast clock, a
noiseless ``ibm_brisbane``), once in the client's own local testing mode (a ``Session``
on an ``AerSimulator``, which ignores sessions). Both run the ISA ansatz for
ibm_brisbane, so Aer does the same work; the ratio is the price of the REST round trips
and of real sessions.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from .b1_vqe import CALLS, PRECISION, Workload, workload
from .common import Result, fmt_s, interleaved, median, spread, verdict

TARGET = 1.25


def isa_workload(work: Workload, target: Any) -> tuple[Any, Any]:
    """The ansatz made ISA for ``target`` and the Hamiltonian laid out like it."""
    from qiskit.transpiler import generate_preset_pass_manager

    isa = generate_preset_pass_manager(optimization_level=1, target=target,
                                       seed_transpiler=1).run(work.ansatz)
    return isa, work.hamiltonian.apply_layout(isa.layout)


def vqe(backend: Any, isa: Any, observable: Any, params: list[Any]) -> float:
    """Seconds for the loop through the client's Session and EstimatorV2 on ``backend``."""
    from qiskit_ibm_runtime import EstimatorV2, Session

    began = time.perf_counter()
    with Session(backend=backend) as session:
        estimator = EstimatorV2(mode=session)
        estimator.options.default_precision = PRECISION
        for p in params:
            estimator.run([(isa, observable, p)]).result()
    return time.perf_counter() - began


def run(quick: bool = False, **_options: Any) -> Result:
    """Measure B8 (``quick``: 5 calls, one repetition)."""
    figure = "seed VQE through the unmodified client over HTTP vs its local mode"
    calls, repeats = (5, 1) if quick else (CALLS, 3)
    work = workload(calls)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from qiskit_aer import AerSimulator

        from qsession.server import connect

        connection = connect(clock="fast", noise=False, seed=1)
        try:
            remote = connection.service.backend("ibm_brisbane")
            isa, observable = isa_workload(work, remote.target)
            local = AerSimulator()
            times = interleaved({
                "local": lambda: vqe(local, isa, observable, work.params),
                "http": lambda: vqe(remote, isa, observable, work.params)}, repeats)
        finally:
            connection.close()
    local_s, http_s = median(times["local"]), median(times["http"])
    ratio = http_s / local_s
    return Result(
        id="B8",
        figure=f"{calls}-job {figure}",
        subject=f"{fmt_s(http_s)} ({fmt_s(http_s / calls)}/job) over HTTP",
        baseline=f"{fmt_s(local_s)} client local mode (Session on AerSimulator)",
        ratio=f"{ratio:.3f}×",
        target=f"≤ {TARGET}×",
        verdict=verdict(ratio <= TARGET),
        notes=[f"medians of {repeats} interleaved repetitions; HTTP {spread(times['http'])}, "
               f"local {spread(times['local'])}",
               f"overhead per job {fmt_s((http_s - local_s) / calls)}: each run() is POST "
               "/jobs plus the client's own GET /instances/usage and backend status, then "
               "GET /jobs/{id} and /results; the server and the client share this process"],
        raw={"http_s": times["http"], "local_s": times["local"], "ratio": ratio},
    )

"""B7: the B1 workload through ``qiskit-ibm-runtime``'s local mode, against bare Aer.

IBM's client runs a ``Session`` on a local ``AerSimulator`` in "local mode" (which ignores
sessions). The same calls as B1, through its ``Session`` and ``EstimatorV2`` on an
``AerSimulator``; the ratio is reported beside B1's (no target of its own).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from .b1_vqe import CALLS, PRECISION, Workload, against_bare, workload
from .common import Result, fmt_s, spread


def available() -> bool:
    """True when ``qiskit-ibm-runtime`` can be imported."""
    import importlib.util

    return importlib.util.find_spec("qiskit_ibm_runtime") is not None


def run_ibm(work: Workload) -> float:
    """Seconds for the loop through IBM's ``Session`` in local mode on an AerSimulator."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its V2 primitives warn in local mode
        from qiskit_aer import AerSimulator
        from qiskit_ibm_runtime import EstimatorV2, Session

        backend = AerSimulator()
        began = time.perf_counter()
        with Session(backend=backend) as session:
            estimator = EstimatorV2(mode=session)
            estimator.options.default_precision = PRECISION
            estimator.options.simulator.seed_simulator = 1
            energies = []
            for p in work.params:
                job = estimator.run([(work.ansatz, work.hamiltonian, p)])
                energies.append(float(job.result()[0].data.evs))
        return time.perf_counter() - began


def run(quick: bool = False, previous: dict[str, Result] | None = None, **_options: Any) -> Result:
    """Measure B7 (``quick``: 5 calls, one repetition); quote B1's ratio when it ran."""
    figure = "B1's workload through qiskit-ibm-runtime local mode (Session on AerSimulator)"
    if not available():
        return Result("B7", figure, "—", "—", "—", "report its ratio beside B1's",
                      "not measurable", notes=["qiskit-ibm-runtime is not installed"])
    calls, repeats = (5, 1) if quick else (CALLS, 3)
    work = workload(calls)
    times, bare, ibm = against_bare(work, "ibm", run_ibm, repeats)
    ratio = ibm / bare
    b1 = (previous or {}).get("B1")
    ours = b1.raw.get("ratio") if b1 is not None else None
    beside = f"; qsession (B1) {ours:.3f}×" if isinstance(ours, float) else ""
    from importlib import metadata

    return Result(
        id="B7",
        figure=figure,
        subject=f"{fmt_s(ibm)} ({fmt_s(ibm / calls)}/job)",
        baseline=f"{fmt_s(bare)} bare Aer EstimatorV2",
        ratio=f"{ratio:.3f}×{beside}",
        target="report beside B1",
        verdict="report",
        notes=[f"qiskit-ibm-runtime {metadata.version('qiskit-ibm-runtime')}; medians of "
               f"{repeats} interleaved repetitions; IBM {spread(times['ibm'])}, bare "
               f"{spread(times['bare'])}",
               "local mode ignores sessions (no queue, no ITTL, no max TTL); qsession "
               "emulates them (B1)"],
        raw={"ibm_s": times["ibm"], "bare_s": times["bare"], "ratio": ratio},
    )

"""examples/ibm/: programs in the shape of IBM's guides, ported by changing one import.

Each file's only mention of qsession is ``from qsession.runtime[...] import ...``; every
name it imports exists under the same path in ``qiskit_ibm_runtime`` 0.51, so replacing the
package name is the whole port. Each program runs, and a few of its results are checked.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import runpy
import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "ibm"
# The ported programs (``from qsession.runtime ...``); the others are IBM's programs
# unchanged, which tests/server/test_cli.py runs under ``qsession run``.
FILES = sorted(p for p in EXAMPLES.glob("*.py") if "from qsession.runtime" in p.read_text())


def _checks() -> dict[str, Callable[[dict[str, Any], str], None]]:
    def session(ns: dict[str, Any], out: str) -> None:
        assert ns["details"]["state"] == "closed" and ns["details"]["mode"] == "dedicated"
        assert len(ns["service"].jobs(session_id=ns["session"].session_id)) == 2
        assert -1.0 <= ns["energy"] <= 1.0 and sum(ns["counts"].values()) == 500

    def batch(ns: dict[str, Any], out: str) -> None:
        assert [j.status() for j in ns["jobs"]] == ["DONE", "DONE"]
        assert {j.session_id for j in ns["jobs"]} == {ns["batch"].session_id}
        assert ns["batch"].details()["mode"] == "batch"

    def job_mode(ns: dict[str, Any], out: str) -> None:
        assert set(ns["counts"]) == {"00", "11"} and sum(ns["counts"].values()) == 1024
        assert ns["retrieved"].job_id() == ns["job_id"] and ns["job"].session_id is None

    def tags(ns: dict[str, Any], out: str) -> None:
        assert [j.job_id() for j in ns["tagged"]] == [ns["first"].job_id()]
        assert ns["second"].tags == ["experiment-a", "rerun"]
        found = ns["service"].jobs(job_tags=["experiment-a"])
        assert [j.job_id() for j in found] == [ns["second"].job_id(), ns["first"].job_id()]

    def monitor(ns: dict[str, Any], out: str) -> None:
        assert ns["unwanted"].status() == "CANCELLED" and ns["job"].status() == "DONE"
        assert ns["job"].usage() > 0 and ns["metrics"]["timestamps"]["finished"] is not None

    def est_options(ns: dict[str, Any], out: str) -> None:
        options = ns["estimator"].options
        assert options.resilience_level == 1 and options.default_shots == 4000
        assert options.twirling.num_randomizations == 32
        assert options.resilience.measure_mitigation is True
        assert "not_emulated" in ns["job"].inputs
        assert "twirling.enable_gates" in ns["job"].inputs["not_emulated"]
        assert ">>> Refused: 1 validation error for EstimatorOptions" in out

    def smp_options(ns: dict[str, Any], out: str) -> None:
        assert ns["again"].data.meas.get_counts() == ns["counts"]
        noisy = ns["noisy_counts"]
        assert noisy.get("01", 0) + noisy.get("10", 0) > 0  # the noise model was applied
        assert set(ns["counts"]) == {"00", "11"}

    def qaoa(ns: dict[str, Any], out: str) -> None:
        assert ns["cut"] == 4  # the ring's maximum cut
        assert ns["session"].details()["state"] == "closed"

    def backends(ns: dict[str, Any], out: str) -> None:
        assert ns["status"].operational and ns["status"].pending_jobs == 0
        assert ns["config"].n_qubits == ns["backend"].num_qubits == 16

    def local_mode(ns: dict[str, Any], out: str) -> None:
        counts = ns["result"][0].data.meas.get_counts()
        assert sum(counts.values()) == 1000 and set(counts) > {"00", "11"}  # noisy
        assert ns["props"].backend_name == "ibmq_manila"

    def readme(ns: dict[str, Any], out: str) -> None:
        assert ns["service"].channel == "ibm_quantum_platform"
        # The service is unseeded, as in IBM's README: compare with the exact value within
        # the shot noise the estimator itself reports (5 standard errors).
        from qiskit.quantum_info import SparsePauliOp, Statevector

        exact = Statevector(ns["ansatz"].assign_parameters(ns["params"])).expectation_value(
            SparsePauliOp("ZZ")).real
        data = ns["job"].result()[0].data
        assert 0 < float(data.stds) < 0.05
        assert abs(float(data.evs) - exact) < 5 * float(data.stds)

    def from_id(ns: dict[str, Any], out: str) -> None:
        assert ns["second"].session_id == ns["first"].session_id
        assert "Refused: sampler pub 0: The instruction h on qubits (0,)" in out
        assert ns["session"].status() == "Closed"

    def executor_sampler(ns: dict[str, Any], out: str) -> None:
        assert ns["first"].primitive_id == "executor" and sum(ns["counts"].values()) == 400
        assert set(ns["counts"]) == {"000", "111"} and sum(ns["plain"].values()) == 200
        assert ns["first"].session_id == ns["session"].session_id
        assert ns["session"].status() == "Closed"

    def executor_estimator(ns: dict[str, Any], out: str) -> None:
        assert "<ZZ> over θ = 0, π/2, π, rounded: [1, 1, 1]" in out
        assert "<ZI> over θ = 0, π/2, π, rounded: [1, 0, -1]" in out
        assert {j.session_id for j in ns["jobs"]} == {ns["batch"].session_id}
        assert ns["batch"].details()["state"] == "closed"

    def executor_program(ns: dict[str, Any], out: str) -> None:
        assert ns["bits"].shape == (2, 100, 1) and not ns["bits"][0].any() and ns["bits"][1].all()
        assert ns["job"].tags == ["executor-guide"] and ns["job"].session_id is None
        running = ns["job"].metrics()["timestamps"]["running"]  # IBM's ISO string
        assert ns["span"].start == datetime.fromisoformat(running.replace("Z", "+00:00"))

    return {"executor_sampler_session": executor_sampler,
            "executor_estimator_batch": executor_estimator,
            "executor_program": executor_program,
            "session_estimator_sampler": session, "batch_sampler": batch,
            "job_mode": job_mode, "job_tags": tags, "monitor_job": monitor,
            "estimator_options": est_options, "sampler_options": smp_options,
            "qaoa_maxcut": qaoa, "backend_info": backends, "local_testing_mode": local_mode,
            "client_readme": readme, "session_from_id": from_id}


CHECKS = _checks()


def test_there_are_at_least_ten_and_each_is_checked() -> None:
    assert len(FILES) >= 10
    assert {f.stem for f in FILES} == set(CHECKS)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_the_port_is_the_package_name_alone(path: Path) -> None:
    tree = ast.parse(path.read_text())
    imported: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                "qsession"):
            assert node.module.startswith("qsession.runtime"), node.module
            imported += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("qsession") for a in node.names)
    assert imported, "the example imports nothing from qsession.runtime"
    lines = [ln for ln in path.read_text().splitlines() if "qsession" in ln]
    assert all(ln.startswith("from qsession.runtime") for ln in lines), lines
    for module, name in imported:
        ibm_module = importlib.import_module(module.replace("qsession.runtime",
                                                            "qiskit_ibm_runtime"))
        assert hasattr(ibm_module, name), f"qiskit_ibm_runtime has no {module}.{name}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_it_runs(path: Path) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "accepted, not emulated" notes
        ns = runpy.run_path(str(path), run_name="__main__")
    CHECKS[path.stem](ns, out.getvalue())

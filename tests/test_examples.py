"""The examples run as a user would run them, and leave the session where IBM's would be."""

from __future__ import annotations

import runpy
import warnings
from pathlib import Path

import numpy as np

from qsession.insight.metrics import compute

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_seed_vqe_runs_and_closes_its_session() -> None:
    np.random.seed(0)  # the guide draws x0 from numpy's global generator
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # options={"shots": ...}, V1's name
        ns = runpy.run_path(str(EXAMPLES / "seed_vqe.py"))
    details = ns["session"].details()
    assert details["state"] == "closed" and details["accepting_jobs"] is False
    assert details["mode"] == "dedicated" and details["started_at"] is not None
    assert details["closed_at"] >= details["last_job_completed"]
    result = ns["res"]
    assert result.nfev == len(ns["service"].jobs(limit=None, session_id=details["id"]))
    assert -1.86 < result.fun < -1.0  # H2 ground state is -1.857 Ha
    # No think time in virtual time: the session never went inactive.
    assert details["usage_time"] > 0
    metrics = compute(ns["service"].trace).sessions[details["id"]]
    assert metrics.deactivations == 0 and metrics.activations == 1


def test_qaoa_example_uses_one_session_for_both_primitives() -> None:
    ns = runpy.run_path(str(EXAMPLES / "qaoa_maxcut.py"))
    service, session = ns["service"], ns["session"]
    jobs = service.jobs(session_id=session.session_id)
    kinds = {j.primitive_id for j in jobs}
    assert kinds == {"sampler", "estimator"}
    assert session.details()["state"] == "closed"
    best = ns["best"]
    assert ns["optimum"] == 5
    assert 0 <= best < 2 ** ns["n"] and ns["cut_size"](best) == 5  # seed 7 finds a max cut
    assert ns["history"][-1] < -2  # <H> = 6 - 2 × cut: well past the start's 0
    assert sum(ns["counts"].values()) == 10_000

"""Campaigns on a Dask cluster give what local processes give for the same seeds.

A ``LocalCluster`` on 127.0.0.1 (two worker processes) runs the random programs and a
small what-if sweep through ``dask://HOST:PORT``, as ``qsession verify --executor`` and
``qsession whatif --executor`` do; the verdicts, counts and numbers equal the local run's.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qsession.insight.whatif import WhatIfConfig, sweep
from qsession.properties.programs import campaign
from qsession.runtime import IBMInputValueError
from qsession.runtime.engine.campaign import check_spec

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A two-worker LocalCluster on loopback; its address as an executor spec."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  silence_logs=50) as local:
        address = local.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        yield "dask://" + address.removeprefix("tcp://")


@pytest.mark.heavy  # a local Dask cluster: side processes
def test_random_programs_on_a_cluster_equal_the_local_run(cluster: str) -> None:
    # Seeds 0-299 in shards of 50 (seed 99, 199 and 299: long programs of over 1,000 ids).
    here = campaign(300, start=0, processes=1, chunk=50)
    there = campaign(300, start=0, processes=1, chunk=50, executor=cluster)
    assert there == here
    assert here.runs == 300 and here.long_runs == 3 and here.jobs > 3_000
    assert not here.violations and here.lost == 0 and here.duplicated == 0


@pytest.mark.heavy  # a local Dask cluster: side processes
def test_a_whatif_sweep_on_a_cluster_equals_the_local_one(cluster: str) -> None:
    config = WhatIfConfig(ittls=(1.0, 60.0), seed=3, reps=1, iterations=4, horizon=60.0,
                          shots=256, tenant_shots=(300, 900))
    here = sweep(config, jobs=1)
    there = sweep(config, jobs=2, executor=cluster)
    assert there.runs == here.runs and there.summary == here.summary
    assert len(here.runs) == 2


def test_an_executor_is_local_or_a_dask_address() -> None:
    assert check_spec(None) is None and check_spec("local") == "local"
    assert check_spec("dask://10.0.0.5:8786") == "dask://10.0.0.5:8786"
    for wrong in ("dask://host", "tcp://10.0.0.5:8786", "dask://h:0", "ray://h:1"):
        with pytest.raises(IBMInputValueError, match="dask://HOST:PORT"):
            check_spec(wrong)

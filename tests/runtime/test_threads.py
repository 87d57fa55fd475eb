"""Threads on the wall clock: 8 threads × 200 jobs, closes and cancels racing submissions."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest
from helpers.circuits import bell

from qsession.properties.invariants import check
from qsession.runtime import IBMRuntimeError, LocalService, SamplerV2, Session

THREADS, PER_THREAD = 8, 200


@pytest.mark.wall
def test_racing_threads_lose_and_duplicate_nothing() -> None:
    service = LocalService(clock="wall", speed=2000, seed=5, interactive_timeout=0.5)
    try:
        qpu = service.backend()
        # 100 h is 180 wall seconds at this speed: beyond the test's own bound, so no
        # session expires however slow the machine (8 h, 14 s of wall time, did under load)
        sessions = [Session(qpu, max_time="100h") for _ in range(4)]
        samplers = [SamplerV2(mode=s) for s in sessions]
        job_mode = SamplerV2(mode=qpu)
        circuit = bell()
        refused = Counter[int]()
        errors: list[BaseException] = []

        def worker(n: int) -> None:
            rng = random.Random(n)
            try:
                for i in range(PER_THREAD):
                    k = rng.randrange(5)
                    if n >= 6 and i == PER_THREAD // 2:  # two threads end sessions midway
                        (sessions[n - 6].close if n == 6 else sessions[n - 6].cancel)()
                    try:
                        sampler = job_mode if k == 4 else samplers[k]
                        sampler.run([circuit], shots=rng.choice((10, 50)))
                    except IBMRuntimeError:
                        refused[n] += 1  # a session that no longer accepts jobs
            except BaseException as err:  # pragma: no cover - reported below
                errors.append(err)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads), "a submitting thread is stuck"
        for s in sessions:
            s.close()
        assert service.run_until_idle(timeout=3600 * 24)
        elapsed = time.monotonic() - start
        assert not errors, errors
        jobs = service.all_jobs()
        statuses = Counter(j.status() for j in jobs)
        assert len(jobs) + sum(refused.values()) == THREADS * PER_THREAD
        assert len({j.job_id() for j in jobs}) == len(jobs)  # none duplicated
        assert set(statuses) <= {"DONE", "CANCELLED", "ERROR"}  # every job final, none lost
        assert statuses["DONE"] > 1000, statuses
        assert refused[7] > 0  # the cancel raced submissions
        report = check(service.trace, settled=True)
        assert report.ok, [str(v) for v in report.violations[:5]]
        assert elapsed < 120
    finally:
        service.close()

"""B13: a platform kept in a state folder — restart time at 10k and 100k jobs, and jobs/s.

**Restart.** A state folder is filled with N jobs (dedicated sessions of 100 jobs, each
closed after its last job, plus nothing left queued; built through the emulator's own
service with a null executor, so the trace is what a server writes but no Aer runs), then
a fresh interpreter opens it with ``Emulator(state_dir=...)``: read the trace, replay it
record by record onto a new service, check it, write the restart records. Its time
(imports excluded, reported apart) is set against the same interpreter making a new
platform on an empty folder. **Throughput.** The same HTTP workload (plain-JSON sampler
jobs in job mode, each polled and its result read: every answer that a state folder
makes durable) against a server with no state folder, one with ``--fsync off`` and one
with ``--fsync ack``, interleaved; the figure is jobs/s with a state folder against
jobs/s without.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import REPO, Result, fmt_rate, fmt_s, interleaved, median, spread, verdict

SIZES = (10_000, 100_000)
PER_SESSION = 100
HTTP_JOBS = 150
ACK_TARGET = 0.5
"""jobs/s with ``--fsync ack`` at least half of jobs/s without a state folder."""
OFF_TARGET = 0.8
CONFIG: dict[str, Any] = {"clock": "virtual", "backends": ("qsession_ideal",), "noise": False,
                          "seed": 13}


def build(folder: Path, n: int) -> dict[str, Any]:
    """Fill ``folder`` with ``n`` finished jobs (this process); return what it wrote."""
    from qsession.runtime.engine.clock import to_us
    from qsession.server import Emulator

    emulator = Emulator(state_dir=folder, fsync="off", **CONFIG)
    began = time.perf_counter()
    service = emulator.service
    scheduler = next(iter(service.schedulers.values()))
    scheduler.executor = lambda _payload, _seed: None  # the trace is the subject, not Aer
    tenant = next(iter(emulator.instances))
    with service.clock.lock:
        for first in range(0, n, PER_SESSION):
            session = scheduler.open_session(
                "dedicated", max_time_us=to_us(8 * 3600), ittl_us=to_us(60), instance=tenant)
            for _ in range(min(PER_SESSION, n - first)):
                scheduler.submit(session, instance=tenant, kind="null", payload=None,
                                 duration_us=to_us(2.5), seed=1)
            scheduler.close(session)
            service.run_until_idle()
    emulator.sync()
    emulator.close()
    return {"jobs": n, "records": emulator.trace.count, "build_s": time.perf_counter() - began,
            "trace_bytes": (folder / "trace.jsonl").stat().st_size}


def restart(folder: Path) -> dict[str, Any]:
    """Open ``folder`` in this (fresh) process; the time of each part and the peak RSS."""
    began = time.perf_counter()
    from qsession.server import Emulator

    imported = time.perf_counter()
    emulator = Emulator(state_dir=folder, **CONFIG)
    ready = time.perf_counter()
    out = {"import_s": imported - began, "restart_s": ready - imported,
           "records": emulator.trace.count, "restarts": emulator.restarts,
           "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    emulator.close()
    return out


def _child(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "bench.b13_durable", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=3600, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def restarts(n: int, repeats: int) -> dict[str, Any]:
    """Build a folder of ``n`` jobs once; time ``repeats`` restarts of it and of a new one."""
    with tempfile.TemporaryDirectory() as tmp:
        full, empty = Path(tmp) / "full", Path(tmp) / "empty"
        built = _child("--build", str(full), str(n))
        runs: dict[str, list[dict[str, Any]]] = {"full": [], "empty": []}
        for r in range(repeats):
            for name in (("full", "empty") if r % 2 == 0 else ("empty", "full")):
                folder = full if name == "full" else empty
                runs[name].append(_child("--restart", str(folder)))
                if name == "empty":  # a new platform each time, not a resumed one
                    for path in empty.iterdir():
                        path.unlink()
    return {"built": built, "full": runs["full"], "empty": runs["empty"],
            "restart_s": median(x["restart_s"] for x in runs["full"]),
            "fresh_s": median(x["restart_s"] for x in runs["empty"]),
            "import_s": median(x["import_s"] for x in runs["full"]),
            "peak_rss_mib": max(x["peak_rss_kib"] for x in runs["full"]) / 1024}


def throughput(jobs: int, repeats: int, warmup: bool = True) -> dict[str, list[float]]:
    """jobs/s of the HTTP workload with no state folder, ``--fsync off`` and ``ack``."""
    def one(policy: str) -> Callable[[], float]:
        def measure() -> float:
            with tempfile.TemporaryDirectory() as tmp:
                options = {} if policy == "none" else {"state_dir": Path(tmp), "fsync": policy}
                return http_jobs_per_s(jobs, options)
        return measure
    return interleaved({p: one(p) for p in ("none", "off", "ack")}, repeats, warmup=warmup)


def http_jobs_per_s(jobs: int, options: dict[str, Any]) -> float:
    """Submit ``jobs`` sampler jobs over HTTP, run them, poll each and read its result."""
    import requests
    from qiskit import QuantumCircuit, qasm3
    from qiskit.transpiler import generate_preset_pass_manager

    from qsession.server import Emulator, Server

    server = Server(Emulator(**CONFIG, **options)).start()
    try:
        env = server.env()
        http = requests.Session()
        token = http.post(f"{env['IAM_URL']}/identity/token", timeout=60, data={
            "grant_type": "urn:ibm:params:oauth:grant-type:apikey",
            "apikey": env["QISKIT_IBM_TOKEN"]}).json()["access_token"]
        http.headers.update({"Authorization": f"Bearer {token}",
                             "Service-CRN": env["QISKIT_IBM_INSTANCE"]})
        qpu = server.emulator.backends["qsession_ideal"].qpu
        bell = QuantumCircuit(2)
        bell.h(0)
        bell.cx(0, 1)
        bell.measure_all()
        qasm = qasm3.dumps(generate_preset_pass_manager(1, target=qpu.target).run(bell))
        body: dict[str, Any] = {"program_id": "sampler", "backend": "qsession_ideal",
                "params": {"pubs": [[qasm, None, 16]], "version": 2}}
        base = f"{server.url}/api/v1/jobs"
        began = time.perf_counter()
        ids = [http.post(base, json=body, timeout=60).json()["id"] for _ in range(jobs)]
        control = dict(server.control_headers(), **{"Content-Type": "application/json"})
        http.post(f"{server.url}/qsession/v1/run-until-idle", data="{}", headers=control,
                  timeout=600).raise_for_status()
        for job_id in ids:
            assert http.get(f"{base}/{job_id}", timeout=60).json()["state"]["status"] == \
                "Completed"
            http.get(f"{base}/{job_id}/results", timeout=60).raise_for_status()
        return jobs / (time.perf_counter() - began)
    finally:
        server.stop()


def run(quick: bool = False, **_options: Any) -> Result:
    """Measure B13 (``quick``: a 300-job folder, 10 HTTP jobs, one repetition)."""
    sizes, repeats, jobs = ((300,), 1, 10) if quick else (SIZES, 3, HTTP_JOBS)
    scale = {n: restarts(n, repeats) for n in sizes}
    rates = throughput(jobs, repeats, warmup=not quick)
    none, off, ack = (median(rates[p]) for p in ("none", "off", "ack"))
    largest = scale[sizes[-1]]
    per_job = {n: (s["restart_s"] - s["fresh_s"]) / n for n, s in scale.items()}
    restart_text = "; ".join(f"{n:,} jobs ({s['built']['records']:,} records): "
                             f"{fmt_s(s['restart_s'])}" for n, s in scale.items())
    ok = ack / none >= ACK_TARGET and off / none >= OFF_TARGET
    return Result(
        id="B13",
        figure="state folder: restart time by jobs kept; HTTP jobs/s with a state folder",
        subject=f"restart {restart_text}; jobs/s {fmt_rate(ack, 'jobs')} (fsync ack), "
                f"{fmt_rate(off, 'jobs')} (fsync off)",
        baseline=f"a new platform {fmt_s(largest['fresh_s'])}; "
                 f"{fmt_rate(none, 'jobs')} without a state folder",
        ratio=f"jobs/s {ack / none:.2f}× (ack), {off / none:.2f}× (off)",
        target=f"≥ {ACK_TARGET}× (ack), ≥ {OFF_TARGET}× (off)",
        verdict=verdict(ok),
        notes=[
            "restart = Emulator(state_dir=...) in a fresh interpreter: read the trace, replay "
            "it onto a new service, check every record, write the restart records; imports "
            f"({fmt_s(largest['import_s'])}) not included; medians of {repeats}",
            *(f"{n:,} jobs: {s['built']['records']:,} records, "
              f"{s['built']['trace_bytes'] / 2**20:.1f} MiB of trace; restart "
              f"{fmt_s(s['restart_s'])} ({spread([x['restart_s'] for x in s['full']])}), "
              f"{per_job[n] * 1e6:.0f} µs per job beyond a new platform's "
              f"{fmt_s(s['fresh_s'])}; peak RSS {s['peak_rss_mib']:.0f} MiB"
              for n, s in scale.items()),
            f"HTTP: {jobs} plain-JSON sampler jobs per run (POST, run-until-idle, GET each "
            f"job and its result), medians of {repeats} interleaved runs: none "
            f"{spread([jobs / r for r in rates['none']])}, off "
            f"{spread([jobs / r for r in rates['off']])}, ack "
            f"{spread([jobs / r for r in rates['ack']])} (per run)",
            "fsync ack: the inputs' SQLite commit is fsynced before the job's create record "
            "(under the service lock), the trace and clock files once per answer that follows "
            "new records; off: everything written before the answer, nothing fsynced",
        ],
        raw={"scale": scale, "rates": rates},
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", nargs=2, metavar=("DIR", "JOBS"))
    parser.add_argument("--restart", metavar="DIR")
    args = parser.parse_args()
    if args.build:
        out = build(Path(args.build[0]), int(args.build[1]))
    else:
        out = restart(Path(args.restart))
    print(json.dumps(out))


if __name__ == "__main__":
    main()

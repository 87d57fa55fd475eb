"""The server's one backend object: a ``LocalService``, its tenants and its clock policy.

Route handlers are thin: they authenticate, look the caller's object up here (another
instance's object does not exist for them) and call the runtime's public API.
Everything that changes state runs under the service clock's lock, so concurrent
requests (several client processes) act one at a time, each at one instant.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, ClassVar, Literal

from qsession.runtime import (
    QPU,
    Batch,
    EstimatorV2,
    IBMBackendValueError,
    IBMInputValueError,
    LocalService,
    RuntimeJobNotFound,
    RuntimeJobV2,
    SamplerV2,
    Session,
    Trace,
)
from qsession.runtime.engine import backend_info
from qsession.runtime.engine.clock import DEFAULT_EPOCH, ClockError
from qsession.runtime.engine.ids import IbmIds, scheme_from_spec
from qsession.runtime.engine.records import JobRecord, SessionRecord
from qsession.runtime.engine.recovery import Recovery, recorded_inputs
from qsession.runtime.engine.settings import Instance as RuntimeInstance

from . import models, wire
from .errors import Conflict, Forbidden, NotFound, UnknownBackend
from .forms import Submission
from .store import Fsync, StateError, Store
from .tokens import LIFETIME_S, Tokens

__all__ = ["CLOCKS", "Conflict", "Emulator", "Forbidden", "Instance", "NotFound",
           "ServedBackend", "UnknownBackend"]

log = logging.getLogger("qsession.server")

ClockName = Literal["virtual", "fast", "wall"]
CLOCKS: tuple[ClockName, ...] = ("virtual", "fast", "wall")
PLANS = ("premium", "open")
DEFAULT_TOKEN = "qsession-local-api-key"
DEFAULT_BACKENDS = ("ibm_brisbane", "qsession_ideal")
DEFAULT_INSTANCE = "qsession"
CRN_PREFIX = "crn:v1:bluemix:public:quantum-computing:us-east:a/qsession:"


@dataclass(frozen=True)
class Instance:
    """A tenant: an IBM Cloud service instance with a name, a CRN, a plan and an allocation."""

    name: str
    plan: str = "premium"
    allocation: float = 1.0
    crn_given: str | None = None
    """The CRN a program named, kept exactly (None: derived from the name)."""

    @property
    def crn(self) -> str:
        """The instance's Cloud Resource Name (region us-east, so the client's URL logic holds)."""
        if self.crn_given is not None:
            return self.crn_given
        return f"{CRN_PREFIX}{re.sub(r'[^A-Za-z0-9_.-]', '-', self.name)}::"

    @classmethod
    def named(cls, locator: str) -> Instance:
        """The tenant a program names by CRN or by name, on the default plan (premium, 1).

        An IBM CRN ends ``...:a/ACCOUNT:INSTANCE::``; its instance part is the name (the
        whole CRN when that part is empty).
        """
        if locator.startswith("crn:"):
            parts = locator.split(":")
            name = parts[7] if len(parts) > 7 and parts[7] else locator
            return cls(name, crn_given=locator)
        return cls(locator)

    @classmethod
    def parse(cls, spec: str) -> Instance:
        """``NAME=ALLOCATION[:plan]`` (the ``--instance`` option), e.g. ``lab=0.7:open``."""
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)=([0-9]*\.?[0-9]+)(?::([a-z]+))?", spec.strip())
        if match is None:
            raise IBMInputValueError(
                f"--instance {spec!r}: write NAME=ALLOCATION[:plan], e.g. lab=0.7:premium")
        name, allocation, plan = match.group(1), float(match.group(2)), match.group(3)
        plan = plan or "premium"
        if plan not in PLANS:
            raise IBMInputValueError(f"--instance {spec!r}: plan must be one of {PLANS}")
        if allocation <= 0:
            raise IBMInputValueError(f"--instance {spec!r}: the allocation must be positive")
        return cls(name, plan, allocation)


IDEAL = "qsession_ideal"
"""The name of the ideal QPU (the runtime's ``QPU.ideal()``), served beside IBM's backends."""


class ServedBackend:
    """One QPU as IBM serves it: the runtime's QPU and its REST JSON (``backend_info``).

    The QPU comes from the runtime's own constructors (``QPU.ideal`` or
    ``QPU.from_fake_backend`` under IBM's name), and every JSON body from the runtime's
    ``backend_info``: one lookup and one configuration builder for both doors.
    """

    def __init__(self, name: str, *, noise: bool) -> None:
        if name == IDEAL:
            self.qpu = QPU.ideal(name)
        else:
            try:
                self.qpu = QPU.from_fake_backend(name, name=name, noise=noise)
            except IBMBackendValueError as err:
                raise IBMInputValueError(
                    f"no bundled fake backend for {name!r}; use IBM names such as "
                    f"ibm_brisbane, ibm_torino, ibm_sherbrooke, ibm_kyiv ({err})") from None
        self.name = name
        self.configuration = backend_info.configuration_json(self.qpu)
        self.properties = backend_info.properties_json(self.qpu)
        self.defaults = backend_info.defaults_json(self.qpu)
        self.version = str(self.configuration.get("backend_version", "1.0.0"))


class Emulator:
    """The emulated IBM Quantum Platform: tenants, backends, one ``LocalService``, a clock.

    Its state is the service's (sessions, jobs, tags, deletions: all in the runtime and
    its trace) plus what ``store`` keeps beside it: the inputs jobs were submitted with and
    the results served. With ``state_dir`` both live in that folder and a server started
    on it again resumes the platform (``server/store.py``;
    ``qsession docs server "Persistence and recovery"``).
    """

    faults_in_process: ClassVar[int] = 0
    """Server faults (500 answers) of every emulator this process has run: a test suite
    compares it before and after each test, whichever way the test started its servers."""

    def __init__(self, *, clock: ClockName = "virtual", speed: float = 1.0,
                 backends: Sequence[str] = DEFAULT_BACKENDS,
                 instances: Iterable[Instance] | None = None, seed: int | None = None,
                 token: str = DEFAULT_TOKEN, noise: bool = True,
                 trace_path: str | Path | None = None,
                 settings: Mapping[str, Any] | None = None,
                 token_lifetime: float = LIFETIME_S, strict_accounts: bool = False,
                 state_dir: str | Path | None = None, fsync: Fsync = "ack",
                 fresh: bool = False) -> None:
        if clock not in CLOCKS:
            raise IBMInputValueError(f"clock must be one of {CLOCKS}, not {clock!r}")
        if state_dir is not None and trace_path is not None:
            raise StateError(f"with a state folder the trace is {Path(state_dir) / 'trace.jsonl'}"
                             "; give --state or --trace, not both")
        self.clock_name: ClockName = clock
        self.token = token
        self.strict_accounts = strict_accounts
        """Refuse API keys other than ``token`` and instances not configured (IBM's errors);
        otherwise any key gets a token and a named instance becomes a tenant on first use."""
        self.tokens = Tokens(lifetime_s=token_lifetime)
        """Signs and checks the bearer tokens of this server's IAM (a secret of its own)."""
        tenants = list(instances) if instances is not None else [Instance(DEFAULT_INSTANCE)]
        if not tenants:
            raise IBMInputValueError("the server needs at least one instance")
        self.instances: dict[str, Instance] = {i.name: i for i in tenants}
        self.by_crn = {i.crn: i for i in tenants}
        self.backends = {name: ServedBackend(name, noise=noise) for name in backends}
        self.user_id = wire.user_id(token)
        """The id of the user the API key stands for (jobs' and sessions' ``user_id``)."""
        self.instance_limits: dict[str, float | None] = {}
        """Per instance, the usage limit set by ``PUT /instances/configuration`` (kept in
        the state folder beside the tenants)."""
        self._speed = speed
        self._seed = seed
        self._noise = noise
        self._settings = dict(settings or {})
        self.faults = 0
        self.restarts = 0
        """How many times this platform came back from its state folder (0: a new one)."""
        self._trace_file: IO[str] | None = None
        self._trace_path = None if trace_path is None else Path(trace_path)
        self.store = Store(None if state_dir is None else Path(state_dir), fsync)
        self._build(fresh=fresh)
        self._closed = threading.Event()

    def _config(self, seed: int) -> dict[str, Any]:
        """What a state folder must have been made with to be resumed by this server."""
        return {"clock": self.clock_name, "backends": list(self.backends),
                "instances": [[i.name, i.plan, i.allocation] for i in self.instances.values()],
                "noise": self._noise, "seed": seed,
                "settings": json.loads(json.dumps(self._settings, default=repr))}

    def _build(self, *, fresh: bool) -> None:
        """A new service, or the one the state folder holds, recovered and restarted."""
        seed = self._seed if self._seed is not None else random.SystemRandom().randrange(2**31)
        # The id key and the token secret are the platform's own: a resumed one keeps them
        # (so no id repeats, and the tokens its clients hold are still good).
        config = {**self._config(seed), "ids": IbmIds.fresh().spec(),
                  "token_secret": self.tokens.secret.hex()}
        stored_wins = ("ids", "token_secret") + (() if self._seed is not None else ("seed",))
        resumed = self.store.open(config, stored_wins=stored_wins, fresh=fresh)
        if resumed is not None and self.clock_name == "wall":
            raise StateError(f"{self.store.directory} holds a wall-clock platform: its trace "
                             "can be read (qsession check) but the wall clock's time cannot be "
                             "rebuilt from it, so it is not resumed. Use a new folder")
        if resumed is not None:
            seed, config = int(resumed.config["seed"]), resumed.config
            self.tokens.secret = bytes.fromhex(str(config["token_secret"]))
        kind: Literal["virtual", "wall", "measured"] = (
            "measured" if self.clock_name == "fast" else self.clock_name)
        # Virtual time starts at the documented epoch; fast and wall time at the wall
        # clock's now, so the timestamps a client reads are today's (docs/rest-api.md); a
        # resumed platform keeps the epoch it began with.
        epoch = DEFAULT_EPOCH if self.clock_name == "virtual" else datetime.now(UTC).replace(
            microsecond=0)
        if resumed is not None:
            epoch = resumed.trace.epoch
        self.trace = Trace(epoch=epoch)
        self.service = LocalService(
            clock=kind, speed=self._speed, seed=seed, trace=self.trace, epoch=epoch,
            ids=scheme_from_spec(config["ids"]),
            backends=[b.qpu for b in self.backends.values()],
            instances={i.name: RuntimeInstance(allocation=i.allocation,
                                               plan="open" if i.plan == "open" else "premium")
                       for i in self.instances.values()}, **self._settings)
        self.trace.meta["server_clock"] = self.clock_name
        if resumed is None:
            self.restarts = 0
            self.store.attach(self.trace)
            if self._trace_path is not None:
                self._stream_trace(self._trace_path)
            return
        for spec in self.store.tenants():  # tenants that came after the start, CRNs kept
            tenant = Instance(**spec)
            self.instances[tenant.name] = tenant
            self.by_crn[tenant.crn] = tenant
        self.instance_limits = self.store.instance_limits()
        recovery = Recovery(self.service, resumed.trace)
        recovery.replay(until=resumed.clock_us)
        for tenant in self.instances.values():  # one kept just before the platform stopped
            self.service.add_instance(tenant.name, RuntimeInstance(
                allocation=tenant.allocation, plan="open" if tenant.plan == "open"
                else "premium"))
        self.store.attach(self.trace, start=len(resumed.trace))
        for job in recovery.waiting():
            self._rebind(job)
        recovery.restart()
        self.restarts = recovery.restarts
        log.info("qsession: resumed %s: %d records, %d job(s) queued, %d interrupted",
                 self.store.directory, len(resumed.trace), len(recovery.waiting()),
                 len(recovery.interrupted))

    def _stream_trace(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Line-buffered: a killed server leaves a readable prefix (nothing accepted is lost).
        self._trace_file = open(path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115
        self.trace.stream_to(self._trace_file)

    def _rebind(self, job: JobRecord) -> None:
        """Give a recovered job its inputs back by redoing its submission (nothing queued).

        A job whose inputs cannot be read back keeps none: it fails as a QPU fault when it
        runs (``runtime.recovery``).
        """
        from .routes.jobs import submit_request  # the route's own path, redone

        body = self.store.inputs(job.id)
        tenant = self.instances.get(job.instance)
        if body is None or tenant is None:
            log.warning("qsession: job %s has no stored inputs; it fails if it runs", job.id)
            return
        scheduler = self.service.scheduler_of(job.qpu)
        try:
            with scheduler.rebinding(job):
                submit_request(self, tenant, body, recovering=True)
        except Exception as err:  # the job fails when it runs; the others go on
            log.warning("qsession: job %s cannot be rebuilt from its inputs (%s: %s)",
                        job.id, type(err).__name__, err)

    def fault(self) -> None:
        """Count a fault of the server itself (a request answered 500).

        Called on the event loop's thread only (the app's last error handler), so the
        counts need no lock, and must not take the service's: a request may hold it.
        """
        self.faults += 1
        Emulator.faults_in_process += 1

    @property
    def lock(self) -> threading.RLock:
        """The service clock's lock: every state change holds it."""
        return self.service.clock.lock

    @property
    def durable(self) -> bool:
        """Whether the platform keeps a state folder (answers then wait for ``sync``)."""
        return self.store.directory is not None

    def sync(self) -> None:
        """Make durable what the next answer reveals (called before every answer leaves)."""
        self.store.sync(int(self.service.clock.now()))

    def reset(self) -> None:
        """Empty the platform: no session, job or record; new ids (never an old one again)."""
        with self.lock:
            self.service.close()
            for served in self.backends.values():  # the new service adopts them
                served.qpu.service = None
            self.store.clear()
            if self._trace_file is not None:
                self._trace_file.close()
                self._trace_file = None
            self._build(fresh=True)

    # -- tenants ---------------------------------------------------------------------

    def accepts_key(self, api_key: str | None) -> bool:
        """Whether IAM trades ``api_key`` for a token: any non-empty key, unless strict."""
        if self.strict_accounts:
            return api_key == self.token
        return bool(api_key)

    def instance_of(self, crn: str | None) -> Instance:
        """The tenant named by a ``Service-CRN`` header (or a plain instance name); an
        unknown one becomes a tenant now, unless the server is strict about accounts."""
        if crn and crn in self.by_crn:
            return self.by_crn[crn]
        if crn and crn in self.instances:
            return self.instances[crn]
        if crn and not self.strict_accounts:
            return self.add_tenant(crn)
        raise Forbidden(f"the instance {crn!r} is not one of this account's instances "
                        f"({', '.join(i.crn for i in self.instances.values())})")

    def add_tenant(self, locator: str | Instance) -> Instance:
        """Make the instance a program names (CRN or name) a tenant, on the default plan."""
        tenant = locator if isinstance(locator, Instance) else Instance.named(locator)
        with self.lock:
            if tenant.crn in self.by_crn:
                return self.by_crn[tenant.crn]
            if tenant.name in self.instances:
                if tenant.crn_given is None:
                    return self.instances[tenant.name]
                tenant = replace(tenant, name=tenant.crn)  # a CRN of its own, a name of its own
            self.store.put_tenant(tenant.name, asdict(tenant))
            self.service.add_instance(tenant.name, RuntimeInstance(
                allocation=tenant.allocation,
                plan="open" if tenant.plan == "open" else "premium"))
            self.instances[tenant.name] = tenant
            self.by_crn[tenant.crn] = tenant
        return tenant

    # -- backends --------------------------------------------------------------------

    def backend(self, name: str) -> ServedBackend:
        """The backend called ``name``, or NotFound."""
        try:
            return self.backends[name]
        except KeyError:
            raise NotFound(f"Backend not found: {name!r}; this service has "
                           f"{', '.join(self.backends)}") from None

    def calibration_id(self, name: str) -> str | None:
        """The id of the backend's calibration data (None for the ideal QPU)."""
        backend = self.backends.get(name)
        if backend is None or backend.properties is None:
            return None
        return wire.calibration_id(name, backend.properties)

    def wait_times(self, name: str) -> dict[str, int]:
        """Whole seconds jobs waited on the backend before they ran: average, p50, p95.

        From the jobs that started (creation to start), as IBM's ``wait_time_seconds``;
        zeros before any job started.
        """
        with self.lock:
            waits = sorted((job.running - job.created) / 1e6 for job in self.all_jobs()
                           if job.qpu == name and job.running is not None)
        if not waits:
            return {"average": 0, "p50": 0, "p95": 0}

        def rank(q: float) -> int:
            return round(waits[min(len(waits) - 1, int(q * len(waits)))])

        return {"average": round(sum(waits) / len(waits)), "p50": rank(0.5), "p95": rank(0.95)}

    def queue_length(self, name: str) -> int:
        """Jobs queued on the backend now (what ``least_busy`` sorts on)."""
        with self.lock:
            return int(self.service.schedulers[name].queued_count)

    # -- sessions --------------------------------------------------------------------

    def open_session(self, tenant: Instance, *, backend: str, mode: str,
                     max_ttl: Any) -> Session:
        """Create a dedicated session or a batch for ``tenant`` on ``backend``."""
        served = self.backend(backend)
        if mode not in ("dedicated", "batch"):
            raise IBMInputValueError(f"mode must be 'dedicated' or 'batch', not {mode!r}")
        cls = Session if mode == "dedicated" else Batch
        with self.lock:
            return cls(served.qpu, max_time=max_ttl, service=self.service,
                       instance=tenant.name)

    def session(self, tenant: Instance, session_id: str) -> Session:
        """The tenant's session ``session_id``, or NotFound (also for another tenant's)."""
        record = self._session_record(session_id)
        if record is None or record.instance != tenant.name:
            raise NotFound(f"Session not found: no session {session_id!r} in this instance")
        cls = Session if record.mode == "dedicated" else Batch
        return cls._attach(self.service, record)

    def _session_record(self, session_id: str) -> SessionRecord | None:
        for scheduler in self.service.schedulers.values():
            record = scheduler.sessions.get(session_id)
            if record is not None:
                return record
        return None

    def all_sessions(self) -> Iterator[SessionRecord]:
        """Every session and batch of every tenant, in no particular order."""
        for scheduler in self.service.schedulers.values():
            yield from scheduler.sessions.values()

    def sessions_of(self, tenant: Instance) -> list[Session]:
        """The tenant's sessions and batches, in the order they were opened."""
        records = sorted((r for r in self.all_sessions() if r.instance == tenant.name),
                         key=lambda r: r.created_at)
        return [(Session if r.mode == "dedicated" else Batch)._attach(self.service, r)
                for r in records]

    # -- jobs ------------------------------------------------------------------------

    def job_json(self, job: RuntimeJobV2, *, params: bool = False) -> models.JobResponse:
        """IBM's JSON of an accepted job (``GET /jobs/{id}``, one entry of ``GET /jobs``)."""
        tenant = self.instances.get(job.instance)
        crn = tenant.crn if tenant is not None else job.instance
        return wire.job_json(job, crn=crn, tags=job.tags, user=self.user_id,
                             calibration=self.calibration_id(job.backend().name),
                             params=self.params(job) if params else None,
                             include_params=params)

    def check_instance_limit(self, tenant: Instance) -> None:
        """Refuse a job (409) when the instance's usage reached its limit (IBM's rule)."""
        limit = self.instance_limits.get(tenant.name)
        if limit is not None and self.usage_seconds(tenant) >= limit:
            raise Conflict(f"Usage exceeds instance limit: {self.usage_seconds(tenant):g} s "
                           f"used of {limit:g} s; raise it with PUT /instances/configuration")

    def set_instance_limit(self, tenant: Instance, limit: float | None) -> None:
        """Set (or remove, None) the tenant's usage limit; kept in the state folder."""
        with self.lock:
            self.store.put_instance_limit(tenant.name, limit)
            self.instance_limits[tenant.name] = limit

    def qubits(self) -> dict[str, int]:
        """Each served backend's width (what ``forms.normalise`` checks bodies against)."""
        return {name: served.qpu.num_qubits for name, served in self.backends.items()}

    def mode_of(self, tenant: Instance, submission: Submission) -> Any:
        """Where a job runs: the tenant's session it names (on the same backend), or the QPU."""
        served = self.backends[submission.backend]
        if submission.session_id is None:
            return served.qpu
        session = self.session(tenant, submission.session_id)
        if session.backend() != submission.backend:
            raise IBMInputValueError(
                f"session {submission.session_id} runs on {session.backend()}, not "
                f"{submission.backend}")
        return session

    def submit(self, tenant: Instance, submission: Submission) -> RuntimeJobV2:
        """Run a primitive job from a normalised ``POST /jobs`` body (``forms.normalise``)."""
        options = dict(submission.options)
        tags = list(submission.tags)
        if tags:
            environment = dict(options.get("environment") or {})
            environment["job_tags"] = tags
            options["environment"] = environment
        if submission.cost is not None:
            options["max_execution_time"] = submission.cost
        if submission.private:  # IBM's private: true (its params are never returned)
            environment = dict(options.get("environment") or {})
            environment["private"] = True
            options["environment"] = environment
        with self.lock:
            mode = self.mode_of(tenant, submission)
            primitive: SamplerV2 | EstimatorV2
            if submission.program == "sampler":
                primitive = SamplerV2(mode, options=options, instance=tenant.name)
            else:
                primitive = EstimatorV2(mode, options=options, instance=tenant.name)
            return primitive.run(list(submission.pubs))

    def job(self, tenant: Instance, job_id: str) -> RuntimeJobV2:
        """The tenant's job ``job_id``, or NotFound (also for another tenant's or a deleted one)."""
        try:
            record = self.service.job_record(job_id)
        except RuntimeJobNotFound:
            record = None
        if record is None or record.instance != tenant.name:
            raise NotFound(f"Job not found: no job {job_id!r} in this instance")
        return RuntimeJobV2(self.service, record)

    def all_jobs(self) -> Iterator[JobRecord]:
        """Every job of every tenant, deleted ones included, in no particular order."""
        for scheduler in self.service.schedulers.values():
            yield from scheduler.jobs.values()

    def jobs_of(self, tenant: Instance) -> list[RuntimeJobV2]:
        """The tenant's jobs not deleted, in the order they were submitted."""
        records = sorted((r for r in self.all_jobs()
                          if r.instance == tenant.name and not r.deleted), key=lambda r: r.seq)
        return [RuntimeJobV2(self.service, r) for r in records]

    def params(self, job: RuntimeJobV2) -> Any:
        """The ``params`` the job was submitted with, as the client sent them (JSON)."""
        body = self.store.inputs(job.job_id())
        if body is None:
            return None
        data = json.loads(body)
        return data.get("params") if isinstance(data, dict) else None

    def result_text(self, job: RuntimeJobV2, encode: Any) -> str | None:
        """A DONE job's result as served: the text served first, kept (on disk with a
        state folder) before it leaves; ``encode(job, params)`` writes it the first time
        (``params``: as submitted, which say the form the caller wants). A private job's
        results are served once: IBM's reference says they are deleted after the first
        read, so later reads get None (the store keeps only that they were read).

        A job that ended before a restart and whose result no client read is run on Aer
        again from its stored inputs with its recorded seed: the same counts and values.
        """
        job_id = job.job_id()
        text = self.store.result(job_id)
        if text is not None:
            return None if job.private else text
        with self.lock:
            record = self.service.job_record(job_id)
            if recorded_inputs(record):
                self._rebind(record)
                if recorded_inputs(record):
                    raise Conflict(f"Job {job_id} ended before the platform restarted and its "
                                   "result was never read; its inputs could not be read back, "
                                   "so the result cannot be computed again")
                scheduler = self.service.scheduler_of(record.qpu)
                record.result = scheduler.executor(record.payload, record.seed)
            text = str(encode(job, self.params(job) or {}))
            self.store.put_result(job_id, "" if job.private else text)
        return text

    def cancel_job(self, job: RuntimeJobV2) -> None:
        """Cancel a queued or running job; a final one is a Conflict (409)."""
        with self.lock:
            if job.in_final_state():
                # IBM's words for this 409 first ("Job is in non cancellable status."),
                # then which status it is in.
                raise Conflict(f"Job is in non cancellable status: job {job.job_id()} "
                               f"cannot be cancelled, it is already "
                               f"{wire.job_state(job)['status']}")
            job.cancel()

    def set_tags(self, job: RuntimeJobV2, tags: list[str]) -> None:
        """Replace the job's tags (as sent; recorded in the trace)."""
        record = self.service.job_record(job.job_id())
        self.service.scheduler_of(record.qpu).set_tags(record, tags)

    def delete_job(self, job: RuntimeJobV2) -> None:
        """Delete a final job (recorded in the trace); a job not final is refused (400)."""
        with self.lock:
            if not job.in_final_state():
                # IBM: "Job must be in a terminal state"; its reference answers 400.
                raise IBMInputValueError(
                    f"Job {job.job_id()} is {wire.JOB_STATUS[job.status()]}: only a final "
                    "job can be deleted; cancel it first (POST /jobs/{id}/cancel)")
            record = self.service.job_record(job.job_id())
            self.service.scheduler_of(record.qpu).delete_job(record)

    def wait_step(self, job: RuntimeJobV2) -> None:
        """A client polls a job that is not final: on the fast clock, time jumps to the next
        event that changes the job's state (it starts or ends), firing every timer on the
        way, as ``job.result()`` jumps in process."""
        if self.clock_name != "fast":
            return
        with self.lock:
            before = job.status()
            if before in ("DONE", "ERROR", "CANCELLED"):
                return
            try:
                self.service.clock.wait_for(lambda: job.status() != before)
            except ClockError:  # nothing is due that could move it: leave time where it is
                return

    def step(self) -> bool:
        """Virtual time: jump to the next timer and fire it; False when no timer is left."""
        clock: Any = self.service.clock
        with self.lock:
            timer = clock.next_timer()
            if timer is None:
                return False
            clock.advance_to(max(timer.at, clock.now()))
            return True

    def usage_seconds(self, tenant: Instance) -> float:
        """QPU seconds charged to the tenant in the fair-share window (one ledger
        for every QPU; dedicated sessions their usage_time, other jobs their QPU time)."""
        with self.lock:
            service: Any = self.service
            ledger = service.fair_share
            now = service.clock.now()
            used = ledger.used(tenant.name, now) if tenant.name in ledger.allocations else 0
            return float(used) / 1e6

    def quota_seconds(self, tenant: Instance) -> float | None:
        """The tenant's plan quota per window (the Open Plan's 600 s), or None."""
        scheduler = next(iter(self.service.schedulers.values()), None)
        return None if scheduler is None else scheduler.settings.quota_of(tenant.name)

    # -- lifetime --------------------------------------------------------------------

    def close(self) -> None:
        """Stop the service's threads and close the streamed trace and the store."""
        if self._closed.is_set():
            return
        self._closed.set()
        self.service.close()
        with self.lock:
            if self._trace_file is not None:
                self._trace_file.flush()
                self._trace_file.close()
            self.store.close()

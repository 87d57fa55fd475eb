"""The server's one backend object: a ``LocalService``, its tenants and its clock policy.

Route handlers are thin: they authenticate, look the caller's object up here (another
instance's object does not exist for them) and call the runtime's public API.
Everything that changes state runs under the service clock's lock, so concurrent
requests (several client processes) act one at a time, each at one instant.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
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
    RuntimeJobV2,
    SamplerV2,
    Session,
    Trace,
    backend_info,
)
from qsession.runtime.clock import DEFAULT_EPOCH, ClockError
from qsession.runtime.settings import Instance as RuntimeInstance

from . import wire
from .errors import Conflict, Forbidden, NotFound, UnknownBackend
from .forms import Submission
from .tokens import LIFETIME_S, Tokens

__all__ = ["CLOCKS", "Conflict", "Emulator", "Forbidden", "Instance", "JobEntry", "NotFound",
           "ServedBackend", "SessionEntry", "UnknownBackend"]

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


@dataclass
class JobEntry:
    """A job the server accepted: the runtime handle, its tenant and what the client sent."""

    job: RuntimeJobV2
    instance: Instance
    params: Any
    tags: list[str]
    deleted: bool = False
    result_text: str | None = None
    plain_results: bool = False
    """The job was submitted without ``support_qiskit``: its results are IBM's plain JSON."""
    schema_version: str | None = None
    """An executor job's params schema version: its result is written in the same version."""


@dataclass
class SessionEntry:
    """A session or batch the server opened, with its tenant."""

    session: Session
    instance: Instance
    jobs: list[str] = field(default_factory=list)


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
    """The emulated IBM Quantum Platform: tenants, backends, one ``LocalService``, a clock."""

    faults_in_process: ClassVar[int] = 0
    """Server faults (500 answers) of every emulator this process has run: a test suite
    compares it before and after each test, whichever way the test started its servers."""

    def __init__(self, *, clock: ClockName = "virtual", speed: float = 1.0,
                 backends: Sequence[str] = DEFAULT_BACKENDS,
                 instances: Iterable[Instance] | None = None, seed: int | None = None,
                 token: str = DEFAULT_TOKEN, noise: bool = True,
                 trace_path: str | Path | None = None,
                 settings: Mapping[str, Any] | None = None,
                 token_lifetime: float = LIFETIME_S, strict_accounts: bool = False) -> None:
        if clock not in CLOCKS:
            raise IBMInputValueError(f"clock must be one of {CLOCKS}, not {clock!r}")
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
        kind: Literal["virtual", "wall", "measured"] = (
            "measured" if clock == "fast" else clock)
        # Virtual time starts at the documented epoch; fast and wall time at the wall
        # clock's now, so the timestamps a client reads are today's (docs/rest-api.md).
        epoch = DEFAULT_EPOCH if clock == "virtual" else datetime.now(UTC).replace(
            microsecond=0)
        self.trace = Trace(epoch=epoch)
        self.user_id = wire.user_id(token)
        """The id of the user the API key stands for (jobs' and sessions' ``user_id``)."""
        self.instance_limits: dict[str, float | None] = {}
        """Per instance, the usage limit set by ``PUT /instances/configuration``."""
        self.service = LocalService(
            clock=kind, speed=speed, seed=seed, trace=self.trace, epoch=epoch,
            backends=[b.qpu for b in self.backends.values()],
            instances={i.name: RuntimeInstance(allocation=i.allocation,
                                               plan="open" if i.plan == "open" else "premium")
                       for i in tenants}, **dict(settings or {}))
        self.trace.meta["server_clock"] = clock
        self.lock = self.service.clock.lock
        self.jobs: dict[str, JobEntry] = {}
        self.sessions: dict[str, SessionEntry] = {}
        self.faults = 0
        self._trace_file: IO[str] | None = None
        if trace_path is not None:
            path = Path(trace_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            # Line-buffered: a killed server leaves a readable prefix (nothing accepted is lost).
            self._trace_file = open(path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115
            self.trace.stream_to(self._trace_file)
        self._closed = threading.Event()

    def fault(self) -> None:
        """Count a fault of the server itself (a request answered 500).

        Called on the event loop's thread only (the app's last error handler), so the
        counts need no lock, and must not take the service's: a request may hold it.
        """
        self.faults += 1
        Emulator.faults_in_process += 1

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
            waits = sorted(
                (wire.parse_time(job.metrics()["timestamps"]["running"])
                 - job.creation_date).total_seconds()
                for job in (e.job for e in self.jobs.values())
                if job.backend().name == name
                and job.metrics()["timestamps"].get("running") is not None)
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
            session = cls(served.qpu, max_time=max_ttl, service=self.service,
                          instance=tenant.name)
            self.sessions[session.session_id] = SessionEntry(session, tenant)
        return session

    def session(self, tenant: Instance, session_id: str) -> SessionEntry:
        """The tenant's session ``session_id``, or NotFound (also for another tenant's)."""
        entry = self.sessions.get(session_id)
        if entry is None or entry.instance is not tenant:
            raise NotFound(f"Session not found: no session {session_id!r} in this instance")
        return entry

    # -- jobs ------------------------------------------------------------------------

    def job_json(self, entry: JobEntry, *, params: bool = False) -> dict[str, Any]:
        """IBM's JSON of an accepted job (``GET /jobs/{id}``, one entry of ``GET /jobs``)."""
        job = entry.job
        return wire.job_json(job, crn=entry.instance.crn, tags=entry.tags, user=self.user_id,
                             calibration=self.calibration_id(job.backend().name),
                             params=entry.params, include_params=params)

    def check_instance_limit(self, tenant: Instance) -> None:
        """Refuse a job (409) when the instance's usage reached its limit (IBM's rule)."""
        limit = self.instance_limits.get(tenant.name)
        if limit is not None and self.usage_seconds(tenant) >= limit:
            raise Conflict(f"Usage exceeds instance limit: {self.usage_seconds(tenant):g} s "
                           f"used of {limit:g} s; raise it with PUT /instances/configuration")

    def qubits(self) -> dict[str, int]:
        """Each served backend's width (what ``forms.normalise`` checks bodies against)."""
        return {name: served.qpu.num_qubits for name, served in self.backends.items()}

    def mode_of(self, tenant: Instance, submission: Submission) -> tuple[Any, SessionEntry | None]:
        """Where a job runs: the tenant's session it names (on the same backend), or the QPU."""
        served = self.backends[submission.backend]
        if submission.session_id is None:
            return served.qpu, None
        entry = self.session(tenant, submission.session_id)
        if entry.session.backend() != submission.backend:
            raise IBMInputValueError(
                f"session {submission.session_id} runs on {entry.session.backend()}, not "
                f"{submission.backend}")
        return entry.session, entry

    def submit(self, tenant: Instance, submission: Submission) -> JobEntry:
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
            mode, session_entry = self.mode_of(tenant, submission)
            primitive: SamplerV2 | EstimatorV2
            if submission.program == "sampler":
                primitive = SamplerV2(mode, options=options, instance=tenant.name)
            else:
                primitive = EstimatorV2(mode, options=options, instance=tenant.name)
            job = primitive.run(list(submission.pubs))
            entry = JobEntry(job, tenant, submission.params, tags,
                             plain_results=submission.plain_results)
            self.jobs[job.job_id()] = entry
            if session_entry is not None:
                session_entry.jobs.append(job.job_id())
        return entry

    def job(self, tenant: Instance, job_id: str) -> JobEntry:
        """The tenant's job ``job_id``, or NotFound (also for another tenant's or a deleted one)."""
        entry = self.jobs.get(job_id)
        if entry is None or entry.instance is not tenant or entry.deleted:
            raise NotFound(f"Job not found: no job {job_id!r} in this instance")
        return entry

    def cancel_job(self, entry: JobEntry) -> None:
        """Cancel a queued or running job; a final one is a Conflict (409)."""
        with self.lock:
            if entry.job.in_final_state():
                raise Conflict(f"Job {entry.job.job_id()} cannot be cancelled: it is already "
                               f"{entry.job.status()}")
            entry.job.cancel()

    def wait_step(self, entry: JobEntry) -> None:
        """A client polls a job that is not final: on the fast clock, time jumps to the next
        event that changes the job's state (it starts or ends), firing every timer on the
        way, as ``job.result()`` jumps in process."""
        if self.clock_name != "fast":
            return
        with self.lock:
            job = entry.job
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
        """Stop the service's threads and close the streamed trace."""
        if self._closed.is_set():
            return
        self._closed.set()
        self.service.close()
        if self._trace_file is not None:
            with self.lock:
                self._trace_file.flush()
                self._trace_file.close()


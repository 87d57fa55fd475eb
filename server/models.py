"""IBM's REST response and request shapes as pydantic models (the OpenAPI document's schemas).

Each model follows the schema of the same name in IBM's Qiskit Runtime REST reference
(quantum.cloud.ibm.com/docs/api/qiskit-runtime-rest): fields the reference marks required
are required here, typed as IBM types them. Route handlers declare them as
``response_model`` so FastAPI checks their answers against them and the published document
carries them; ``GET /jobs`` and ``GET /jobs/{id}`` write their JSON themselves (params in
the client's encoding), so FastAPI does not check those: the repository's OpenAPI contract
test checks them against the document. ``extra="allow"`` where IBM's own schema allows more
(a backend's configuration). Request bodies are models too, so a fuzzer reading
``/openapi.json`` can build them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema, WithJsonSchema

# -- errors ----------------------------------------------------------------------------


class ErrorItem(BaseModel):
    """One error: IBM's numeric code (quantum.cloud.ibm.com/docs/errors), its message, a
    solution and a link."""

    code: int = Field(description="IBM's error code (quantum.cloud.ibm.com/docs/errors)")
    message: str
    solution: str
    more_info: str


class ErrorBody(BaseModel):
    """IBM's error body: ``{"errors": [...], "trace": ...}`` and nothing more."""

    model_config = ConfigDict(extra="forbid")
    errors: list[ErrorItem]
    trace: str = Field(description="A request identifier (a UUID)")


# -- jobs ------------------------------------------------------------------------------

JobStatus = Literal["Queued", "Running", "Completed", "Cancelled", "Failed"]
MAX_TAGS = 8
MAX_TAG_LENGTH = 86
TagText = Annotated[str, StringConstraints(max_length=MAX_TAG_LENGTH)]
"""A job tag: IBM allows at most 8 of at most 86 characters each (its ``Tags`` schema)."""


MAX_QUERY_TIME = 100
"""IBM's longest ``created_after``/``created_before`` of ``GET /jobs`` (characters)."""


def _time_text(value: Any) -> Any:
    """A query's date-time text within IBM's 1 to 100 characters (pydantic takes longer)."""
    if isinstance(value, str) and not 1 <= len(value) <= MAX_QUERY_TIME:
        raise ValueError(f"a date-time of 1 to {MAX_QUERY_TIME} characters (IBM's limit), "
                         f"not {len(value)}")
    return value


QueryTime = Annotated[datetime, BeforeValidator(_time_text), WithJsonSchema(
    {"type": "string", "format": "date-time", "minLength": 1, "maxLength": MAX_QUERY_TIME})]
"""A date-time query filter as IBM's ``GET /jobs`` declares it (a string of 1-100 characters)."""


class JobState(BaseModel):
    """``state`` of a job; ``reason``/``reason_code``/``reason_solution`` when it failed."""

    status: JobStatus
    reason: str | None = None
    reason_code: int | None = Field(default=None, ge=1000, le=9999)
    reason_solution: str | None = None


class Program(BaseModel):
    """The program a job runs (``sampler``, ``estimator``, ``executor``)."""

    id: str


class Usage(BaseModel):
    """What a workload is charged: QPU seconds and whether billing is final."""

    qpu_charge_time_seconds: float = Field(ge=0)
    status: Literal["pending", "complete"] | None = None


class JobResponse(BaseModel):
    """``GET /jobs/{id}`` and each entry of ``GET /jobs`` (IBM's ``JobResponseV3``)."""

    model_config = ConfigDict(extra="allow")
    id: str
    backend: str
    state: JobState
    status: JobStatus
    params: dict[str, Any] | None = None
    program: Program
    created: str
    runtime: str = ""
    cost: int = Field(ge=0, le=10800)
    tags: list[TagText] = Field(default_factory=list, max_length=MAX_TAGS)
    session_id: str | None = None
    user_id: str
    usage: Usage
    private: bool | None = None
    estimated_running_time_seconds: float | None = None
    calibration_id: str | None = None
    instance: str | None = None


class JobsResponse(BaseModel):
    """``GET /jobs``: one page, with IBM's ``limit``, ``offset`` and the total ``count``."""

    jobs: list[JobResponse]
    count: int = Field(ge=0)
    offset: int = Field(ge=0)
    limit: int = Field(ge=1, le=200)


class JobCreateResponse(BaseModel):
    """``POST /jobs``: the new job's id and backend (``private`` only when true)."""

    model_config = ConfigDict(extra="allow")
    id: str
    backend: str
    session_id: str | None = None
    private: bool | None = None
    calibration_id: str | None = None


class JobCreateRequest(BaseModel):
    """``POST /jobs`` (IBM's ``JobRunParams``): a program, a backend, its params and options.

    ``params`` follow the program's schema (``ibm-quantum-schemas``); they are checked
    after the request forms IBM documents are normalised, not by this model.
    """

    model_config = ConfigDict(extra="allow")
    program_id: Literal["sampler", "estimator", "executor"]
    backend: str = Field(min_length=1, max_length=10000)
    params: dict[str, Any]
    runtime: str | None = Field(default=None, min_length=1, max_length=10000)
    tags: list[TagText] | None = Field(default=None, max_length=MAX_TAGS)
    log_level: Literal["critical", "error", "warning", "info", "debug"] | None = None
    cost: int | None = Field(default=None, ge=0, le=10800)
    session_id: str | None = Field(default=None, min_length=1, max_length=36)
    calibration_id: str | None = Field(default=None, min_length=1, max_length=100)
    private: bool | None = None


class ReplaceTags(BaseModel):
    """``PUT /jobs/{id}/tags``: at most 8 tags of at most 86 characters ([] clears them)."""

    tags: list[TagText] = Field(max_length=MAX_TAGS)


MAX_TAGS_FOUND = 5
"""IBM's tag search answers at most five tags (its response schema's ``maxItems``)."""


class TagsFound(BaseModel):
    """``GET /tags``: the job tags that contain the search string, newest job's first."""

    tags: list[TagText] = Field(max_length=MAX_TAGS_FOUND)


class Timestamps(BaseModel):
    """A job's ``created``, ``running`` and ``finished`` instants (each once reached)."""

    model_config = ConfigDict(extra="forbid")
    created: str | None = None
    running: str | None = None
    finished: str | None = None


class MetricsUsage(BaseModel):
    """``usage`` of a job's metrics: IBM's ``UsageV3`` from API version 2026-03-15 on;
    before, ``quantum_seconds`` and ``seconds`` (whole seconds) instead."""

    model_config = ConfigDict(extra="forbid")
    qpu_charge_time_seconds: float | None = Field(default=None, ge=0)
    status: Literal["pending", "complete"] | None = None
    quantum_seconds: int | None = Field(
        default=None, ge=0, description="API versions before 2026-03-15 only")
    seconds: int | None = Field(
        default=None, ge=0, description="API versions before 2026-03-15 only")


class BilledSeconds(BaseModel):
    """``bss`` of a job's metrics (API versions before 2026-03-15): billed whole seconds."""

    model_config = ConfigDict(extra="forbid")
    seconds: int = Field(ge=0)


class JobMetrics(BaseModel):
    """``GET /jobs/{id}/metrics`` (IBM's ``JobMetricsResponse``), per the API version asked.

    From 2026-03-15 on: timestamps, ``usage`` (UsageV3) and ``qiskit_version`` (a version
    number); before, also ``bss``, whole seconds in ``usage`` and the versions of the
    packages. Unknown values are omitted, never null; nothing else is sent.
    """

    model_config = ConfigDict(extra="forbid")
    timestamps: Timestamps
    usage: MetricsUsage
    qiskit_version: str
    caller: str | None = None
    circuits_execution_time_ns: float | None = Field(default=None, ge=0)
    bss: BilledSeconds | None = Field(
        default=None, description="API versions before 2026-03-15 only")


# -- sessions --------------------------------------------------------------------------

SessionState = Literal["open", "active", "inactive", "closed"]
ExecutionMode = Literal["batch", "dedicated"]


class CreateSession(BaseModel):
    """``POST /sessions``: a backend, a mode and an optional ``max_ttl`` in seconds.

    IBM may leave a session's backend open until its first job; an emulated session is
    bound to its QPU when it opens, so ``backend`` (or ``backend_name``) is required.
    """

    model_config = ConfigDict(extra="allow", json_schema_extra={
        "anyOf": [{"required": ["backend"]}, {"required": ["backend_name"]}]})
    mode: ExecutionMode = "dedicated"
    backend: str | SkipJsonSchema[None] = Field(default=None, min_length=1)
    backend_name: str | SkipJsonSchema[None] = Field(default=None, min_length=1)
    max_ttl: int | None = Field(default=None, ge=1, le=2147483647)
    instance: str | None = None


class UpdateSession(BaseModel):
    """``PATCH /sessions/{id}``: whether the session accepts new jobs."""

    model_config = ConfigDict(extra="forbid")
    accepting_jobs: bool


class SessionTimestamp(BaseModel):
    """One state change of a session."""

    status: SessionState
    timestamp: str


class SessionResponse(BaseModel):
    """``GET /sessions/{id}`` and the ``POST /sessions`` reply (IBM's ``JobSession``)."""

    id: str
    backend_name: str | None
    started_at: str | None = None
    activated_at: str | None = None
    closed_at: str | None = None
    last_job_started: str | None = None
    last_job_completed: str | None = None
    interactive_ttl: int | None = Field(default=None, ge=1)
    max_ttl: int | None = Field(default=None, ge=1)
    active_ttl: int | None = Field(default=None, ge=1)
    state: SessionState
    state_reason: str | None = None
    accepting_jobs: bool
    mode: ExecutionMode
    timestamps: list[SessionTimestamp]
    user_id: str
    elapsed_time: float | None = None


# -- backends --------------------------------------------------------------------------


class DeviceStatus(BaseModel):
    """A device's status in ``GET /backends``."""

    name: Literal["online", "paused", "offline"]
    reason: str | None = None


class ProcessorType(BaseModel):
    """IBM's processor type: family, ``revision`` (a string such as ``"1.0"``), segment."""

    family: str | None = None
    revision: str | None = None
    segment: str | None = None


class Clops(BaseModel):
    """Circuit layer operations per second."""

    type: Literal["virtual", "hardware"]
    value: int


class Device(BaseModel):
    """One entry of ``GET /backends``."""

    model_config = ConfigDict(extra="allow")
    name: str
    status: DeviceStatus
    is_simulator: bool = False
    qubits: int | None = None
    clops: Clops | None = None
    processor_type: ProcessorType | None = None
    queue_length: int = Field(ge=0)
    performance_metrics: dict[str, Any] = Field(default_factory=dict)
    wait_time_seconds: dict[str, int] | None = None


class BackendsResponse(BaseModel):
    """``GET /backends``."""

    devices: list[Device]


class BackendStatus(BaseModel):
    """``GET /backends/{id}/status``."""

    model_config = ConfigDict(extra="forbid")
    state: bool
    status: str
    message: str
    length_queue: int = Field(ge=0)
    backend_version: str


AsciiName = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                             pattern=r"^[a-zA-Z0-9]+$")]
"""A gate parameter's name (IBM's ``GateConfig.parameters``: letters and digits)."""


class GateConfig(BaseModel):
    """One gate of a configuration (IBM's ``GateConfig``), as strict as IBM's answers.

    IBM's schema requires ``parameters`` and a non-empty ``qasm_def``; its recorded
    answers (the fake backends' configurations) send ``parameters: null`` for ``reset``
    and ``qasm_def: null`` for the non-unitary ``measure`` and ``reset``, and name some
    gates ``measure_2``: those are allowed, nothing looser.
    """

    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_]+$")
    parameters: list[AsciiName] | None
    qasm_def: str | None = Field(min_length=1, max_length=1024)
    coupling_map: list[list[Annotated[int, Field(ge=0)]]] | None = None


class ConfigProcessorType(BaseModel):
    """A configuration's ``processor_type``: IBM requires ``family`` (one ASCII word) and
    ``revision`` (major.minor)."""

    model_config = ConfigDict(extra="allow")
    family: str = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9]+$")
    revision: str = Field(min_length=1, max_length=64, pattern=r"^[0-9]+\.[0-9]+$")
    segment: str | None = None


class UChannelLO(BaseModel):
    """One term of a control channel's LO: a qubit and a complex scale ``[re, im]``."""

    q: int = Field(ge=0)
    scale: list[float] = Field(min_length=2, max_length=2)


class BackendConfiguration(BaseModel):
    """``GET /backends/{id}/configuration`` (IBM's ``BackendConfigurationResponse``).

    Required here: every field IBM requires except ``coords`` and ``u_channel_lo``, which
    38 and 15 of IBM's 68 recorded configurations (the fake backends') lack: a check
    stricter than IBM's own answers would refuse IBM. The ideal QPU's configuration has
    them too, and the REST endpoint tests hold it to IBM's full list.
    """

    model_config = ConfigDict(extra="allow")
    backend_name: str = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_]+$")
    backend_version: str = Field(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")
    basis_gates: list[str] = Field(min_length=1, max_length=64)
    conditional: bool
    coupling_map: list[list[Annotated[int, Field(ge=0)]]] | None
    gates: list[GateConfig] = Field(min_length=1, max_length=64)
    local: bool
    memory: bool
    n_qubits: int = Field(ge=1)
    online_date: str = Field(min_length=24, max_length=24)
    supported_instructions: list[str] | None = Field(default=None, max_length=64)
    max_shots: int | None = Field(default=None, ge=1)
    max_experiments: int | None = Field(default=None, ge=1)
    dt: float | None = Field(default=None, ge=0)
    default_rep_delay: float | None = Field(default=None, ge=0)
    rep_delay_range: list[float] | None = Field(default=None, min_length=2, max_length=2)
    coords: list[Annotated[list[Annotated[int, Field(ge=0)]],
                           Field(min_length=2, max_length=2)]] | None = None
    u_channel_lo: list[list[UChannelLO]] | None = None
    processor_type: ConfigProcessorType | None = None


class BackendProperties(BaseModel):
    """``GET /backends/{id}/properties``: calibration data as IBM sends it."""

    model_config = ConfigDict(extra="allow")
    backend_name: str
    backend_version: str
    gates: list[dict[str, Any]]
    general: list[Any]
    last_update_date: str
    qubits: list[list[dict[str, Any]]]


class NoData(BaseModel):
    """An empty object: the calibration data of a QPU that has none (the ideal QPU)."""

    model_config = ConfigDict(extra="forbid")


class BackendDefaults(BaseModel):
    """``GET /backends/{id}/defaults``: pulse defaults (IBM's schema is an open object)."""

    model_config = ConfigDict(extra="allow")


# -- instances, accounts, versions ------------------------------------------------------


class InstanceDetails(BaseModel):
    """``GET /instance``: the instance's backends, plan and limits."""

    backends: list[str]
    instance_limit: float | None = None
    instance_limit_seconds: str | None = None
    plan_id: str
    usage_allocation_seconds: str | None = None


class InstanceConfiguration(BaseModel):
    """``GET /instances/configuration``: the instance's usage limit in seconds."""

    instance_limit: float | None = None


class InstanceConfigurationUpdate(BaseModel):
    """``PUT /instances/configuration``: a new limit in seconds, or null to remove it."""

    model_config = ConfigDict(extra="forbid")
    instance_limit: int | None = Field(default=None, ge=1, le=2147483647)


class UsagePeriod(BaseModel):
    """The window usage is counted over."""

    start_time: str | None = None
    end_time: str | None = None


class InstanceUsage(BaseModel):
    """``GET /instances/usage``."""

    instance_id: str
    plan_id: str
    usage_period: UsagePeriod
    usage_consumed_seconds: float
    usage_limit_seconds: float | None = None
    usage_allocation_seconds: float | None = None
    usage_limit_reached: bool | None = None


class PlanConfiguration(BaseModel):
    """One plan of an account."""

    plan_id: str
    subscription_id: str
    subscription_name: str
    backends: list[str]
    usage_allocation_seconds: int | None = None
    usage_limit_seconds: int | None = None
    max_ttl: int | None = None
    active_ttl: int | None = None
    interactive_ttl: int | None = None
    unallocated_usage_seconds: int | None = None


class AccountConfiguration(BaseModel):
    """``GET /accounts/{id}``: the account's plans."""

    plans: list[PlanConfiguration]


class VersionInfo(BaseModel):
    """One API version and its support status."""

    version: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    sunset_date: str | None = None
    status: Literal["live", "deprecated"]


class VersionsResponse(BaseModel):
    """``GET /versions``."""

    versions: list[VersionInfo]


# -- workloads and analytics ------------------------------------------------------------

WorkloadStatus = Literal["completed", "canceled", "failed", "pending", "in_progress"]
WorkloadMode = Literal["job", "session", "batch"]


class Cursor(BaseModel):
    """A link to another page."""

    href: str


class Workload(BaseModel):
    """One row of IBM's Workloads page: a job in job mode, or a session or batch."""

    id: str
    created: str
    ended: str | None = None
    backend: str
    instance: str
    user_id: str
    accepting_jobs: bool | None = None
    mode: WorkloadMode
    status: WorkloadStatus
    status_reason: str | None = None
    tags: list[str] = Field(default_factory=list)
    usage_seconds: float | None = None
    usage: Usage | None = None
    estimated_running_time_seconds: float | None = None


class WorkloadsResponse(BaseModel):
    """``GET /workloads``: one page, its total, and cursors to its neighbours."""

    workloads: list[Workload]
    total_count: int
    limit: int
    previous: Cursor | None = None
    next: Cursor | None = None


class UsageFigures(BaseModel):
    """Usage totals (milliseconds) and counts, as IBM's analytics report them."""

    usage: float
    jobs: int
    sessions: int
    sessions_usage: float
    avg_sessions_usage: float
    max_sessions_usage: float
    batch_sessions: int
    batch_sessions_usage: float
    avg_batch_sessions_usage: float
    max_batch_sessions_usage: float
    dedicated_sessions: int
    dedicated_sessions_usage: float
    avg_dedicated_sessions_usage: float
    max_dedicated_sessions_usage: float
    individual_jobs: int
    individual_jobs_usage: float
    avg_individual_jobs_usage: float
    max_individual_jobs_usage: float
    queue_time: float
    avg_queue_time: float
    max_queue_time: float


class UsageGroup(UsageFigures):
    """Usage of one group (``key``: an instance, backend, user or plan)."""

    key: str | None


class UsageGrouped(BaseModel):
    """``GET /analytics/usage_grouped``."""

    data: list[UsageGroup]


class UsageDay(UsageGroup):
    """Usage of one group over one day."""

    interval_start: str
    interval_end: str


class UsageByDate(BaseModel):
    """``GET /analytics/usage_grouped_by_date``."""

    interval_start: str
    interval_end: str
    data: list[UsageDay]


SUBSCRIPTION_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
SubscriptionId = Annotated[str, StringConstraints(min_length=36, max_length=36,
                                                  pattern=SUBSCRIPTION_PATTERN)]
"""A subscription id as IBM's analytics filters take it: a lowercase version-4 UUID."""
MAX_SUBSCRIPTIONS = 200
"""IBM's analytics take at most 200 ``subscription_id`` values."""


class NamedFilter(BaseModel):
    """A filter value with a name (backends, plans)."""

    name: str


class InstanceFilter(BaseModel):
    """An instance the analytics can be filtered by."""

    id: str
    deleted: bool


class UserFilter(BaseModel):
    """A user the analytics can be filtered by."""

    id: str


class SubscriptionFilter(BaseModel):
    """A subscription the analytics can be filtered by."""

    id: str
    name: str


class AnalyticsFilters(BaseModel):
    """``GET /analytics/filters``: the values the other analytics routes filter on."""

    backends: list[NamedFilter]
    instances: list[InstanceFilter]
    users: list[UserFilter]
    plans: list[NamedFilter]
    subscriptions: list[SubscriptionFilter]

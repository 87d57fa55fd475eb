"""REST-level properties of the HTTP door, drawn by Hypothesis against one real server.

- **Equivalent request forms give the same result** (IBM's REST guides document each): a
  circuit as the client's encoded QPY or as an OpenQASM 3 string; a full pub
  ``[circuit, values, shots]`` or a short one with the shots in ``params.shots``; parameter
  values as a dict by name (in any key order) or as an array in the circuit's parameter
  order. With the same ``seed_simulator`` every form must give the same samples.
- **Tenancy**: another tenant's job is a 404 and never in its listing.
- **Tokens**: a token this server did not sign (one character changed, or another
  server's) is a 401.
- **The proxy's host rule** (``qsession run``'s interception): a host is answered locally
  exactly when it is ``cloud.ibm.com`` or a name under it, whatever the near miss.
- **Answers as documented** (with Schemathesis installed): requests Schemathesis draws from
  the server's own ``/openapi.json`` for every ``/api/v1`` operation get no server error, a
  documented status, content type and headers, and a body that fits the declared schema.
  Schemathesis patches Hypothesis for the whole process when it builds its first strategy;
  ``hypothesis_kept()`` gives Hypothesis back afterwards, so the parts of ``qsession
  verify`` that run later draw as they would have without it.

``check(examples, seed)`` runs them; each failure names its property and its shrunk example.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from math import pi
from typing import Any

from hypothesis import strategies as st

BACKEND = "qsession_ideal"
TENANTS = ("t0", "t1")


DOCUMENTED = "answers as documented"


@dataclass
class RestVerdict:
    """What the REST properties found: examples per property, and the failures."""

    examples: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Properties not run, each with why (a library not installed)."""

    @property
    def ok(self) -> bool:
        """True when every property held."""
        return not self.failures


class _Caller:
    """Plain HTTP against the server, as IBM's REST guides call IBM: a token per tenant."""

    def __init__(self, conn: Any) -> None:
        import requests

        self.requests = requests
        self.conn = conn
        self.base = conn.server.url
        self.tokens: dict[str, str] = {}
        self.crns: dict[str, str] = {}
        for tenant in TENANTS:
            env = conn.server.env(tenant)
            answer = requests.post(f"{env['IAM_URL']}/identity/token", data={
                "grant_type": "urn:ibm:params:oauth:grant-type:apikey",
                "apikey": env["QISKIT_IBM_TOKEN"]}, timeout=60)
            self.tokens[tenant] = str(answer.json()["access_token"])
            self.crns[tenant] = env["QISKIT_IBM_INSTANCE"]

    def headers(self, tenant: str, token: str | None = None) -> dict[str, str]:
        return {"Content-Type": "application/json",
                "Authorization": f"Bearer {token or self.tokens[tenant]}",
                "Service-CRN": self.crns[tenant]}

    def submit(self, tenant: str, body: dict[str, Any]) -> str:
        response = self.requests.post(f"{self.base}/api/v1/jobs", json=body, timeout=120,
                                      headers=self.headers(tenant))
        if response.status_code != 200:
            raise AssertionError(f"POST /jobs answered {response.status_code}: "
                                 f"{response.text[:300]} for {json.dumps(body)[:300]}")
        return str(response.json()["id"])

    def get(self, tenant: str, path: str, token: str | None = None) -> Any:
        return self.requests.get(f"{self.base}/api/v1/{path}", timeout=120,
                                 headers=self.headers(tenant, token))

    def settle(self) -> None:
        request = urllib.request.Request(f"{self.base}/qsession/v1/run-until-idle", data=b"{}",
                                         headers={"Content-Type": "application/json"},
                                         method="POST")
        with urllib.request.urlopen(request, timeout=120):
            pass

    def samples(self, tenant: str, job_id: str) -> list[Any]:
        response = self.get(tenant, f"jobs/{job_id}/results")
        if response.status_code != 200:
            raise AssertionError(f"GET /jobs/{job_id}/results answered "
                                 f"{response.status_code}: {response.text[:300]}")
        return [sorted(pub["data"]["meas"]["samples"]) for pub in response.json()["results"]]


@contextmanager
def _server() -> Iterator[_Caller]:
    from .emulator import Instance
    from .launch import connect

    conn = connect(clock="virtual", backends=[BACKEND], noise=False, seed=3,
                   instances=[Instance(t) for t in TENANTS], instance=TENANTS[0])
    try:
        yield _Caller(conn)
    finally:
        conn.close()


def _circuit(parameters: int) -> Any:
    """A 2-qubit circuit in the ideal QPU's gates with 0, 1 or 2 parameters named so that
    their order (qiskit sorts them by name) differs from the order they are used in."""
    from qiskit.circuit import Parameter, QuantumCircuit

    qc = QuantumCircuit(2)
    names = ["zeta", "alpha"][:parameters]
    qc.sx(0)
    qc.rz(Parameter(names[0]) if parameters else pi / 3, 0)
    qc.sx(0)
    qc.sx(1)
    qc.rz(Parameter(names[1]) if parameters > 1 else pi / 5, 1)
    qc.sx(1)
    qc.cx(0, 1)
    qc.measure_all()
    return qc


@dataclass(frozen=True)
class FormsCase:
    """One job drawn: its circuit's parameter count, values, shots, seed and dict key order."""

    parameters: int
    values: tuple[float, ...]
    shots: int
    seed: int
    reverse_keys: bool


def forms_cases() -> st.SearchStrategy[FormsCase]:
    """Jobs to submit in every equivalent form."""
    angle = st.floats(0, 2 * pi, allow_nan=False).map(lambda x: round(x, 3))
    # Two parameters, by name in the reverse of the circuit's order, most of the time: the
    # case where a binding by position instead of by name shows.
    return st.sampled_from([2, 2, 1, 0]).flatmap(lambda n: st.builds(
        FormsCase, st.just(n), st.tuples(*[angle] * n), st.integers(50, 200),
        st.integers(0, 2**31 - 1), st.sampled_from([True, True, False])))


def forms_bodies(case: FormsCase) -> dict[str, dict[str, Any]]:
    """The same sampler job in each form IBM documents, by a name for reports."""
    from qiskit import qasm3
    from qiskit_ibm_runtime import RuntimeEncoder

    circuit = _circuit(case.parameters)
    encoded = json.loads(json.dumps(circuit, cls=RuntimeEncoder))
    text = qasm3.dumps(circuit)
    names = [p.name for p in circuit.parameters]  # qiskit's order: sorted by name
    by_name = dict(zip(names, case.values, strict=True))
    keys = sorted(by_name, reverse=case.reverse_keys)
    # One parameter set: a value per name, or one row in the circuit's parameter order.
    as_dict = {k: by_name[k] for k in keys} if names else None
    as_array = [by_name[k] for k in names] if names else None
    options = {"simulator": {"seed_simulator": case.seed}}

    def body(pub: list[Any], shots: int | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"pubs": [pub], "version": 2, "options": options}
        if shots is not None:
            params["shots"] = shots
        return {"program_id": "sampler", "backend": BACKEND, "params": params}

    forms = {
        "QPY, full pub, array values": body([encoded, as_array, case.shots]),
        "OpenQASM 3, full pub, array values": body([text, as_array, case.shots]),
        "OpenQASM 3, values by name": body([text, as_dict, case.shots]),
        "QPY, values by name": body([encoded, as_dict, case.shots]),
        "OpenQASM 3, short pub, params.shots": body([text, as_array] if names else [text],
                                                    shots=case.shots),
    }
    return forms


def _forms_property(caller: _Caller, case: FormsCase) -> str | None:
    bodies = forms_bodies(case)
    ids = {name: caller.submit("t0", body) for name, body in bodies.items()}
    caller.settle()
    results = {name: caller.samples("t0", jid) for name, jid in ids.items()}
    first, reference = next(iter(results.items()))
    for name, got in results.items():
        if got != reference:
            return (f"equivalent request forms differ for {case}: {first!r} gives "
                    f"{_summary(reference)}, {name!r} gives {_summary(got)}")
    return None


def _summary(samples: list[Any]) -> str:
    from collections import Counter

    return str([dict(Counter(json.dumps(s) for s in pub)) for pub in samples])


def _tenancy_property(caller: _Caller, shots: int) -> str | None:
    body = {"program_id": "sampler", "backend": BACKEND,
            "params": {"pubs": [[_qasm_bell(), None, shots]], "version": 2}}
    mine = caller.submit("t0", body)
    theirs = caller.get("t1", f"jobs/{mine}")
    if theirs.status_code != 404:
        return f"tenant t1 read t0's job {mine}: {theirs.status_code} (IBM: 404)"
    listing = caller.get("t1", "jobs?limit=200")
    if listing.status_code != 200:
        return f"GET /jobs for t1 answered {listing.status_code}"
    if any(j.get("id") == mine for j in listing.json().get("jobs", [])):
        return f"tenant t1's listing shows t0's job {mine}"
    return None


def _qasm_bell() -> str:
    from qiskit import qasm3

    return str(qasm3.dumps(_circuit(0)))


def _token_property(caller: _Caller, position: int, foreign: bool) -> str | None:
    token = caller.tokens["t0"]
    if foreign:
        from .tokens import Tokens

        forged = str(Tokens().issue("someone")["access_token"])
    else:
        k = position % len(token)
        forged = token[:k] + ("A" if token[k] != "A" else "B") + token[k + 1:]
    response = caller.get("t0", "jobs?limit=1", token=forged)
    if response.status_code != 401:
        what = "another server's token" if foreign else f"a token changed at {k}"
        return f"{what} was answered {response.status_code}, not 401"
    return None


def hosts() -> st.SearchStrategy[str]:
    """Host names: IBM's, names under them, and near misses (glued, suffixed, look-alikes)."""
    label = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=8).filter(
        lambda s: not s.startswith("-") and not s.endswith("-"))
    return st.one_of(
        st.just("cloud.ibm.com"),
        label.map(lambda s: f"{s}.cloud.ibm.com"),
        label.map(lambda s: f"{s}cloud.ibm.com"),
        label.map(lambda s: f"cloud.ibm.com.{s}.net"),
        label.map(lambda s: f"{s}.ibm.com"),
        label.map(lambda s: f"{s}.example.org"),
    )


def _host_property(host: str) -> str | None:
    from .intercept import is_ibm_host

    name = host.lower().rstrip(".")
    expected = name == "cloud.ibm.com" or name.endswith(".cloud.ibm.com")
    if is_ibm_host(host) != expected:
        return (f"the proxy {'answers' if not expected else 'refuses'} {host!r}; only "
                "cloud.ibm.com and the names under it are IBM's")
    return None


def _hypothesis_places() -> list[tuple[Any, str]]:
    """Where Schemathesis' set-up patches Hypothesis (``schemathesis.generation.hypothesis``):
    the failing-example printer, the buffer sizes, the random registration."""
    from hypothesis import core as root_core
    from hypothesis.internal import entropy
    from hypothesis.internal.conjecture import engine
    from hypothesis.strategies._internal import collections, core

    return [(root_core, "RepresentationPrinter"), (root_core, "BUFFER_SIZE"),
            (engine, "BUFFER_SIZE"), (collections, "BUFFER_SIZE"),
            (core, "is_first_param_referenced_in_function"), (entropy, "register_random")]


@contextmanager
def hypothesis_kept() -> Iterator[None]:
    """Run the block, then give Hypothesis back what Schemathesis' set-up replaced in it."""
    places = _hypothesis_places()
    saved = [getattr(owner, name) for owner, name in places]
    try:
        yield
    finally:
        for (owner, name), value in zip(places, saved, strict=True):
            setattr(owner, name, value)
        try:  # so that a later use patches (and is given back) again
            from schemathesis.generation import hypothesis as schemathesis_hypothesis
        except ImportError:
            pass
        else:
            setup: Any = schemathesis_hypothesis.setup
            if getattr(setup, "_is_patched", False):
                setup._is_patched = False


def _documented(caller: _Caller, examples: int, seed: int | None) -> tuple[int, list[str]]:
    """Schemathesis' requests to every ``/api/v1`` operation; each answer checked against
    the published document. Requests sent, and the operations whose answers did not fit."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fix_seed
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    document = caller.requests.get(f"{caller.base}/openapi.json", timeout=60).json()
    schema = schemathesis.openapi.from_dict(document)
    results: list[Any] = list(schema.get_all_operations())
    operations = [result.ok() for result in results]  # the document is the server's own
    headers = {k: v for k, v in caller.headers("t0").items() if k != "Content-Type"}
    sent = [0]
    failures: list[str] = []

    def fuzz(operation: Any) -> None:
        # A body that fits the document can still be refused by POST /jobs: no JSON schema
        # says whether a string is a circuit the backend runs (IBM validates params with
        # ibm-quantum-schemas); that refusal is a 400 in IBM's shape, which the other
        # checks still check.
        excluded = [positive_data_acceptance] if (operation.method, operation.path) == (
            "post", "/api/v1/jobs") else []

        @settings(max_examples=examples, deadline=None, database=None,
                  derandomize=seed is None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck), print_blob=False)
        @given(case=operation.as_strategy())
        def answers(case: Any) -> None:
            sent[0] += 1
            case.call_and_validate(base_url=caller.base, headers=headers,
                                   excluded_checks=excluded)

        (answers if seed is None else fix_seed(seed)(answers))()

    for operation in operations:
        if not operation.path.startswith("/api/v1/"):
            continue
        try:
            fuzz(operation)
        except Exception as err:  # Schemathesis' failure groups name each failed check
            first = str(err).strip().splitlines()
            failures.append(f"{operation.method.upper()} {operation.path}: "
                            + " / ".join(first[:6]))
    return sent[0], failures


def check(examples: int, seed: int | None = None) -> RestVerdict:
    """Every REST property for ``examples`` drawn examples each (against one server)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fix_seed

    verdict = RestVerdict()

    def run(name: str, strategy: st.SearchStrategy[Any], prop: Any, n: int) -> None:
        verdict.examples[name] = 0

        @settings(max_examples=n, deadline=None, database=None, derandomize=seed is None,
                  phases=[Phase.explicit, Phase.generate, Phase.shrink], print_blob=False,
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def test(example: Any) -> None:
            verdict.examples[name] += 1
            problem = prop(example)
            if problem is not None:
                raise AssertionError(problem)

        runner = test if seed is None else fix_seed(seed)(test)
        try:
            runner()
        except AssertionError as err:
            verdict.failures.append(f"{name}: {err}")

    with _server() as caller:
        run("request forms", forms_cases(), lambda c: _forms_property(caller, c), examples)
        run("tenancy", st.integers(1, 50), lambda s: _tenancy_property(caller, s),
            max(2, examples // 2))
        run("tokens", st.tuples(st.integers(0, 10_000), st.booleans()),
            lambda t: _token_property(caller, *t), max(2, examples // 2))
        try:
            import schemathesis  # noqa: F401
        except ImportError:
            verdict.skipped.append(f"{DOCUMENTED}: needs Schemathesis (pip install "
                                   "schemathesis)")
        else:
            with hypothesis_kept():
                sent, failed = _documented(caller, examples, seed)
            verdict.examples[DOCUMENTED] = sent
            verdict.failures.extend(f"{DOCUMENTED}: {line}" for line in failed)
    run("proxy host rule", hosts(), _host_property, 20 * examples)
    return verdict

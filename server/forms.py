"""``POST /jobs``, the one door: IBM's documented request forms in, one canonical form out.

IBM's REST reference ("Run a job") and its guides ("Sampler with the REST API", "Estimator
with the REST API", "Execution modes using REST API") accept more than the Python client
sends: circuits as OpenQASM 3 strings or QPY (plain base64, or the client's
``{"__type__": "QuantumCircuit", ...}``); short pubs (``[circuit]``, ``[circuit, values]``,
``[circuit, None, shots]``, a bare circuit for the sampler); parameter values by name, as
lists or as arrays; observables as Pauli strings, ``{pauli: coefficient}`` dicts, lists of
either, or the client's encoded forms. Each is turned here into the canonical form that
IBM's ``ibm-quantum-schemas`` models describe (sampler ``[circuit, ndarray, shots]``,
estimator ``[circuit, observables, ndarray, precision]``), which is validated with the
model of the version the request names. The body is parsed once (by the route); the
qiskit objects the runtime runs are the ones decoded here, never decoded again.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from qiskit.circuit import QuantumCircuit

from qsession.runtime import IBMInputValueError
from qsession.runtime.engine.pubs import check_precision_value, check_shots, is_int_at_least

from .errors import NotFound, UnknownBackend
from .wire import CODE_TAG_TOO_LONG, CODE_TOO_MANY_TAGS, LimitError

PRIMITIVES = ("sampler", "estimator")
PROGRAMS = (*PRIMITIVES, "executor")
DEFAULT_SHOTS = 4096
"""The sampler's shots when neither the pub, ``params.shots`` nor ``default_shots`` set them."""

# IBM's limits on the body of POST /jobs (REST reference, JobRunParamsBase and Tags).
MAX_TAGS = 8
MAX_TAG_LENGTH = 86
MAX_COST = 10_800
MAX_SESSION_ID = 36
MAX_CALIBRATION_ID = 100
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")

SAMPLER_FORM = "[circuit], [circuit, parameter_values] or [circuit, parameter_values, shots]"
ESTIMATOR_FORM = ("[circuit, observables], [circuit, observables, parameter_values] or "
                  "[circuit, observables, parameter_values, precision]")
CIRCUIT_FORMS = ("an OpenQASM 3 string, base64-encoded QPY, or the client's "
                 "{\"__type__\": \"QuantumCircuit\", \"__value__\": ...}")

# Keys of V1 primitives and older guides that IBM's V2 schema refuses, and what to do.
_HINTS = {
    "transpilation": "V2 primitives take ISA circuits and no transpilation options: "
                     "transpile before submitting (generate_preset_pass_manager(backend=...)"
                     ".run(circuit))",
    "optimization_level": "V2 primitives take ISA circuits and no optimization level: "
                          "transpile before submitting",
    "resilience_level": "the Sampler has no resilience levels; turn on "
                        "options.dynamical_decoupling or options.twirling instead",
    "shots": "V2 options call it default_shots (or give shots in each pub, or params.shots)",
}


@dataclass(frozen=True)
class Submission:
    """A ``POST /jobs`` body, checked and normalised: what the runtime runs, and what was sent."""

    program: str
    backend: str
    params: Any
    """The params as the client sent them (``GET /jobs/{id}`` returns these)."""
    canonical: dict[str, Any]
    """The params in the form of the schema model that validated them."""
    schema: str
    """Which ``ibm-quantum-schemas`` model validated them, e.g. ``sampler version_0_1``."""
    session_id: str | None = None
    tags: tuple[str, ...] = ()
    cost: int | None = None
    private: bool = False
    plain_results: bool = False
    """No ``support_qiskit``: results in IBM's plain JSON, not the client's encoded form."""
    pubs: tuple[Any, ...] = ()
    """qiskit ``SamplerPub``/``EstimatorPub`` objects (primitives)."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """The primitive's options as sent, typed values (noise models) decoded."""
    program_input: Any = None
    """Executor jobs: the client's decoded ``(QuantumProgram, ExecutorOptions)``."""


def normalise(body: Mapping[str, Any], qubits: Mapping[str, int]) -> Submission:
    """Check a ``POST /jobs`` body and normalise its params; ``qubits`` maps served backends
    to their widths. Raises ``IBMInputValueError`` (400), ``UnknownBackend`` (400, code 1007)
    or ``NotFound`` (an unknown program, 404 as IBM answers)."""
    program, backend, top = _top_level(body, qubits)
    params = body.get("params")
    try:
        if program == "executor":
            return _executor(program, backend, params, top)
        return _primitive(program, backend, params, qubits[backend], top)
    except RecursionError:
        raise IBMInputValueError(
            f"params are nested too deeply to read; a {program} job's params are a few "
            "levels deep (pubs, arrays of values or observables, options)") from None
    except OverflowError as err:  # a number past what a float or a C integer holds
        raise IBMInputValueError(
            f"a number in the {program} job's params is too large ({_reason(err)}); shots, "
            "precision and parameter values are ordinary numbers") from None


def check_tags(value: Any, where: str = "tags") -> list[str]:
    """A list of job tags within IBM's limits (at most 8, each at most 86 characters)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise IBMInputValueError(f"{where} must be a list of strings, e.g. [\"experiment-a\"]")
    if len(value) > MAX_TAGS:
        raise LimitError(
            f"{where}: {len(value)} tags; IBM allows at most {MAX_TAGS} tags per job",
            CODE_TOO_MANY_TAGS)
    for tag in value:
        if len(tag) > MAX_TAG_LENGTH:
            raise LimitError(
                f"{where}: the tag {tag[:20]!r}... has {len(tag)} characters; IBM allows at "
                f"most {MAX_TAG_LENGTH}", CODE_TAG_TOO_LONG)
    return list(value)


# -- the body ------------------------------------------------------------------------


def _top_level(body: Mapping[str, Any],
               qubits: Mapping[str, int]) -> tuple[str, str, dict[str, Any]]:
    """IBM's ``JobRunParamsBase``: program, backend, tags, cost, session, log level, privacy."""
    program = body.get("program_id")
    if not isinstance(program, str) or not program:
        raise IBMInputValueError("program_id: name the program to run: \"sampler\", "
                                 "\"estimator\" or \"executor\"")
    if program not in PROGRAMS:
        raise NotFound(f"Program not found: {program!r}; this service runs the 'sampler', "
                       "'estimator' and 'executor' programs")
    backend = body.get("backend")
    if not isinstance(backend, str) or not backend:
        raise IBMInputValueError("the job names no backend: send \"backend\": NAME")
    if backend not in qubits:
        # A 400, not a 404: the client reads a 404 from POST /jobs as "program not found".
        raise UnknownBackend(f"Backend not found: {backend!r}; this service has "
                             f"{', '.join(qubits)}")
    top: dict[str, Any] = {"tags": tuple(check_tags(body.get("tags")))}
    cost = body.get("cost")
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, int)
                             or not 0 <= cost <= MAX_COST):
        raise IBMInputValueError(
            f"cost={cost!r}: the job's cost (its max_execution_time) is a whole number of "
            f"seconds from 0 to {MAX_COST}")
    top["cost"] = cost
    session_id = body.get("session_id")
    if session_id is not None and (not isinstance(session_id, str)
                                   or not 0 < len(session_id) <= MAX_SESSION_ID):
        raise IBMInputValueError(
            f"session_id={session_id!r}: a session id is a string of at most "
            f"{MAX_SESSION_ID} characters (from POST /sessions)")
    top["session_id"] = session_id
    private = body.get("private", False)
    if not isinstance(private, bool):
        raise IBMInputValueError(f"private={private!r} must be true or false")
    top["private"] = private
    log_level = body.get("log_level")
    # The client sends the level as its environment option says it ("WARNING").
    if log_level is not None and str(log_level).lower() not in LOG_LEVELS:
        raise IBMInputValueError(f"log_level={log_level!r} must be one of {', '.join(LOG_LEVELS)}")
    calibration = body.get("calibration_id")
    if calibration is not None and (not isinstance(calibration, str)
                                    or not 0 < len(calibration) <= MAX_CALIBRATION_ID):
        raise IBMInputValueError(
            f"calibration_id={calibration!r} must be a string of 1 to {MAX_CALIBRATION_ID} "
            "characters")
    return program, backend, top


def _primitive(program: str, backend: str, params: Any, width: int,
               top: dict[str, Any]) -> Submission:
    """Sampler and estimator params: pubs and options to the canonical form, then the schema."""
    if not isinstance(params, Mapping):
        raise IBMInputValueError(
            f"params: Input should be a valid dictionary, such as {{\"pubs\": [[circuit]]}} "
            f"(got {type(params).__name__})")
    version = params.get("version", 2)
    model, schema = _schema(program, version)
    support = params.get("support_qiskit", False)
    if not isinstance(support, bool):
        raise IBMInputValueError(f"params.support_qiskit={support!r} must be true or false")
    options = params.get("options") or {}
    if not isinstance(options, Mapping):
        raise IBMInputValueError("params.options must be an object, e.g. "
                                 "{\"default_shots\": 1000}")
    pubs = params.get("pubs")
    if not isinstance(pubs, list):
        shape = SAMPLER_FORM if program == "sampler" else ESTIMATOR_FORM
        raise IBMInputValueError(f"params.pubs must be a list of pubs, each {shape}")
    canonical: dict[str, Any] = {k: v for k, v in params.items()
                                 if k not in ("shots", "precision")}
    canonical.update(options=dict(options), version=version, support_qiskit=support)
    # The schema's verdict on everything but the pubs comes first (options, unknown keys),
    # as a validator of the whole body would give it before reading any circuit.
    _validate(model, schema, program, {**canonical, "pubs": []})
    runtime_pubs: list[Any] = []
    canonical_pubs: list[Any] = []
    if program == "sampler":
        shots = _default_shots(params, options)
        for index, item in enumerate(pubs):
            form, pub = _sampler_pub(f"sampler pub {index}", item, width, shots)
            canonical_pubs.append(form)
            runtime_pubs.append(pub)
    else:
        precision = params.get("precision")
        check_precision_value("params", precision, null="null")
        for index, item in enumerate(pubs):
            form, pub = _estimator_pub(f"estimator pub {index}", item, width, precision)
            canonical_pubs.append(form)
            runtime_pubs.append(pub)
    canonical["pubs"] = canonical_pubs
    _validate(model, schema, program, _schema_view(program, canonical))
    return Submission(program=program, backend=backend, params=params, canonical=canonical,
                      schema=schema, plain_results=not support, pubs=tuple(runtime_pubs),
                      options=_decoded("params.options", dict(options)), **top)


def _schema(program: str, version: Any) -> tuple[Any, str]:
    """The ``ibm-quantum-schemas`` params model of ``program`` at the version the request names."""
    if version != 2 or isinstance(version, bool):
        raise IBMInputValueError(
            f"params.version={version!r}: this service runs version 2 of the {program} "
            "primitive (the V2 primitives, as IBM's REST API does); send \"version\": 2 or "
            "leave it out")
    if program == "sampler":
        from ibm_quantum_schemas.sampler.version_0_1.params import ParamsModel as Sampler

        return Sampler, "sampler version_0_1"
    from ibm_quantum_schemas.estimator.version_0_1.params import ParamsModel as Estimator

    return Estimator, "estimator version_0_1"


def _validate(model: Any, schema: str, program: str, data: Any) -> None:
    """Validate ``data`` with ``model``; its errors become one 400 naming each location."""
    from pydantic import ValidationError

    try:
        model.model_validate(data)
    except ValidationError as err:
        details: list[str] = []
        hints: list[str] = []
        for loc, msg in _errors(err.errors()):
            details.append(f"{'.'.join(['params', *loc])}: {msg}")
            for key in loc:
                hint = _HINTS.get(key)
                if hint and hint not in hints and (key != "resilience_level"
                                                   or program == "sampler"):
                    hints.append(hint)
            if "qpy_version" in msg and _QPY_HINT not in hints:
                hints.append(_QPY_HINT)
        text = (f"params do not fit IBM's {program} schema (ibm-quantum-schemas {schema}): "
                + "; ".join(details))
        if hints:
            text += ". Fix: " + "; ".join(hints)
        raise IBMInputValueError(text) from None
    except RecursionError:
        raise
    except Exception as err:  # the models' validators decode QPY: corrupt bytes raise
        # zlib, struct or QPY errors of their own, which are the request's fault too.
        raise IBMInputValueError(
            f"params cannot be decoded while checking them against IBM's {program} schema "
            f"(ibm-quantum-schemas {schema}; {type(err).__name__}: {_reason(err)}); send "
            "circuits as the client's RuntimeEncoder or IBM's schema writes them") from None


_QPY_HINT = ("IBM reads QPY versions 13 to 17: write the circuit with "
             "qiskit.qpy.dump(circuit, file, version=17), as the client does")
_UNION_TAG = re.compile(r"^(function-[a-z]+\[.*\]|str|int|float|bool|list\[.*\]|dict\[.*\]|"
                        r"[A-Z][A-Za-z0-9]*Model[A-Za-z0-9]*)$")


def _errors(raw: list[Any]) -> list[tuple[list[str], str]]:
    """Pydantic's errors, at most five, their locations without the union branches'
    tags (``function-after[...]``, ``str``), and one message per location: the branch that
    says the most (a wrong QPY version, not that a circuit is "not a valid string")."""
    chosen: dict[tuple[str, ...], str] = {}
    for error in raw:
        loc = tuple(str(x) for x in error["loc"] if not _UNION_TAG.match(str(x)))
        msg = str(error["msg"])
        known = chosen.get(loc)
        if known is None or known.startswith("Input should be a valid"):
            chosen[loc] = msg
    return [(list(loc), msg) for loc, msg in list(chosen.items())[:5]]


def _schema_view(program: str, canonical: dict[str, Any]) -> dict[str, Any]:
    """The canonical params as the schema model reads them.

    The published estimator model describes observables as one ``{pauli: coefficient}``
    dict or a flat list of them; the client sends N-dimensional observable arrays as
    nested lists (``ObservablesArray.tolist()``, e.g. IBM's session guide's ``[[obs], ...]``)
    and IBM's service runs them. Each observable is still validated with the model: the
    nesting is flattened for validation only.
    """
    if program != "estimator":
        return canonical
    view = dict(canonical)
    view["pubs"] = [[p[0], _flat(p[1]), *p[2:]] if isinstance(p[1], list) else p
                    for p in canonical["pubs"]]
    return view


def _flat(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    out: list[Any] = []
    for item in value:
        flat = _flat(item)
        out.extend(flat if isinstance(flat, list) else [flat])
    return out


# -- pubs ----------------------------------------------------------------------------


def _default_shots(params: Mapping[str, Any], options: Mapping[str, Any]) -> int:
    """Shots for pubs without their own: ``params.shots``, then ``default_shots``, then 4096."""
    shots = params.get("shots")
    if shots is not None:
        check_shots("params", shots, null="null")
        return int(shots)
    default = options.get("default_shots")
    # An invalid default_shots is reported by the schema (params.options.default_shots).
    return default if isinstance(default, int) and is_int_at_least(default, 1) else DEFAULT_SHOTS


def _sampler_pub(where: str, item: Any, width: int, shots: int) -> tuple[list[Any], Any]:
    """A sampler pub in any of IBM's forms: ``([circuit, ndarray, shots], SamplerPub)``."""
    from qiskit.primitives.containers.sampler_pub import SamplerPub

    if isinstance(item, str | Mapping):
        item = [item]  # the reference: a pub may be the circuit alone
    if not isinstance(item, list) or not 1 <= len(item) <= 3:
        raise IBMInputValueError(f"{where} is not a pub. Fix: write it as {SAMPLER_FORM}")
    form, circuit = _circuit(where, item[0], width)
    values = _values(where, item[1] if len(item) > 1 else None, circuit)
    own = item[2] if len(item) > 2 else None
    check_shots(where, own, null="null")
    try:
        pub = SamplerPub.coerce((circuit, values, shots if own is None else own))
    except (ValueError, TypeError, KeyError, IndexError) as err:
        raise IBMInputValueError(
            f"{where}: {_reason(err)}. Fix: {_values_hint(circuit)}") from None
    return [form, _ndarray(pub.parameter_values.as_array(circuit.parameters)), pub.shots], pub


def _estimator_pub(where: str, item: Any, width: int,
                   precision: float | None) -> tuple[list[Any], Any]:
    """An estimator pub in any of IBM's forms: ``([circuit, observables, ndarray, precision],
    EstimatorPub)``."""
    from qiskit.primitives.containers.estimator_pub import EstimatorPub

    if not isinstance(item, list) or not 2 <= len(item) <= 4:
        raise IBMInputValueError(f"{where} is not a pub. Fix: write it as {ESTIMATOR_FORM}")
    form, circuit = _circuit(where, item[0], width)
    observables = _observables(where, item[1], circuit)
    values = _values(where, item[2] if len(item) > 2 else None, circuit)
    own = item[3] if len(item) > 3 else None
    check_precision_value(where, own, null="null")
    chosen = precision if own is None else float(own)
    try:
        pub = EstimatorPub.coerce((circuit, observables, values, chosen))
    except (ValueError, TypeError, KeyError, IndexError) as err:
        raise IBMInputValueError(
            f"{where}: {_reason(err)}. Fix: give one observable letter per circuit qubit (for a "
            "transpiled circuit, one per QPU qubit: observable.apply_layout(isa.layout)), "
            f"and parameter values whose shape broadcasts with the observables'; "
            f"{_values_hint(circuit)}") from None
    return [form, pub.observables.tolist(),
            _ndarray(pub.parameter_values.as_array(circuit.parameters)), pub.precision], pub


def _circuit(where: str, value: Any, width: int) -> tuple[Any, QuantumCircuit]:
    """``(canonical form, circuit)`` of a circuit given in any of IBM's forms."""
    if isinstance(value, Mapping) and value.get("__type__") == "QuantumCircuit":
        circuit = _decoded(f"{where}: the circuit", value)
        if not isinstance(circuit, QuantumCircuit):
            raise IBMInputValueError(f"{where}: the encoded circuit is not a circuit")
        return dict(value), circuit
    if isinstance(value, str):
        raw = _qpy_bytes(value)
        if raw is not None:
            circuit = _load_qpy(where, raw)
            packed = base64.b64encode(zlib.compress(raw)).decode("ascii")
            return {"__type__": "QuantumCircuit", "__value__": packed}, circuit
        return value, _from_qasm(where, value, width)
    raise IBMInputValueError(
        f"{where}: the circuit is a {type(value).__name__}. Fix: send {CIRCUIT_FORMS}")


_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_QPY_MAGIC = b"QISKIT"


def _qpy_bytes(text: str) -> bytes | None:
    """The QPY file in a base64 string (plain or zlib-compressed), or None if it holds none.

    OpenQASM always contains characters base64 has not (``;``, spaces), so the two never mix.
    """
    compact = "".join(text.split())
    if not compact or not _BASE64.fullmatch(compact):
        return None
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    if data.startswith(_QPY_MAGIC):
        return data
    try:
        inflated = zlib.decompress(data)
    except zlib.error:
        return None
    return inflated if inflated.startswith(_QPY_MAGIC) else None


def _load_qpy(where: str, raw: bytes) -> QuantumCircuit:
    from qiskit import qpy

    try:
        loaded = qpy.load(io.BytesIO(raw))
    except Exception as err:  # a damaged file is the request's fault, never a 500
        raise IBMInputValueError(
            f"{where}: the QPY circuit cannot be read ({type(err).__name__}: {err}). Fix: "
            "write it with qiskit.qpy.dump and base64-encode the bytes") from None
    if len(loaded) != 1 or not isinstance(loaded[0], QuantumCircuit):
        raise IBMInputValueError(
            f"{where}: the QPY data holds {len(loaded)} programs; a pub takes exactly one "
            "circuit")
    return loaded[0]


def _from_qasm(where: str, text: str, width: int) -> QuantumCircuit:
    """An OpenQASM 3 circuit; one written on physical qubits (``$0``...) spans the QPU."""
    from qiskit import qasm3

    try:
        circuit = qasm3.loads(text)
    except Exception as err:  # the parser's errors are the request's fault, never a 500
        raise IBMInputValueError(
            f"{where}: the circuit is not OpenQASM 3 that Qiskit can read "
            f"({_qasm_problem(err)}). Fix: send {CIRCUIT_FORMS}, e.g. "
            "qiskit.qasm3.dumps(isa_circuit)") from None
    return _widened(_standard_gates(circuit), width)


def _qasm_problem(err: BaseException) -> str:
    """Where and why the OpenQASM parser stopped (its syntax errors carry no message of
    their own: the offending token is on the ANTLR exception they wrap)."""
    text = " ".join(str(err).split())
    if text:
        return text[:300]
    cause: BaseException | None = err
    while cause is not None:
        for candidate in (cause, *cause.args):
            token = getattr(candidate, "offendingToken", None)
            if token is not None:
                return (f"syntax error at line {token.line}, column {token.column + 1}, near "
                        f"{token.text!r}")
        cause = cause.__cause__ or cause.__context__
    return f"{type(err).__name__}, a syntax error"


def _standard_gates(circuit: QuantumCircuit) -> QuantumCircuit:
    """Gates a QASM file defines under a standard name (the exporter writes ``gate ecr``)
    become Qiskit's standard gates, as the QPU's instruction set names them."""
    from qiskit.circuit import Gate
    from qiskit.circuit.library import get_standard_gate_name_mapping

    standard = get_standard_gate_name_mapping()
    changed = False
    data = []
    for instruction in circuit.data:
        op = instruction.operation
        known = standard.get(op.name)
        if (isinstance(op, Gate) and known is not None and type(op) is not type(known)
                and isinstance(known, Gate) and known.num_qubits == op.num_qubits
                and len(known.params) == len(op.params)):
            replacement = type(known)(*op.params) if op.params else known
            data.append(instruction.replace(operation=replacement))
            changed = True
        else:
            data.append(instruction)
    if not changed:
        return circuit
    out = circuit.copy_empty_like()
    for instruction in data:
        out.append(instruction)
    return out


def _widened(circuit: QuantumCircuit, width: int) -> QuantumCircuit:
    """A circuit on physical qubits ``$0..$k`` as a circuit over all ``width`` QPU qubits.

    Qiskit's importer gives such a circuit ``k+1`` qubits; IBM runs it on the QPU, so its
    estimator observables have one letter per QPU qubit, as the client's ISA circuits do.
    """
    if circuit.layout is None or circuit.num_qubits >= width:
        return circuit
    wide = QuantumCircuit(width, name=circuit.name, global_phase=circuit.global_phase,
                          metadata=circuit.metadata)
    for register in circuit.cregs:
        wide.add_register(register)
    loose = [bit for bit in circuit.clbits if not circuit.find_bit(bit).registers]
    if loose:
        wide.add_bits(loose)
    return wide.compose(circuit, qubits=range(circuit.num_qubits), clbits=circuit.clbits)


def _values(where: str, value: Any, circuit: QuantumCircuit) -> Any:
    """Parameter values as qiskit's pubs take them: a dict by name, or an array."""
    if value is None:
        return None
    decoded = _decoded(f"{where}: the parameter values", value)
    if isinstance(decoded, Mapping):
        names = [p.name for p in circuit.parameters]
        keys = [k for k in decoded if isinstance(k, str)]
        if len(keys) != len(decoded):
            raise IBMInputValueError(
                f"{where}: parameter values by name take parameter names as keys. Fix: "
                f"{_values_hint(circuit)}")
        unknown = [k for k in keys if k not in names]
        if unknown:
            raise IBMInputValueError(
                f"{where}: the circuit has no parameter named {', '.join(map(repr, unknown))}"
                f". Fix: {_values_hint(circuit)}")
        missing = [n for n in names if n not in keys]
        if missing:
            raise IBMInputValueError(
                f"{where}: no value for the parameter(s) {', '.join(missing)}. Fix: "
                f"{_values_hint(circuit)}")
        return {k: _array(where, v) for k, v in decoded.items()}
    if type(decoded).__name__ == "BindingsArray":
        return decoded
    return _array(where, decoded)


def _array(where: str, value: Any) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=float)
    except (ValueError, TypeError, OverflowError):
        raise IBMInputValueError(
            f"{where}: the parameter values are not numbers (a number, a list of numbers, "
            "nested lists, or a dict of them by parameter name)") from None
    if not np.all(np.isfinite(array)):
        raise IBMInputValueError(f"{where}: the parameter values must be finite numbers")
    return array


def _values_hint(circuit: QuantumCircuit) -> str:
    names = [p.name for p in circuit.parameters]
    if not names:
        return "the circuit has no parameters: give null (or leave the values out)"
    return (f"the circuit has {len(names)} parameter(s), in this order: {', '.join(names)}; "
            "give one value per parameter (a list, or nested lists for several sets), or a "
            "dict by name such as {" + ", ".join(f'"{n}": 0.5' for n in names[:3]) + "}")


def _observables(where: str, value: Any, circuit: QuantumCircuit) -> Any:
    """Observables in any of IBM's forms, as a qiskit ``ObservablesArray``."""
    from qiskit.primitives.containers.observables_array import ObservablesArray

    decoded = _decoded(f"{where}: the observables", value)
    try:
        return ObservablesArray.coerce(decoded)
    except (ValueError, TypeError, KeyError, IndexError) as err:
        raise IBMInputValueError(
            f"{where}: the observables cannot be read ({_reason(err)}). Fix: give Pauli "
            f"strings such as \"{'Z' * min(circuit.num_qubits, 5)}\" (one letter per circuit "
            "qubit, qubit 0 rightmost), dicts such as {\"ZZ\": 0.5, \"XX\": 0.5}, or lists "
            "of either") from None


def _ndarray(array: np.ndarray) -> dict[str, Any]:
    """An array in the schema's ``NdarrayWrapperModel`` form (the client's own encoder)."""
    from qiskit_ibm_runtime import RuntimeEncoder

    return dict(RuntimeEncoder().default(np.asarray(array, dtype=float)))


def _decoded(where: str, node: Any) -> Any:
    """``node`` with the client's typed values (``{"__type__": ...}``) decoded, innermost
    first, as qiskit-ibm-runtime's ``RuntimeDecoder`` decodes them while parsing."""
    from qiskit_ibm_runtime import RuntimeDecoder

    hook = RuntimeDecoder().object_hook

    def walk(item: Any) -> Any:
        if isinstance(item, Mapping):
            return hook({k: walk(v) for k, v in item.items()})
        if isinstance(item, list):
            return [walk(v) for v in item]
        return item

    try:
        return walk(node)
    except RecursionError:
        raise
    except Exception as err:  # a damaged encoded value is the request's fault
        raise IBMInputValueError(
            f"{where} cannot be decoded ({type(err).__name__}: {err}); encode them as "
            "qiskit-ibm-runtime's RuntimeEncoder does, or send plain JSON") from None


def _reason(err: BaseException) -> str:
    """An exception's message as the middle of a sentence."""
    return " ".join(str(err).split()).rstrip(". ") or type(err).__name__


# -- executor ------------------------------------------------------------------------


def _executor(program: str, backend: str, params: Any, top: dict[str, Any]) -> Submission:
    """Executor params: validated with the schema model of their ``schema_version`` and
    decoded with the client's converter for it (every version from 0.46 to 0.51's)."""
    from pydantic import ValidationError
    from qiskit_ibm_runtime.quantum_program.params_converters import (
        QUANTUM_PROGRAM_PARAMS_CONVERTERS,
    )

    if not isinstance(params, Mapping):
        raise IBMInputValueError("params must be an object, as the client's Executor sends")
    version = params.get("schema_version")
    converter = QUANTUM_PROGRAM_PARAMS_CONVERTERS.get(str(version))
    if converter is None:
        raise IBMInputValueError(
            f"executor params schema_version={version!r} is not one of "
            f"{', '.join(QUANTUM_PROGRAM_PARAMS_CONVERTERS)}")
    schema = f"executor {version}"
    _validate(converter.model, schema, program, params)
    try:
        decoded = converter.decoder(converter.model.model_validate(params))
    except (ValidationError, ValueError, TypeError, KeyError) as err:
        raise IBMInputValueError(f"the quantum program cannot be decoded: {err}") from None
    return Submission(program=program, backend=backend, params=params,
                      canonical=dict(params), schema=schema, program_input=decoded, **top)

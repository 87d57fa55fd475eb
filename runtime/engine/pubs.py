"""Primitive pubs: their accepted forms, coercion, IBM's size limits, and the fix for a refused one.

The QPU (``qpu.QPU.prepare_sampler``/``prepare_estimator``), the client-side primitives
(``client_side``) and the REST server's reading of JSON pubs check pubs with these
functions, so a mistake gets the same message whichever door it came through.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from numbers import Integral, Real
from typing import Any, Literal

import numpy as np
from qiskit.circuit import QuantumCircuit
from qiskit.exceptions import QiskitError
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.quantum_info import SparsePauliOp

from .errors import IBMInputValueError

PubKind = Literal["sampler", "estimator"]

SAMPLER_FORM = "a sampler pub is a circuit or a tuple (circuit, parameter_values, shots)"
ESTIMATOR_FORM = (
    "an estimator pub is a tuple (circuit, observables, parameter_values, precision), "
    "the last two optional"
)

# Projector letters of SparseObservable labels are measured in the basis of their Pauli.
_BASIS_OF = str.maketrans({"0": "Z", "1": "Z", "+": "X", "-": "X", "r": "Y", "l": "Y"})


def is_int_at_least(value: object, least: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, Integral) and int(value) >= least


def is_positive_real(value: object) -> bool:
    return (not isinstance(value, bool) and isinstance(value, Real)
            and math.isfinite(float(value)) and float(value) > 0)


def check_shots(where: str, shots: object, null: str = "None") -> None:
    """Refuse shots that are neither a positive integer nor ``null`` (the default's word)."""
    # Both doors call this, so the rule and its message are written once; only the word for
    # "no value" differs (None in Python, null in JSON).
    if shots is not None and not is_int_at_least(shots, 1):
        raise IBMInputValueError(
            f"{where} asks for shots={shots!r}. Fix: give a positive integer (e.g. 1024), or "
            f"{null} for the default")


def check_precision_value(where: str, precision: object, null: str = "None") -> None:
    """Refuse a precision that is neither a finite number > 0 nor ``null`` (the default's word)."""
    if precision is not None and not is_positive_real(precision):
        raise IBMInputValueError(
            f"{where} asks for precision={precision!r}. Fix: give a number > 0 (the target "
            f"standard error, e.g. 0.015625), or {null} for the default")


MAX_EXECUTIONS = 10_000_000
"""IBM's job limit: executions (circuits x shots) per Sampler job (guide "Job limits")."""

MIN_PRECISION = 1 / math.sqrt(MAX_EXECUTIONS)
"""The finest estimator precision: ``1/precision²`` shots per circuit within ``MAX_EXECUTIONS``."""


def check_sets(where: str, pub: Any) -> int:
    """The pub's number of parameter sets (observables broadcast in): at least one."""
    size = math.prod(pub.shape)
    if pub.parameter_values.size == 0 or size == 0:
        raise IBMInputValueError(
            f"{where} broadcasts to shape {tuple(pub.shape)}: it has no parameter sets (or no "
            "observables), so nothing would run. Fix: give at least one set of parameter "
            "values (and one observable), or leave the pub out"
        )
    return int(pub.parameter_values.size)


def check_precision(where: str, precision: float) -> None:
    # Decision: IBM splits estimator jobs into sub-jobs, so its 10 M execution limit is
    # not a job limit there; one circuit's shots are kept within it (1/precision² shots).
    if precision < MIN_PRECISION:
        raise IBMInputValueError(
            f"{where}: precision={precision!r} asks for 1/precision² = ({1 / precision:.3g})² "
            f"shots per circuit, over IBM's limit of {MAX_EXECUTIONS:,} executions. Fix: give "
            f"a precision >= {MIN_PRECISION:.6f}"
        )


def shots_for_precision(precision: float) -> int:
    """Shots per executed estimator circuit for a target standard error: ``ceil(1/precision²)``."""
    # Rounding first keeps float noise (1/0.1² = 100.00000000000001) from adding a shot.
    return max(1, math.ceil(round(1.0 / (precision * precision), 6)))


# -- pub coercion and diagnosis --------------------------------------------------------


def pub_list(pubs: Iterable[Any], kind: PubKind) -> list[Any]:
    example = "sampler.run([circuit])" if kind == "sampler" else (
        "estimator.run([(circuit, observable)])")
    if isinstance(pubs, QuantumCircuit | SamplerPub | EstimatorPub):
        raise IBMInputValueError(
            f"{kind} pubs must be a list of pubs, not a single {type(pubs).__name__}. Fix: "
            f"wrap it in a list, e.g. {example}"
        )
    try:
        items = list(pubs)
    except TypeError:
        raise IBMInputValueError(
            f"{kind} pubs must be a list of pubs, not {type(pubs).__name__}. Fix: e.g. {example}"
        ) from None
    if not items:
        raise IBMInputValueError(f"no {kind} pubs were given. Fix: pass at least one, e.g. "
                                 f"{example}")
    return items


def coerce_pub(where: str, item: Any, kind: PubKind, default: float) -> Any:
    check_shape(where, item, kind)
    try:
        if kind == "sampler":
            return SamplerPub.coerce(item, int(default))
        return EstimatorPub.coerce(item, default)
    except (ValueError, TypeError, QiskitError, AttributeError, IndexError, KeyError) as exc:
        raise IBMInputValueError(f"{where}: {exc} Fix: {diagnose(item, kind)}") from exc


def check_shape(where: str, item: Any, kind: PubKind) -> None:
    form = SAMPLER_FORM if kind == "sampler" else ESTIMATOR_FORM
    if isinstance(item, SamplerPub if kind == "sampler" else EstimatorPub):
        return
    if isinstance(item, QuantumCircuit):
        if kind == "sampler":
            return
        raise IBMInputValueError(
            f"{where} is a bare circuit, without observables. Fix: {form}, e.g. "
            "estimator.run([(circuit, observable)]); to run one pub, wrap it in a list"
        )
    sizes = (1, 2, 3) if kind == "sampler" else (2, 3, 4)
    if not isinstance(item, tuple | list):
        raise IBMInputValueError(
            f"{where} is a {type(item).__name__}, not a pub. Fix: {form}; pubs go in a list"
        )
    if len(item) not in sizes:
        raise IBMInputValueError(f"{where} has {len(item)} elements. Fix: {form}")
    if not isinstance(item[0], QuantumCircuit):
        raise IBMInputValueError(
            f"{where} starts with a {type(item[0]).__name__}, not a QuantumCircuit. Fix: {form}"
        )
    if kind == "sampler" and len(item) == 3:
        check_shots(where, item[2])
    if kind == "estimator" and len(item) == 4:
        check_precision_value(where, item[3])


def diagnose(item: Any, kind: PubKind) -> str:
    """The most likely fix for a pub that qiskit refused (only ever called on failure)."""
    if not isinstance(item, tuple | list) or not item or not isinstance(item[0], QuantumCircuit):
        return SAMPLER_FORM if kind == "sampler" else ESTIMATOR_FORM
    circuit = item[0]
    if kind == "estimator":
        hint = _diagnose_observables(circuit, item[1])
        if hint:
            return hint
    position = 1 if kind == "sampler" else 2
    values = item[position] if len(item) > position else None
    return _diagnose_values(circuit, values) or (
        SAMPLER_FORM if kind == "sampler" else ESTIMATOR_FORM)


def _diagnose_observables(circuit: QuantumCircuit, observables: Any) -> str | None:
    width = circuit.num_qubits
    forms = (f"give a SparsePauliOp, a Pauli string such as {'Z' * width!r}, or a (nested) "
             "list of them")
    try:
        array = ObservablesArray.coerce(observables)
    except (ValueError, TypeError, QiskitError) as exc:
        return f"the observables are not valid ({exc}); {forms}"
    widths = {len(next(iter(obs))) for obs in array.ravel() if obs}
    if widths - {width}:
        return (f"the observables act on {', '.join(map(str, sorted(widths)))} qubits but the "
                f"circuit has {width}; give observables on exactly {width} qubits (for an ISA "
                "circuit: observable.apply_layout(isa_circuit.layout))")
    return None


def _diagnose_values(circuit: QuantumCircuit, values: Any) -> str | None:
    count = circuit.num_parameters
    names = ", ".join(p.name for p in circuit.parameters)
    if values is None:
        if count:
            return (f"the circuit has {count} parameter(s) ({names}) but no values were "
                    f"given; give {count} value(s) per parameter set")
        return None
    if isinstance(values, Mapping | BindingsArray):
        return (f"the circuit has {count} parameter(s) ({names}); the bindings must give "
                "each exactly one value per parameter set")
    if count == 0:
        return "the circuit has no parameters; leave the parameter values out (or None)"
    try:
        shape = np.asarray(values, dtype=float).shape
    except (ValueError, TypeError):
        return (f"parameter values must be numbers in a rectangular array whose last axis "
                f"has length {count} (one value for each of {names})")
    if (shape[-1] if shape else 1) != count:
        return (f"the circuit has {count} parameter(s) ({names}); give an array whose last "
                f"axis has length {count}: a list of {count} numbers for one set, or shape "
                f"(k, {count}) for k sets")
    return None


# -- estimator measurement bases ------------------------------------------------------


def pauli_terms(observables: Any) -> tuple[int, frozenset[tuple[str, tuple[int, ...]]]]:
    """The width and the sparse terms (label, qubits) of all observables of a pub."""
    # Read from the SparseObservables the array stores: going through its dict view
    # costs ~55 µs for a 7-term Hamiltonian, this ~5 µs.
    array = observables.sparse_observables_array()
    terms = frozenset((label, tuple(indices)) for obs in array.flat
                      for label, indices, _ in obs.to_sparse_list())
    return observables.num_qubits, terms


@functools.lru_cache(maxsize=4096)
def num_bases(width: int, terms: frozenset[tuple[str, tuple[int, ...]]]) -> int:
    """Measurement bases for a set of Pauli terms: their qubit-wise commuting groups."""
    # Cached on the term set: grouping costs ~300 µs, and a VQE loop asks for the same
    # Hamiltonian's terms on every call.
    if not terms:
        return 1
    paulis = SparsePauliOp.from_sparse_list(
        [(label.translate(_BASIS_OF), indices, 1.0) for label, indices in sorted(terms)], width)
    return len(paulis.group_commuting(qubit_wise=True))

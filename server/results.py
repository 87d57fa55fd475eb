"""A job's result as ``GET /jobs/{id}/results`` answers it: the client's form or IBM's plain JSON.

IBM's job-create schema: ``support_qiskit`` "If True, returns a Qiskit-style output, meant to
be parsed using the runtime result decoder, or resort to returning pure JSON results". The
Python client sends ``true`` and gets the typed JSON of IBM's result models (``encoded``); a
caller
without it (IBM's REST guides) gets plain JSON (``plain``), which its guides read as
``results[i]["data"][register]["samples"]`` (hex strings, with ``num_bits``) and
``results[i]["data"]["evs"]``, ``stds``, ``ensemble_standard_error``, with each pub's
``metadata`` beside its data and the job's ``metadata`` beside the results.

No ``ibm-quantum-schemas`` model describes the plain form (its result models are the
typed one), so it is written here: arrays as nested lists, numbers as JSON numbers,
timestamps as ISO 8601 strings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np


def encoded(result: Any, program: str) -> str:
    """The result as IBM's result model writes it and the client's ``ResultDecoder`` reads it.

    The client's ``RuntimeEncoder`` gives the typed JSON; IBM's model of the program's
    result (``ibm-quantum-schemas`` sampler or estimator ``version_0_1``
    ``PrimitiveResultWrapperModel``) validates it and writes it, with what the model has
    that the client's encoder leaves out (each data bin's ``field_types``) and without what
    it has not (an estimator's execution spans).
    """
    from qiskit_ibm_runtime import RuntimeEncoder

    if program == "sampler":
        from ibm_quantum_schemas.sampler.version_0_1.primitive_result import (
            PrimitiveResultWrapperModel as Model,
        )
    else:
        from ibm_quantum_schemas.estimator.version_0_1.primitive_result import (
            PrimitiveResultWrapperModel as Model,
        )
    document = json.loads(json.dumps(result, cls=RuntimeEncoder))
    for pub in document["__value__"]["pub_results"]:
        data = pub["__value__"]["data"]["__value__"]
        data["field_types"] = [field.get("__type__", "ndarray") if isinstance(field, dict)
                               else type(field).__name__ for field in data["fields"].values()]
    return str(Model.model_validate(document).model_dump_json(by_alias=True, exclude_unset=True))


def plain(result: Any) -> dict[str, Any]:
    """A ``PrimitiveResult`` as IBM's plain JSON: ``{"results": [...], "metadata": {...}}``."""
    return {"results": [{"data": {name: _field(value) for name, value in pub.data.items()},
                         "metadata": _jsonable(pub.metadata)} for pub in result],
            "metadata": _jsonable(result.metadata)}


def plain_text(result: Any) -> str:
    """``plain(result)`` as strict JSON text (no NaN: a non-finite number is null)."""
    return json.dumps(plain(result), allow_nan=False)


def _field(value: Any) -> Any:
    """One data field: a ``BitArray`` as hex samples and its width, arrays as lists."""
    from qiskit.primitives import BitArray

    if isinstance(value, BitArray):
        return {"samples": samples(value), "num_bits": value.num_bits}
    return _jsonable(value)


def samples(bits: Any) -> Any:
    """Each shot of a ``BitArray`` as IBM's hex string (``'0x3'``), nested as its shape."""
    packed = np.asarray(bits.array, dtype=np.uint8)  # (*shape, shots, bytes), big-endian
    rows = packed.reshape(-1, packed.shape[-1])
    hexes = [hex(int.from_bytes(row.tobytes(), "big")) for row in rows]
    return np.array(hexes, dtype=object).reshape(packed.shape[:-1]).tolist()


def _jsonable(value: Any) -> Any:
    """Metadata and data as plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # Anything else (execution spans): the client's own encoding, its type tags dropped.
    from qiskit_ibm_runtime import RuntimeEncoder

    return _untyped(json.loads(json.dumps(value, cls=RuntimeEncoder)))


def _untyped(node: Any) -> Any:
    """``RuntimeEncoder`` JSON without its ``{"__type__", "__value__"}`` wrappers."""
    if isinstance(node, list):
        return [_untyped(v) for v in node]
    if not isinstance(node, dict):
        return node
    if "__type__" in node and "__value__" in node:
        kind, value = node["__type__"], _untyped(node["__value__"])
        if kind == "datetime":
            return _jsonable(datetime.fromisoformat(value))
        if kind == "ExecutionSpans" and isinstance(value, dict):
            return value.get("spans", [])
        return value
    return {k: _untyped(v) for k, v in node.items()}

"""Program ``executor`` over HTTP: IBM's ``QuantumProgram`` jobs in, ``QuantumProgramResult`` out.

The 0.50+ client's ``Executor`` (and the client-side Sampler and Estimator built on it)
posts ``params`` written by ``ibm-quantum-schemas``' executor ``ParamsModel``. They are
validated with that model and decoded with the client's own converters
(``QUANTUM_PROGRAM_PARAMS_CONVERTERS``), the program runs as a runtime executor job in
the session, batch or job mode asked for, and its result is written with the schema's
``QuantumProgramResultModel`` (tensors through its ``CompressedTensorModel``, pass-through
data through the client's own converter), which the client's ``ExecutorResultDecoder``
reads back before its Sampler and Estimator post-process it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qsession.runtime import IBMInputValueError, RuntimeJobV2
from qsession.runtime.executor import submit_program
from qsession.runtime.programs import result_of_job

from .emulator import Emulator, Instance, UnknownBackend

RESULT_SCHEMA = "v2.0"
"""The result schema written back (the one the 0.51 client sends its params in)."""


def submit(emulator: Emulator, tenant: Instance, body: Mapping[str, Any]) -> RuntimeJobV2:
    """Run an ``executor`` job from a ``POST /jobs`` body (plain JSON)."""
    from pydantic import ValidationError
    from qiskit_ibm_runtime.quantum_program.params_converters import (
        QUANTUM_PROGRAM_PARAMS_CONVERTERS,
    )

    backend_name = body.get("backend")
    if not isinstance(backend_name, str) or backend_name not in emulator.backends:
        raise UnknownBackend(f"Backend not found: {backend_name!r}; this service has "
                             f"{', '.join(emulator.backends)}")
    params = body.get("params")
    if not isinstance(params, Mapping):
        raise IBMInputValueError("params must be an object, as the client's Executor sends")
    version = params.get("schema_version")
    converter = QUANTUM_PROGRAM_PARAMS_CONVERTERS.get(str(version))
    if converter is None:
        raise IBMInputValueError(
            f"executor params schema_version={version!r} is not one of "
            f"{', '.join(QUANTUM_PROGRAM_PARAMS_CONVERTERS)}")
    try:
        model = converter.model.model_validate(params)
        program, options = converter.decoder(model)
    except ValidationError as err:
        details = "; ".join(f"{'.'.join(['params', *(str(x) for x in e['loc'])])}: {e['msg']}"
                            for e in err.errors()[:5])
        raise IBMInputValueError(
            f"params do not fit IBM's executor schema {version} (ibm-quantum-schemas): "
            f"{details}") from None
    except (ValueError, TypeError) as err:
        raise IBMInputValueError(f"the quantum program cannot be decoded: {err}") from None
    tags = body.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise IBMInputValueError("tags must be a list of strings")
    # What the client sends beside params (EnvironmentOptions, max_execution_time).
    options.environment.job_tags = list(tags)
    options.max_execution_time = body.get("cost")
    served = emulator.backends[backend_name]
    with emulator.lock:
        session_id = body.get("session_id")
        session = None
        if session_id is not None:
            session = emulator.session(tenant, str(session_id))
            if session.backend() != backend_name:
                raise IBMInputValueError(
                    f"session {session_id} runs on {session.backend()}, not {backend_name}")
        return submit_program(served.qpu, session, program, options, instance=tenant.name)


def result_text(job: RuntimeJobV2) -> str:
    """A DONE executor job's ``QuantumProgramResult`` as IBM's result schema JSON."""
    from ibm_quantum_schemas.common import CompressedTensorModel
    from ibm_quantum_schemas.executor.version_2_0 import models
    from qiskit_ibm_runtime.quantum_program.converters.converters_2_0 import (
        passthrough_data_to_2_0,
    )

    result, program = result_of_job(job)
    # Each chunk ran its item's elements in order: the identity permutation, all of them.
    spans = [models.ChunkSpan(
        start=span.start, stop=span.stop,
        parts=[models.ChunkPart(idx_item=p.idx_item, size=p.size,
                                permutation=list(range(len(program.items[p.idx_item].shape))),
                                element_range=(0, p.size, 1)) for p in span.parts])
        for span in result.metadata.chunk_timing]
    model = models.QuantumProgramResultModel(
        data=[models.QuantumProgramResultItemModel(
            results={name: CompressedTensorModel.from_numpy(value)
                     for name, value in item.items()},
            metadata=models.ItemMetadataModel()) for item in result],
        metadata=models.MetadataModel(chunk_timing=spans),
        passthrough_data=passthrough_data_to_2_0(result.passthrough_data),
        semantic_role=result._semantic_role,
    )
    return str(model.model_dump_json())

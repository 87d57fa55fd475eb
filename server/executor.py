"""Program ``executor`` over HTTP: IBM's ``QuantumProgram`` jobs in, ``QuantumProgramResult`` out.

The client's ``Executor`` (and the 0.50+ client-side Sampler and Estimator built on it)
posts ``params`` written by ``ibm-quantum-schemas``' executor ``ParamsModel``. ``forms``
validates them with that model and decodes them with the client's own converters
(``QUANTUM_PROGRAM_PARAMS_CONVERTERS``); the program runs as a runtime executor job in
the session, batch or job mode asked for, and its result is written with the schema's
``QuantumProgramResultModel`` (tensors through its ``CompressedTensorModel``, pass-through
data through the client's own converter), which the client's ``ExecutorResultDecoder``
reads back before its Sampler and Estimator post-process it.
"""

from __future__ import annotations

from typing import Any

from qsession.runtime import RuntimeJobV2
from qsession.runtime.ibm.executor import submit_program

from .emulator import Emulator, Instance
from .forms import Submission

RESULT_SCHEMA = "v2.0"
"""The result schema written when the params named none (the one 0.49-0.51 clients send)."""
VERSIONS = ("v0.1", "v0.2", "v1.0", "v1.1", "v2.0")
"""The executor schema versions ``ibm-quantum-schemas`` describes, and results are written in."""


def submit(emulator: Emulator, tenant: Instance, submission: Submission) -> RuntimeJobV2:
    """Run an ``executor`` job from a normalised ``POST /jobs`` body (``forms.normalise``)."""
    program, options = submission.program_input
    tags = list(submission.tags)
    # What the client sends beside params (EnvironmentOptions, max_execution_time).
    options.environment.job_tags = tags
    options.max_execution_time = submission.cost
    served = emulator.backends[submission.backend]
    with emulator.lock:
        mode = emulator.mode_of(tenant, submission)
        session = None if mode is served.qpu else mode
        return submit_program(served.qpu, session, program, options, instance=tenant.name)


def result_text(job: RuntimeJobV2, version: str | None = None) -> str:
    """A DONE executor job's ``QuantumProgramResult`` in IBM's result schema ``version``.

    A client reads the result in the schema version it sent its params in (0.46 sends
    v0.2, 0.47 v1.0, 0.48 v1.1, 0.49-0.51 v2.0), so the result is written with that
    version's ``ibm-quantum-schemas`` models: v0.1 has no item metadata and no
    pass-through data, v0.x chunk parts no permutation, v2.0 compressed tensors.
    """
    import importlib

    from ibm_quantum_schemas.common import CompressedTensorModel, TensorModel

    version = version if version in VERSIONS else RESULT_SCHEMA
    tag = version.lstrip("v").replace(".", "_")
    models = importlib.import_module(f"ibm_quantum_schemas.executor.version_{tag}.models")
    result, program = job.executor_result()
    tensor = CompressedTensorModel if version == "v2.0" else TensorModel
    full_parts = version not in ("v0.1", "v0.2")

    def part(p: Any) -> Any:
        if not full_parts:
            return models.ChunkPart(idx_item=p.idx_item, size=p.size)
        # Each chunk ran its item's elements in order: the identity permutation, all of them.
        return models.ChunkPart(idx_item=p.idx_item, size=p.size,
                                permutation=list(range(len(program.items[p.idx_item].shape))),
                                element_range=(0, p.size, 1))

    spans = [models.ChunkSpan(start=span.start, stop=span.stop,
                              parts=[part(p) for p in span.parts])
             for span in result.metadata.chunk_timing]
    fields: dict[str, Any] = {}
    if version != "v0.1":
        converters = importlib.import_module(
            f"qiskit_ibm_runtime.quantum_program.converters.converters_{tag}")
        to_model = getattr(converters, f"passthrough_data_to_{tag}")
        fields["passthrough_data"] = to_model(result.passthrough_data)
    if full_parts:
        fields["semantic_role"] = result._semantic_role
    model = models.QuantumProgramResultModel(
        data=[models.QuantumProgramResultItemModel(
            results={name: tensor.from_numpy(value) for name, value in item.items()},
            metadata=None if version == "v0.1" else models.ItemMetadataModel())
            for item in result],
        metadata=models.MetadataModel(chunk_timing=spans),
        **fields,
    )
    return str(model.model_dump_json())

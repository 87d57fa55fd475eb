"""IBM's options models for ``Executor`` and the client-side primitives, as IBM defines them.

These are the installed client's own pydantic models (``qiskit_ibm_runtime.options_models``),
re-exported: the client-side primitives pass them to the client's ``prepare`` functions
and decoders, which read every field, so a copy here could only drift from them. Which
fields the emulated QPU honours is listed by ``qsession docs ibm-compatibility``.
"""

from qiskit_ibm_runtime.options_models import (
    BitFlipChecksOptions,
    CalibratorOptions,
    DynamicalDecouplingOptions,
    EnvironmentOptions,
    EstimatorOptions,
    ExecutionOptions,
    ExecutorOptions,
    MeasureNoiseLearningOptions,
    NoiseLearnerV3Options,
    PecOptions,
    PostCircuitBitFlipChecksOptions,
    PreCircuitBitFlipChecksOptions,
    ResilienceOptions,
    SamplerExecutionOptions,
    SamplerOptions,
    SimulatorOptions,
    TwirlingOptions,
    ZneOptions,
)

__all__ = [
    "BitFlipChecksOptions",
    "CalibratorOptions",
    "DynamicalDecouplingOptions",
    "EnvironmentOptions",
    "EstimatorOptions",
    "ExecutionOptions",
    "ExecutorOptions",
    "MeasureNoiseLearningOptions",
    "NoiseLearnerV3Options",
    "PecOptions",
    "PostCircuitBitFlipChecksOptions",
    "PreCircuitBitFlipChecksOptions",
    "ResilienceOptions",
    "SamplerExecutionOptions",
    "SamplerOptions",
    "SimulatorOptions",
    "TwirlingOptions",
    "ZneOptions",
]

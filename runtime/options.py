"""``qiskit_ibm_runtime.options``'s names: every options class of the V2 primitives."""

from .ibm.options import (
    DynamicalDecouplingOptions,
    EnvironmentOptions,
    EstimatorOptions,
    ExecutionOptionsV2,
    LayerNoiseLearningOptions,
    MeasureNoiseLearningOptions,
    OptionsV2,
    PecOptions,
    ResilienceOptionsV2,
    SamplerExecutionOptionsV2,
    SamplerOptions,
    SimulatorOptions,
    TwirlingOptions,
    ZneOptions,
)

__all__ = [
    "DynamicalDecouplingOptions",
    "EnvironmentOptions",
    "EstimatorOptions",
    "ExecutionOptionsV2",
    "LayerNoiseLearningOptions",
    "MeasureNoiseLearningOptions",
    "OptionsV2",
    "PecOptions",
    "ResilienceOptionsV2",
    "SamplerExecutionOptionsV2",
    "SamplerOptions",
    "SimulatorOptions",
    "TwirlingOptions",
    "ZneOptions",
]

"""Module paths as in qiskit-ibm-runtime 0.51: ``from qiskit_ibm_runtime.batch import Batch``
and the like port by changing the package name alone."""

from __future__ import annotations

import importlib

import pytest

# module -> names IBM code imports from it (checked to exist in qiskit_ibm_runtime too)
PATHS = {
    "": ["QiskitRuntimeService", "Session", "Batch", "SamplerV2", "EstimatorV2", "Sampler",
         "Estimator", "SamplerOptions", "EstimatorOptions", "OptionsV2", "RuntimeJobV2",
         "IBMError", "IBMInputValueError", "IBMRuntimeError", "IBMBackendError",
         "IBMBackendValueError", "RuntimeJobNotFound", "RuntimeInvalidStateError",
         "RuntimeJobFailureError", "RuntimeJobMaxTimeoutError", "RuntimeJobTimeoutError"],
    "batch": ["Batch"],
    "session": ["Session"],
    "sampler": ["SamplerV2"],
    "estimator": ["EstimatorV2"],
    "runtime_job_v2": ["RuntimeJobV2"],
    "qiskit_runtime_service": ["QiskitRuntimeService"],
    "options": ["SamplerOptions", "EstimatorOptions", "OptionsV2", "EnvironmentOptions",
                "ExecutionOptionsV2", "SamplerExecutionOptionsV2", "DynamicalDecouplingOptions",
                "TwirlingOptions", "SimulatorOptions", "ResilienceOptionsV2", "ZneOptions",
                "PecOptions", "MeasureNoiseLearningOptions", "LayerNoiseLearningOptions"],
    "exceptions": ["IBMError", "IBMInputValueError", "IBMRuntimeError", "IBMBackendError",
                   "IBMBackendValueError", "RuntimeJobNotFound", "RuntimeInvalidStateError",
                   "RuntimeJobFailureError", "RuntimeJobMaxTimeoutError",
                   "RuntimeJobTimeoutError", "JobError", "JobTimeoutError", "QiskitError"],
    "fake_provider": ["FakeManilaV2", "FakeBrisbane", "FakeSherbrooke"],
}


@pytest.mark.parametrize("module", list(PATHS), ids=lambda m: m or "top")
def test_each_path_has_ibms_names(module: str) -> None:
    suffix = f".{module}" if module else ""
    ours = importlib.import_module(f"qsession.runtime{suffix}")
    theirs = importlib.import_module(f"qiskit_ibm_runtime{suffix}")
    for name in PATHS[module]:
        assert hasattr(theirs, name), f"qiskit_ibm_runtime{suffix} has no {name}"
        assert hasattr(ours, name), f"qsession.runtime{suffix} has no {name}"


def test_from_package_import_module_works() -> None:
    from qsession.runtime import batch, options, session

    assert batch.Batch is session.Batch
    assert options.SamplerOptions().environment.log_level == "WARNING"


def test_the_same_objects_under_every_path() -> None:
    from qsession import runtime
    from qsession.runtime import exceptions, sampler

    assert sampler.SamplerV2 is runtime.SamplerV2 is runtime.Sampler
    assert exceptions.IBMBackendValueError is runtime.IBMBackendValueError
    assert issubclass(runtime.IBMBackendValueError, runtime.IBMBackendError)
    # IBM's hierarchy: IBMBackendError is an IBMError
    assert issubclass(runtime.IBMBackendError, runtime.IBMError)

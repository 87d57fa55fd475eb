"""Primitive options: every group as qiskit-ibm-runtime 0.51 has it, in all four forms.

Names, defaults, bounds and messages are read from qiskit_ibm_runtime/options/*.py (0.51):
each group is a pydantic dataclass with ``extra="forbid"`` and ``validate_assignment``, so
unknown names and ill-typed values raise a ``ValueError`` whose message starts
``1 validation error for <Group>``.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest
from helpers.circuits import bell
from qiskit_aer.noise import NoiseModel, depolarizing_error

from qsession.runtime import (
    EstimatorOptions,
    EstimatorV2,
    IBMInputValueError,
    LocalService,
    SamplerOptions,
    SamplerV2,
)
from qsession.runtime.ibm.options import Unset

# (primitive options class, group path, field, a valid value, an ill-typed value, message)
GROUPS: list[tuple[type[Any], str, str, Any, Any, str]] = [
    # environment_options.py: log_level is a Literal, job_tags a list
    (SamplerOptions, "environment", "log_level", "DEBUG", "LOUD",
     "Input should be 'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL'"),
    (SamplerOptions, "environment", "job_tags", ["a", "b"], "a", "Input should be a valid list"),
    # execution_options.py / sampler_execution_options.py
    (SamplerOptions, "execution", "rep_delay", 0.0005, "a", "Input should be a valid number"),
    (SamplerOptions, "execution", "init_qubits", False, "yes", "Input should be a valid boolean"),
    (SamplerOptions, "execution", "meas_type", "kerneled", "raw",
     "Input should be 'classified', 'kerneled' or 'avg_kerneled'"),
    (EstimatorOptions, "execution", "rep_delay", 0.0002, [1], "Input should be a valid number"),
    # dynamical_decoupling_options.py
    (SamplerOptions, "dynamical_decoupling", "sequence_type", "XY4", "ZZ",
     "Input should be 'XX', 'XpXm' or 'XY4'"),
    (EstimatorOptions, "dynamical_decoupling", "enable", True, 2,
     "Input should be a valid boolean"),
    # twirling_options.py: counts are >= 1 or "auto"
    (SamplerOptions, "twirling", "num_randomizations", 32, 0,
     "TwirlingOptions.num_randomizations must be >=1, but is ==0."),
    (EstimatorOptions, "twirling", "strategy", "active-accum", "none",
     "Input should be 'active', 'active-accum', 'active-circuit' or 'all'"),
    # simulator_options.py
    (SamplerOptions, "simulator", "seed_simulator", 42, "a", "Input should be a valid integer"),
    (EstimatorOptions, "simulator", "noise_model", None, 3,
     "'noise_model' can only be a dictionary or qiskit_aer.noise.NoiseModel."),
    (EstimatorOptions, "simulator", "basis_gates", ["cx", "rz"], "cx",
     "Input should be a valid list"),
    # resilience_options.py and its sub-groups
    (EstimatorOptions, "resilience", "zne_mitigation", True, "y",
     "Input should be a valid boolean"),
    (EstimatorOptions, "resilience.zne", "noise_factors", [1, 3, 5], [0.5],
     "noise_factors` option value must all be >= 1"),
    (EstimatorOptions, "resilience.zne", "amplifier", "pea", "folding",
     "Input should be 'gate_folding', 'gate_folding_front', 'gate_folding_back' or 'pea'"),
    (EstimatorOptions, "resilience.pec", "max_overhead", 50.0, 0,
     "PecOptions.max_overhead must be >0, but is ==0."),
    (EstimatorOptions, "resilience.layer_noise_learning", "num_randomizations", 8, 0,
     "LayerNoiseLearningOptions.num_randomizations must be >=1, but is ==0."),
]


@pytest.fixture
def service() -> LocalService:
    return LocalService(seed=5)


def _group(options: Any, path: str) -> Any:
    for part in path.split("."):
        options = getattr(options, part)
    return options


def _nested(path: str, field: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {field: value}
    for part in reversed(path.split(".")):
        out = {part: out}
    return out


def _owner(options_class: type[Any], path: str) -> str:
    return type(_group(options_class(), path)).__name__


@pytest.mark.parametrize(("cls", "path", "field", "good", "bad", "message"), GROUPS,
                         ids=[f"{g[0].__name__[:-7]}-{g[1]}.{g[2]}" for g in GROUPS])
def test_every_group_in_every_form(cls: type[Any], path: str, field: str, good: Any, bad: Any,
                                   message: str) -> None:
    # attribute form
    options = cls()
    setattr(_group(options, path), field, good)
    assert getattr(_group(options, path), field) == good
    # dict form, as the primitive's options= argument takes it
    from_dict = cls.build(_nested(path, field, good))
    assert getattr(_group(from_dict, path), field) == good
    assert from_dict == options
    # constructor keywords
    top, *_ = path.split(".")
    kwargs = cls(**{top: _nested(path, field, good)[top]})
    assert getattr(_group(kwargs, path), field) == good
    # update() merges: the group's other fields keep their values
    updated = cls()
    updated.environment.log_level = "ERROR"
    updated.update(**_nested(path, field, good))
    assert getattr(_group(updated, path), field) == good
    if path != "environment" or field != "log_level":
        assert updated.environment.log_level == "ERROR"
    # ill-typed: refused with IBM's message, in every form; the value is not stored
    owner = _owner(cls, path)
    for attempt in (lambda: setattr(_group(cls(), path), field, bad),
                    lambda: cls.build(_nested(path, field, bad)),
                    lambda: cls().update(**_nested(path, field, bad))):
        with pytest.raises(IBMInputValueError) as refused:
            attempt()
        text = str(refused.value)
        assert text.startswith(f"1 validation error for {owner}\n{field}\n"), text
        assert message in text
        assert isinstance(refused.value, ValueError)  # as pydantic's ValidationError
    # an unknown name in the group: IBM's two kinds (keyword vs attribute)
    with pytest.raises(IBMInputValueError,
                       match=f"validation error for {owner}\nbogus\n  Unexpected keyword"):
        cls.build(_nested(path, "bogus", 1))
    with pytest.raises(IBMInputValueError,
                       match=f"validation error for {owner}\nbogus\n  Object has no attribute"):
        _group(cls(), path).bogus = 1


@pytest.mark.parametrize(("cls", "field", "good", "bad", "message"), [
    # sampler_options.py / estimator_options.py / options.py (max_execution_time is an int)
    (SamplerOptions, "default_shots", 1000, "x", "Input should be a valid integer"),
    (SamplerOptions, "max_execution_time", 300, 1.5,
     "Input should be a valid integer, got a number with a fractional part"),
    (EstimatorOptions, "default_precision", 0.01, 0,
     "EstimatorOptions.default_precision must be >0, but is ==0."),
    (EstimatorOptions, "resilience_level", 2, 5,
     "EstimatorOptions.resilience_level must be <=2, but is ==5."),
    (EstimatorOptions, "seed_estimator", 7, "seven", "Input should be a valid integer"),
])
def test_top_level_fields(cls: type[Any], field: str, good: Any, bad: Any, message: str) -> None:
    options = cls(**{field: good})
    assert getattr(options, field) == good
    options2 = cls()
    options2.update(**{field: good})
    assert options2 == options
    with pytest.raises(IBMInputValueError, match=f"1 validation error for {cls.__name__}\n"
                                                 f"{field}\n") as refused:
        setattr(cls(), field, bad)
    assert message in str(refused.value)
    with pytest.raises(IBMInputValueError, match="Unexpected keyword argument"):
        cls(**{f"{field}_typo": good})
    with pytest.raises(IBMInputValueError, match="Object has no attribute"):
        cls().update(**{f"{field}_typo": good})


def test_defaults_are_ibms() -> None:
    # IBM's defaults: everything Unset except environment (log_level WARNING, private False).
    sampler, estimator = SamplerOptions(), EstimatorOptions()
    assert sampler.default_shots is Unset and sampler.shots == 4096
    assert estimator.default_precision is Unset and estimator.precision() == 0.015625
    assert sampler.environment.log_level == "WARNING" and sampler.environment.job_tags is None
    assert sampler.environment.private is False
    assert estimator.twirling.enable_gates is Unset and estimator.resilience_level is Unset
    assert not hasattr(sampler, "resilience")  # the sampler has no resilience group
    # estimator_options.py: default_shots, when set, wins over default_precision
    assert EstimatorOptions(default_precision=0.1, default_shots=10_000).precision() == 0.01


def test_cross_field_checks() -> None:
    # resilience_options.py's model validator
    with pytest.raises(IBMInputValueError, match="cannot be simultaneously enabled"):
        EstimatorOptions(resilience={"pec_mitigation": True, "zne_mitigation": True})
    with pytest.raises(IBMInputValueError, match="'measure_mitigation' is not set to True"):
        EstimatorOptions(resilience={"measure_noise_learning": {"num_randomizations": 2}})
    ok = EstimatorOptions(resilience={"measure_noise_learning": {"num_randomizations": 2},
                                      "measure_mitigation": True})
    assert ok.resilience.measure_noise_learning.num_randomizations == 2
    # measure_noise_learning in the other forms (it needs measure_mitigation, so it is not
    # in the GROUPS table): attribute, update, kwargs, and IBM's refusals
    attr = EstimatorOptions()
    attr.resilience.measure_mitigation = True
    attr.resilience.measure_noise_learning.num_randomizations = 2
    assert attr == ok
    updated = EstimatorOptions()
    updated.update(resilience={"measure_mitigation": True,
                               "measure_noise_learning": {"num_randomizations": 2}})
    assert updated == ok
    with pytest.raises(IBMInputValueError, match=re.escape(
            "MeasureNoiseLearningOptions.num_randomizations must be >=1, but is ==0.")):
        attr.resilience.measure_noise_learning.num_randomizations = 0
    with pytest.raises(IBMInputValueError, match="validation error for "
                                                 "MeasureNoiseLearningOptions\nbogus\n"):
        attr.resilience.measure_noise_learning.bogus = 1
    # zne_options.py: an extrapolator needs enough noise factors
    with pytest.raises(IBMInputValueError, match="double_exponential requires at least 4"):
        EstimatorOptions(resilience={"zne": {"extrapolator": "double_exponential"}})


def test_group_assigned_whole_and_wrong_type() -> None:
    options = SamplerOptions()
    options.simulator = {"seed_simulator": 5}
    assert options.simulator.seed_simulator == 5 and options.simulator.noise_model is Unset
    with pytest.raises(IBMInputValueError, match="validation error for SamplerOptions\ntwirling"):
        options.twirling = 3


def test_options_change_the_job(service: LocalService) -> None:
    qpu = service.backend()
    sampler = SamplerV2(mode=qpu)
    sampler.options.default_shots = 100
    sampler.options.environment.job_tags = ["t1"]
    sampler.options.simulator.seed_simulator = 11
    job = sampler.run([bell()])
    counts = job.result()[0].data.meas.get_counts()
    assert sum(counts.values()) == 100 and job.tags == ["t1"]
    again = SamplerV2(mode=qpu, options=sampler.options).run([bell()])
    assert again.result()[0].data.meas.get_counts() == counts  # the same seed, same counts
    assert job.inputs["options"] == {"default_shots": 100,
                                     "environment": {"log_level": "WARNING",
                                                     "job_tags": ["t1"], "private": False},
                                     "simulator": {"seed_simulator": 11}}
    assert job.inputs["not_emulated"] == []


def test_hardware_options_are_reported_once_and_kept(service: LocalService) -> None:
    qpu = service.backend()
    estimator = EstimatorV2(mode=qpu, options={"resilience_level": 2,
                                               "dynamical_decoupling": {"enable": True}})
    estimator.options.twirling.enable_gates = True
    estimator.options.execution.init_qubits = False
    with pytest.warns(UserWarning, match="accepted, not emulated") as caught:
        job = estimator.run([(bell(False), "ZZ")])
    names = ["resilience_level", "dynamical_decoupling.enable", "execution.init_qubits",
             "twirling.enable_gates"]
    text = str(caught[0].message)
    assert all(n in text for n in names)
    assert sorted(job.inputs["not_emulated"]) == sorted(names)
    assert job.inputs["options"]["twirling"] == {"enable_gates": True}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second job reports nothing new
        second = estimator.run([(bell(False), "ZZ")])
    assert second.inputs["not_emulated"] == job.inputs["not_emulated"]


def test_simulator_noise_model_is_honoured(service: LocalService) -> None:
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.5, 1), ["x", "sx", "rz"])
    noise.add_all_qubit_quantum_error(depolarizing_error(0.5, 2), ["cx", "cz", "ecr"])
    qpu = service.backend()
    ideal = EstimatorV2(mode=qpu).run([(bell(False), "ZZ")]).result()[0].data.evs
    noisy = EstimatorV2(mode=qpu, options={"simulator": {"noise_model": noise,
                                                         "seed_simulator": 1}})
    evs = noisy.run([(bell(False), "ZZ")]).result()[0].data.evs
    assert float(ideal) == pytest.approx(1.0, abs=0.05)
    assert float(evs) < 0.8  # depolarised: the correlation is lost


def test_rep_delay_feeds_the_timing_model(service: LocalService) -> None:
    # Every shot waits one repetition delay: 1000 shots at 500 µs instead of the
    # QPU's 250 µs default take 1000 × 250 µs = 0.25 s longer.
    qpu = service.backend()
    assert qpu.timing.rep_delay_s == 250e-6
    default = SamplerV2(mode=qpu).run([bell()], shots=1000)
    slow = SamplerV2(mode=qpu, options={"execution": {"rep_delay": 500e-6}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rep_delay is emulated: no "not emulated" report
        longer = slow.run([bell()], shots=1000)
    assert longer.inputs["not_emulated"] == []
    default_us = default._record.duration_us
    assert longer._record.duration_us == default_us + 250_000
    longer.result()
    assert longer.usage() == pytest.approx(default_us / 1e6 + 0.25)
    with pytest.raises(IBMInputValueError, match=r"rep_delay=-1\.0: a repetition delay"):
        SamplerV2(mode=qpu, options={"execution": {"rep_delay": -1}}).run([bell()])


def test_twirling_randomizations_set_the_samplers_default_shots(service: LocalService) -> None:
    # twirling_options.py (0.51): "the product of num_randomizations and
    # shots_per_randomization takes precedence over default_shots"; shots given to run()
    # or in a pub "are always obeyed".
    qpu = service.backend()
    options = {"default_shots": 1000, "twirling": {"enable_gates": True,
                                                  "num_randomizations": 4,
                                                  "shots_per_randomization": 25}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # twirling itself is not emulated
        sampler = SamplerV2(mode=qpu, options=options)
        assert sampler.run([bell()]).result()[0].data.meas.num_shots == 100
        assert sampler.run([bell()], shots=30).result()[0].data.meas.num_shots == 30
        assert sampler.run([(bell(), None, 7)]).result()[0].data.meas.num_shots == 7
        sampler.options.twirling.enable_gates = False  # not twirling: default_shots again
        assert sampler.run([bell()]).result()[0].data.meas.num_shots == 1000
        sampler.options.twirling.enable_gates = True
        sampler.options.twirling.shots_per_randomization = "auto"  # derived from the shots
        assert sampler.run([bell()]).result()[0].data.meas.num_shots == 1000

"""docs/ibm-compatibility.md covers qiskit-ibm-runtime 0.51's public API, row by row.

The names are read from IBM's installed client (its classes' public attributes and its
options dataclasses' fields), so a name the table forgets fails here; "same" and
"accepted" names must exist in qsession.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import qiskit_ibm_runtime as ibm
from pydantic import BaseModel
from qiskit_ibm_runtime import executor_estimator, executor_sampler, options_models
from qiskit_ibm_runtime.ibm_backend import IBMBackend

from qsession import runtime as ours
from qsession.runtime import Executor, RuntimeJobV2
from qsession.runtime import executor_estimator as our_estimator
from qsession.runtime import executor_sampler as our_sampler
from qsession.runtime import options_models as our_models
from qsession.runtime.ibm.options import Unset

DOC = Path(__file__).resolve().parents[1] / "docs" / "ibm-compatibility.md"
STATUS = re.compile(r"^(same|accepted, not emulated \(.+\)|missing \(.+\))$")
CLASSES: dict[str, tuple[Any, Any]] = {
    "QiskitRuntimeService": (ibm.QiskitRuntimeService, ours.QiskitRuntimeService),
    "IBMBackend": (IBMBackend, ours.LocalService(seed=0).backend()),
    "Session": (ibm.Session, ours.Session),
    "Batch": (ibm.Batch, ours.Batch),
    "SamplerV2": (ibm.SamplerV2, ours.SamplerV2),
    "EstimatorV2": (ibm.EstimatorV2, ours.EstimatorV2),
    "RuntimeJobV2": (ibm.RuntimeJobV2, RuntimeJobV2),
    "executor_sampler.Sampler": (executor_sampler.Sampler, our_sampler.Sampler),
    "executor_estimator.Estimator": (executor_estimator.Estimator, our_estimator.Estimator),
    "Executor": (ibm.Executor, Executor),
}


def rows() -> dict[str, str]:
    found = {}
    for match in re.finditer(r"^\| `([^`]+)` \| ([^|]*) \|", DOC.read_text(), re.MULTILINE):
        found[match.group(1)] = match.group(2).strip()
    return found


def _fields(obj: Any, prefix: str = "") -> list[str]:
    names = []
    for f in dataclasses.fields(obj):
        if f.name.startswith("_"):
            continue
        value = getattr(obj, f.name)
        names += (_fields(value, f"{prefix}{f.name}.") if dataclasses.is_dataclass(value)
                  else [prefix + f.name])
    return names


def test_no_row_is_blank_and_each_status_is_one_of_three() -> None:
    table = rows()
    assert len(table) > 150
    for name, status in table.items():
        assert STATUS.match(status), f"{name}: status {status!r}"


def test_every_public_name_of_ibms_classes_has_a_row() -> None:
    table = rows()
    for label, (theirs, mine) in CLASSES.items():
        for name in (n for n in dir(theirs) if not n.startswith("_")):
            key = f"{label}.{name}"
            assert key in table, f"no row for {key}"
            if not table[key].startswith("missing"):
                assert hasattr(mine, name), f"{key} is '{table[key]}' but qsession lacks it"
        if label not in ("IBMBackend", "RuntimeJobV2"):  # users build the others
            assert f"{label}.__init__" in table, label


def test_every_option_field_has_a_row_and_exists() -> None:
    table = rows()
    for theirs, mine in ((ibm.SamplerOptions, ours.SamplerOptions),
                         (ibm.EstimatorOptions, ours.EstimatorOptions)):
        for path in _fields(theirs()):
            key = f"{theirs.__name__}.{path}"
            assert key in table or path in table, f"no row for {key}"
            target: Any = mine()
            for part in path.split("."):
                target = getattr(target, part)  # the field exists in qsession's options
            assert target is Unset or target in ("WARNING", False, None), (key, target)


def test_module_path_rows_name_real_modules() -> None:
    import importlib

    for name, status in rows().items():
        if name.startswith("qiskit_ibm_runtime.") and status == "same":
            importlib.import_module(name.replace("qiskit_ibm_runtime", "qsession.runtime"))


def _model_fields(model: BaseModel, prefix: str = "") -> list[str]:
    names = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        names += (_model_fields(value, f"{prefix}{name}.") if isinstance(value, BaseModel)
                  else [prefix + name])
    return names


def test_every_options_models_field_has_a_row() -> None:
    """The client-side primitives' pydantic options (0.50+), read from IBM's models."""
    table = rows()
    for name in ("SamplerOptions", "EstimatorOptions", "ExecutorOptions"):
        theirs = getattr(options_models, name)
        assert getattr(our_models, name) is theirs  # IBM's own models, re-exported
        for path in _model_fields(theirs()):
            assert (f"options_models.{name}.{path}" in table
                    or f"options_models.{path}" in table), f"no row for {name}.{path}"

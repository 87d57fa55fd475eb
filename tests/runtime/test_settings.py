"""max_time parsing and QPU settings: every bad value is a clear IBMInputValueError."""

from __future__ import annotations

import pytest

from qsession.runtime import IBMInputValueError
from qsession.runtime.engine.settings import QPUSettings, parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(60, 60.0), (1.5, 1.5), ("90", 90.0), ("2h 30m 40s", 9040.0), ("1d", 86400.0),
     ("2h30m", 9000.0), ("1.5h", 5400.0), ("45S", 45.0)],
)
def test_durations_parse(value: float | str, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("value", "fragment"),
    [(0, "must be positive"), (-5, "must be positive"), (float("nan"), "not finite"),
     (float("inf"), "not finite"), ("abc", "cannot be parsed"), ("2h x", "cannot be parsed"),
     ("1h 1h", "repeats the unit"), ("", "cannot be parsed"), (True, "not a duration"),
     ([1], "not a duration"), ("0s", "must be positive")],
)
def test_bad_durations_name_the_value_and_the_accepted_forms(value: object,
                                                             fragment: str) -> None:
    with pytest.raises(IBMInputValueError) as info:
        parse_duration(value)  # type: ignore[arg-type]
    assert fragment in str(info.value) and "2h 30m 40s" in str(info.value)


def test_plan_limit_caps_requested_max_time() -> None:
    settings = QPUSettings(max_time=600, max_time_limit="15m")
    assert settings.session_max_time(None) == 600
    assert settings.session_max_time("10m") == 600
    with pytest.raises(IBMInputValueError, match="exceeds this QPU's plan limit of 900s"):
        settings.session_max_time("1h")
    with pytest.raises(IBMInputValueError, match="exceeds the plan's limit"):
        QPUSettings(max_time=3600, max_time_limit=60)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [({"interactive_timeout": 0}, "interactive_timeout=0"),
     ({"batch_interactive_timeout": -1}, "batch_interactive_timeout=-1"),
     ({"instances": {}}, "at least one instance"),
     ({"instances": {"a": 0}}, "instance 'a' has allocation 0")],
)
def test_bad_settings_are_refused(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(IBMInputValueError, match=fragment):
        QPUSettings(**kwargs)  # type: ignore[arg-type]


def test_instances() -> None:
    settings = QPUSettings(instances={"hub/a": 2, "hub/b": 1})
    assert settings.check_instance(None) == "hub/a"
    with pytest.raises(IBMInputValueError, match="unknown instance 'x'"):
        settings.check_instance("x")

"""The README's examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python[^\n]*\n(.*?)```", README.read_text(), re.DOTALL)


def test_the_ibm_session_example_runs(capsys: object) -> None:
    block = python_blocks()[0]
    assert "from qsession.runtime import" in block
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    details = namespace["session"].details()  # type: ignore[attr-defined]
    assert details["state"] == "closed" and details["usage_time"] > 0


def test_the_property_example_is_valid_python() -> None:
    block = next(b for b in python_blocks() if "check(service.trace" in b)
    compile(block, "README.md", "exec")
    assert "check(service.trace, settled=True)" in block

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


WORDS = {"three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
         "ten": 10}


def test_the_invariant_counts_are_the_registries() -> None:
    from qsession.properties.invariants import INVARIANTS
    from qsession.properties.reported import API_INVARIANTS

    text = " ".join(README.read_text().split())
    found = re.search(r"The (\d+) trace invariants .*?; (\w+) more compare what the API "
                      r"reports", text)
    assert found, "the README's sentence counting the invariants is gone"
    assert int(found.group(1)) == len(INVARIANTS)
    assert WORDS[found.group(2)] == len(API_INVARIANTS)


def test_the_extras_table_lists_every_extra_and_what_all_holds() -> None:
    import tomllib

    extras = tomllib.loads((README.parent / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    rows = dict(re.findall(r"^\| `(\w+)` \| (.*) \|$", README.read_text(), re.MULTILINE))
    assert set(extras) <= set(rows), f"README's Install table lacks {set(extras) - set(rows)}"
    (bundle,) = extras["all"]
    named = re.fullmatch(r"qsession\[([\w,]+)\]", bundle)
    assert named, bundle
    assert set(re.findall(r"`(\w+)`", rows["all"])) == set(named.group(1).split(","))

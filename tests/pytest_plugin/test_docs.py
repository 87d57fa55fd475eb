"""The user suites in docs/testing-your-code.md and the README run as written, and pass."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def files_in(markdown: Path) -> dict[str, str]:
    """The python blocks of ``markdown`` whose first line names a file (``# name.py``)."""
    blocks = re.findall(r"```python\n# (\w+)\.py\n(.*?)```", markdown.read_text(), re.S)
    return dict(blocks)


@pytest.mark.parametrize(("doc", "tests"), [("docs/testing-your-code.md", 4), ("README.md", 3)])
def test_the_documented_suite_passes_as_written(pytester: pytest.Pytester, doc: str,
                                                tests: int) -> None:
    files = files_in(ROOT / doc)
    assert any(name.startswith("test_") for name in files), files
    pytester.makepyfile(**files)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=tests)

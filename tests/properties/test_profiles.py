"""Derandomized runs do not depend on which modules the process has loaded."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from qsession.properties.profiles import freeze_local_constants, load_profile


def _draws() -> list[int]:
    seen: list[int] = []

    @settings(max_examples=300, derandomize=True, database=None)
    @given(st.integers())
    def record(value: int) -> None:
        seen.append(value)

    record()
    return seen


def test_a_newly_imported_module_does_not_change_what_a_seed_draws(tmp_path: Path) -> None:
    # Hypothesis draws, now and then, a literal found in any non-installed module loaded in
    # the process; before the pool was frozen, the stateful machine's reach depended on the
    # tests that had run before it (the rare-paths floor failed in the whole suite only).
    load_profile()
    assert freeze_local_constants()
    before = _draws()
    source = tmp_path / "qsession_profile_probe.py"
    source.write_text("ODD = [" + ", ".join(str(918_273_645 + i) for i in range(50)) + "]\n")
    spec = importlib.util.spec_from_file_location("qsession_profile_probe", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        after = _draws()
    finally:
        del sys.modules[spec.name]
    assert after == before
    assert not set(after) & set(module.ODD)

"""Side environments for the install tests: a fresh venv outside the repository, and its commands.

Each is made with the interpreter running the tests, so it has the same Python; packages
come from the package index through pip, as a user's install does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIP_TIMEOUT_S = 1500


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def floors(requirements: list[str]) -> dict[str, str]:
    """``name -> oldest version`` of each requirement with a ``>=`` floor."""
    out = {}
    for req in requirements:
        m = re.match(r"([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)", req)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def clean_env(home: Path, venv: Path | None = None) -> dict[str, str]:
    """The environment a user's shell would have: no test-run variables, a fresh HOME."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("QISKIT_IBM", "PYTEST", "COV_", "VIRTUAL_ENV", "PYTHONPATH",
                                "PYTHONDONTWRITEBYTECODE"))}
    env["HOME"] = str(home)
    if venv is not None:
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(venv)
    return env


def sh(args: list[str | Path], cwd: Path, env: dict[str, str], timeout: float = 900,
       ) -> subprocess.CompletedProcess[str]:
    """Run ``args``; fail with its output unless it exits 0."""
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert done.returncode == 0, (f"{[str(a) for a in args]} exited {done.returncode}\n"
                                  f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done


def make_venv(path: Path, home: Path) -> Path:
    """A fresh virtual environment at ``path`` with a current pip."""
    sh([sys.executable, "-m", "venv", path], home, clean_env(home))
    sh([path / "bin" / "python", "-m", "pip", "install", "-q", "--upgrade", "pip"], home,
       clean_env(home), timeout=PIP_TIMEOUT_S)
    return path


def pip_install(venv: Path, home: Path, *args: str | Path) -> None:
    sh([venv / "bin" / "python", "-m", "pip", "install", "-q", *args], home,
       clean_env(home, venv), timeout=PIP_TIMEOUT_S)


def readme_suite() -> dict[str, str]:
    """The README's pytest suite: its python blocks whose first line names a test file."""
    text = (ROOT / "README.md").read_text()
    return dict(re.findall(r"```python\n# (test_\w+\.py)\n(.*?)```", text, re.DOTALL))

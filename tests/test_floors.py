"""The declared floors are true: the oldest releases pyproject.toml allows install and run.

Two side environments, each in a folder outside the repository, with every direct
dependency pinned to the oldest release its requirement allows:

- the core with the ``plot`` extra: ``qsession demo`` and the README's pytest suite;
- the ``server`` extra alone (no ``plot``): ``qsession run`` of an example, which must end
  with its summary and say that it skipped the timeline. Here qiskit and numpy are left to
  the client's own floors (qiskit-ibm-runtime 0.50 requires qiskit >= 2.3 and
  numpy >= 1.26.2, above qsession's), so they are not pinned.

Slow: each environment is a few minutes of installs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.sideenv import (
    ROOT,
    clean_env,
    floors,
    make_venv,
    pip_install,
    pyproject,
    readme_suite,
    sh,
)

pytestmark = pytest.mark.slow

RAISED_BY_THE_CLIENT = frozenset({"qiskit", "numpy"})


def requirements(*extras: str) -> list[str]:
    project = pyproject()["project"]
    assert isinstance(project, dict)
    reqs = list(project["dependencies"])
    for extra in extras:
        reqs += project["optional-dependencies"][extra]
    return reqs


def pinned_env(tmp_path: Path, extras: tuple[str, ...], unpinned: frozenset[str] = frozenset(),
               ) -> tuple[Path, Path, dict[str, str]]:
    home = tmp_path / "user"
    home.mkdir()
    pins = {n: v for n, v in floors(requirements(*extras)).items() if n not in unpinned}
    constraints = tmp_path / "floors.txt"
    constraints.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
    venv = make_venv(tmp_path / "venv", home)
    target = f"{ROOT}[{','.join(extras)}]" if extras else str(ROOT)
    pip_install(venv, home, "-c", constraints, target)
    listed = sh([venv / "bin" / "python", "-m", "pip", "list", "--format=freeze"], home,
                clean_env(home, venv)).stdout.lower().replace("_", "-")
    for name, version in pins.items():
        assert f"{name}=={version}" in listed, f"{name} is not at its floor {version}: {listed}"
    return venv, home, clean_env(home, venv)


def test_the_core_and_plot_floors_run_the_demo_and_the_readme_suite(tmp_path: Path) -> None:
    venv, home, env = pinned_env(tmp_path, ("plot",))
    sh([venv / "bin" / "qsession", "demo", "-q"], home, env)
    assert (home / "qsession-out" / "timeline.png").is_file()
    suite = readme_suite()
    for name, body in suite.items():
        (home / name).write_text(body)
    tests = sum(body.count("\ndef test_") for body in suite.values())
    done = sh([venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
               *suite], home, env)
    assert f"{tests} passed" in done.stdout, done.stdout


def test_the_server_floors_alone_run_a_program_and_end_with_the_summary(
        tmp_path: Path) -> None:
    venv, home, env = pinned_env(tmp_path, ("server",), RAISED_BY_THE_CLIENT)
    sh([venv / "bin" / "qsession", "examples", "--copy", "ex"], home, env)
    done = sh([venv / "bin" / "qsession", "run", "--", venv / "bin" / "python",
               "ex/unchanged/session_sampler.py"], home, env)
    assert "after close: Closed" in done.stdout, done.stdout
    lines = done.stderr.strip().splitlines()
    assert "qsession: jobs: 3 DONE" in lines, lines
    assert lines[-1] == ("qsession: skipped timeline.png, timeline.svg: matplotlib is not "
                         "installed (the plot extra: pip install 'qsession[plot]')"), lines

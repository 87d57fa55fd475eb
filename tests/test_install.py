"""A new user's first hour, from a built wheel: build, install outside the repository, run.

``python -m build`` makes the wheel and the sdist (with no setuptools warning; the sdist
holds every file of the repository); the wheel is installed with all its extras into a
fresh environment in a folder outside the repository, where the README's steps run:
``qsession --help``, ``qsession docs`` (the pages installed with it), ``qsession demo``, an
example obtained with ``qsession examples`` run under ``qsession run``, and the README's
pytest suite. Slow: several minutes of installs.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from helpers.sideenv import (
    ROOT,
    clean_env,
    make_venv,
    pip_install,
    pyproject,
    readme_suite,
    sh,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The wheel and sdist ``python -m build`` made, and everything it printed."""
    out = tmp_path_factory.mktemp("dist")
    home = tmp_path_factory.mktemp("home")
    done = sh([sys.executable, "-m", "build", "--outdir", out, ROOT], home, clean_env(home),
              timeout=1500)
    return out, done.stdout + done.stderr


def test_build_prints_no_warning(dist: tuple[Path, str]) -> None:
    _, log = dist
    warnings = [line for line in log.splitlines() if re.search(r"(?i)warn", line)]
    assert not warnings, "\n".join(warnings)


def test_the_sdist_holds_every_file_of_the_repository(dist: tuple[Path, str]) -> None:
    out, _ = dist
    version = pyproject()["project"]["version"]  # type: ignore[index]
    with tarfile.open(out / f"qsession-{version}.tar.gz") as sdist:
        names = {Path(*Path(n).parts[1:]).as_posix() for n in sdist.getnames()}
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=False)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout: nothing to compare the sdist with")
    missing = sorted(set(tracked.stdout.split()) - names - {".gitignore"})
    assert not missing, f"the sdist lacks {missing}"


def test_the_wheel_installed_elsewhere_runs_the_readme(dist: tuple[Path, str],
                                                      tmp_path: Path) -> None:
    out, _ = dist
    (wheel,) = out.glob("qsession-*.whl")
    home = tmp_path / "user"  # a folder outside the repository: nothing of it is reachable
    home.mkdir()
    assert ROOT not in home.parents
    venv = make_venv(tmp_path / "venv", home)
    pip_install(venv, home, f"{wheel}[all]")
    env = clean_env(home, venv)

    def qsession(*args: str) -> subprocess.CompletedProcess[str]:
        return sh([venv / "bin" / "qsession", *args], home, env)

    assert "Usage: qsession" in qsession("--help").stdout
    # The documentation came with the wheel: listed, printed by section, its files installed
    # inside the environment (not read from the repository).
    listing = qsession("docs").stdout
    assert "semantics" in listing and "testing-your-code" in listing, listing
    durability = qsession("docs", "semantics", "Durability").stdout
    assert durability.startswith("## Durability\n"), durability
    page = Path(qsession("docs", "server", "--path").stdout.strip())
    assert venv in page.parents and ROOT not in page.parents, page
    assert page.read_text() == (ROOT / "docs" / "server.md").read_text()
    assert (page.parent / "server-page-session.png").is_file()
    assert pyproject()["project"]["version"] in qsession("--version").stdout  # type: ignore[index]
    # The README's order: its first commands run an example, its Verifying section the
    # demo (a second `qsession run` into the same folder would be refused without --force).
    qsession("examples", "--copy", "my-examples")
    run = qsession("run", "--", str(venv / "bin" / "python"),
                   "my-examples/unchanged/session_sampler.py")
    assert "after close: Closed" in run.stdout, run.stdout
    assert "qsession: jobs: 3 DONE" in run.stderr, run.stderr
    assert (home / "qsession-out" / "timeline.png").is_file()
    qsession("demo", "-q")
    for name in ("trace.jsonl", "timeline.png", "session-lifecycle.svg"):
        assert (home / "qsession-out" / name).is_file(), name

    suite = readme_suite()
    assert suite
    for name, body in suite.items():
        (home / name).write_text(body)
    tests = sum(body.count("\ndef test_") for body in suite.values())
    done = sh([venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
               *suite], home, env)
    assert f"{tests} passed" in done.stdout, done.stdout

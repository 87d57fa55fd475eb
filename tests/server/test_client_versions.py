"""Every client that can reach IBM's current platform runs unchanged under ``qsession run``.

0.41.0 is the oldest ``qiskit-ibm-runtime`` that speaks IBM Quantum Platform's current API
(0.40 reads ``GET /backends`` as a list of names); 0.51 the newest this project supports.
Each version gets a side environment, built once with pip and kept in
``~/.cache/qsession/clients/VERSION`` (``QSESSION_CLIENTS_CACHE`` to change), outside the
repository. The program is IBM's reference usage with placeholder credentials (explicit
token and instance, a saved default account, a named account) and a session, run with the
client's own default hosts, which the run's proxy answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qsession.server.launch import ENV_KEYS

QSESSION = str(Path(sys.executable).parent / "qsession")
PROGRAM = Path(__file__).parent / "programs" / "client_versions.py"
VERSIONS = ("0.41.0", "0.45.1", "0.51.0")
"""The oldest supported, one from the middle, the newest."""


def client_python(version: str) -> Path:
    """The Python of a side environment holding ``qiskit-ibm-runtime==version`` (built once)."""
    cache = Path(os.environ.get("QSESSION_CLIENTS_CACHE")
                 or Path.home() / ".cache" / "qsession" / "clients")
    folder = cache / version
    python = folder / "bin" / "python"
    probe = [str(python), "-c", "import qiskit_ibm_runtime as r; print(r.__version__)"]
    if python.exists() and subprocess.run(probe, capture_output=True, text=True,
                                          check=False).stdout.strip() == version:
        return python
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    f"qiskit-ibm-runtime=={version}"], check=True, timeout=1800)
    return python


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_a_client_version_runs_unchanged_under_qsession_run(version: str,
                                                            tmp_path: Path) -> None:
    python = client_python(version)
    account_file = tmp_path / ".qiskit" / "qiskit-ibm.json"
    account_file.parent.mkdir()
    account_file.write_text(json.dumps({"users-own": {
        "channel": "ibm_quantum_platform", "token": "SECRET-REAL-KEY", "instance": "my-lab"}}))
    before = account_file.read_bytes()
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env["HOME"] = str(tmp_path)
    done = subprocess.run([QSESSION, "run", "--no-noise", "--seed", "5", "--", str(python),
                           str(PROGRAM)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr
    assert "counts ['00', '11']" in done.stdout
    assert "usage read True True" in done.stdout  # job.usage() and metrics() of its version
    assert "named account backends ['ibm_brisbane', 'qsession_ideal']" in done.stdout
    assert "user account token qsession-local-api-key" in done.stdout
    assert "qsession: jobs: 1 DONE" in done.stderr and "0 server fault(s)" in done.stderr
    assert "refused" not in done.stderr
    assert account_file.read_bytes() == before
    qiskit = subprocess.run([str(python), "-c", "import qiskit; print(qiskit.__version__)"],
                            capture_output=True, text=True, check=True).stdout.strip()
    print(f"qiskit-ibm-runtime {version} with qiskit {qiskit}: passes")

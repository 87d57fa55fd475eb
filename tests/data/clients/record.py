"""Record the request bodies a qiskit-ibm-runtime release sends, for tests/server/test_clients.py.

    .venv/bin/python tests/data/clients/record.py /path/to/venv/bin/python OUT.json

runs ``programs.py`` with the given interpreter (a virtualenv holding one release, e.g.
``pip install qiskit-ibm-runtime==0.41.0 'qiskit<2'``) under ``qsession run`` (ibm_brisbane,
no noise), and writes every ``POST /jobs`` and ``POST /sessions`` body exactly as the
release put it on the wire, with the release's and Qiskit's versions. The release reads
back and checks every result itself, so a recording exists only for a release the server
served. Session ids in job bodies become ``"{session}"``: the session created before them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def record(python: str, out: Path) -> dict[str, Any]:
    """Run programs.py with ``python`` under ``qsession run``; write and return the recording."""
    qsession = str(Path(sys.executable).with_name("qsession"))
    with tempfile.TemporaryDirectory() as work:
        log = Path(work) / "requests.jsonl"
        env = {k: v for k, v in os.environ.items() if not k.startswith("QISKIT_")}
        done = subprocess.run(
            [qsession, "run", "--backends", "ibm_brisbane", "--no-noise", "--seed", "5", "--",
             python, str(HERE / "programs.py")],
            env={**env, "RECORD_REQUESTS": str(log)}, cwd=work, capture_output=True,
            text=True, timeout=1800, check=False)
        if done.returncode != 0:
            raise SystemExit(f"programs.py failed:\n{done.stdout[-2000:]}\n"
                             f"{done.stderr[-4000:]}")
        summary = json.loads(next(line for line in reversed(done.stdout.splitlines())
                                  if line.startswith("{")))
        bodies = [json.loads(line) for line in log.read_text().splitlines()]
    versions = subprocess.run([python, "-c", "import qiskit, qiskit_ibm_runtime as c; "
                               "print(c.__version__, qiskit.__version__)"],
                              capture_output=True, text=True, check=True).stdout.split()
    for item in bodies:
        if item["path"] == "jobs" and item["body"].get("session_id"):
            item["body"]["session_id"] = "{session}"
    recording = {"client": versions[0], "qiskit": versions[1], "ran": summary["ran"],
                 "requests": bodies}
    out.write_text(json.dumps(recording, indent=1) + "\n")
    return recording


if __name__ == "__main__":
    result = record(sys.argv[1], Path(sys.argv[2]))
    print(f"{result['client']} (qiskit {result['qiskit']}): {len(result['requests'])} "
          f"requests; ran {', '.join(result['ran'])}")

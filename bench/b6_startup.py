"""B6: start-up time — ``import qsession.model`` and ``qsession --help`` against ``python -c pass``.

Each command runs in a fresh interpreter, interleaved with the others, best of N (the
least disturbed run). The figure compared with the target is the time *added* to a bare
interpreter start (subject minus ``python -c pass``). ``--help`` is run through the
installed console script when there is one; the bench also checks that it imports no
qiskit (the CLI imports it lazily).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .common import REPO, Result, verdict

MODEL_TARGET_MS = 100.0
HELP_TARGET_MS = 400.0
_CHECK_LAZY = (
    "import sys\n"
    "from qsession.cli.main import main\n"
    "try:\n"
    "    main(['--help'], standalone_mode=False)\n"
    "finally:\n"
    "    print('QISKIT' if any(m == 'qiskit' or m.startswith('qiskit.') for m in sys.modules)"
    " else 'LAZY', file=sys.stderr)\n"
)


def _help_command() -> list[str]:
    script = Path(sys.executable).with_name("qsession")
    if script.exists() and os.access(script, os.X_OK):
        return [str(script), "--help"]
    return [sys.executable, "-c", "from qsession.cli.main import main; main()", "--help"]


def _once(command: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    return time.perf_counter() - began


def run(quick: bool = False, **_options: Any) -> Result:
    """Measure B6 (``quick``: best of 2)."""
    commands = {
        "pass": [sys.executable, "-c", "pass"],
        "model": [sys.executable, "-c", "import qsession.model"],
        "help": _help_command(),
    }
    repeats = 2 if quick else 15
    best = {name: float("inf") for name in commands}
    for command in commands.values():  # warm the OS file cache
        _once(command)
    for _ in range(repeats):
        for name, command in commands.items():
            best[name] = min(best[name], _once(command))
    lazy = subprocess.run([sys.executable, "-c", _CHECK_LAZY], cwd=REPO, capture_output=True,
                          text=True, check=False).stderr.strip().splitlines()
    qiskit_lazy = bool(lazy) and lazy[-1] == "LAZY"
    model_ms = (best["model"] - best["pass"]) * 1e3
    help_ms = (best["help"] - best["pass"]) * 1e3
    ok_model, ok_help = model_ms <= MODEL_TARGET_MS, help_ms <= HELP_TARGET_MS
    return Result(
        id="B6",
        figure="start-up: `import qsession.model`; `qsession --help`",
        subject=f"import +{model_ms:.0f} ms ({best['model'] * 1e3:.0f} ms); --help "
                f"+{help_ms:.0f} ms ({best['help'] * 1e3:.0f} ms)",
        baseline=f"`python -c pass` {best['pass'] * 1e3:.0f} ms",
        ratio=f"{best['model'] / best['pass']:.2f}×; {best['help'] / best['pass']:.2f}×",
        target=f"≤ {MODEL_TARGET_MS:g} ms; ≤ {HELP_TARGET_MS:g} ms (qiskit imported lazily)",
        verdict=verdict(ok_model and ok_help and qiskit_lazy),
        notes=[f"best of {repeats} fresh interpreters each, interleaved; the figures compared "
               "with the targets are the time added to `python -c pass` (absolute times in "
               "brackets)",
               f"`qsession --help` via {' '.join(Path(c).name for c in commands['help'][:1])}; "
               f"imports qiskit: {'no' if qiskit_lazy else 'YES'}"],
        raw={"best_s": best, "qiskit_lazy": qiskit_lazy},
    )

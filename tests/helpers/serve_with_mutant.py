"""Run ``qsession`` with one of the server's seeded bugs planted (a patch made in a test's
process does not reach a server in another): ``python serve_with_mutant.py NAME serve ...``."""

from __future__ import annotations

import sys

from qsession.cli.main import main
from qsession.server.mutants import DURABLE_MUTANTS

if __name__ == "__main__":
    name, *args = sys.argv[1:]
    mutant = next(m for m in DURABLE_MUTANTS if m.name == name)
    sys.argv = ["qsession", *args]
    with mutant.applied():
        main()

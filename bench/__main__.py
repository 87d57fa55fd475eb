"""``python -m bench``: run the benchmarks, print each row, write ``docs/performance.md``.

Options: ``--only B1,B3`` runs a subset (the table still has every row; the others say
"not run", or, with ``--keep``, what the output file said of them, noted as kept),
``--quick`` runs tiny sizes as a smoke test (it writes nothing unless ``--output`` is
given), ``--output FILE`` chooses where the Markdown goes.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from . import BENCHMARKS
from .common import REPO, Result, machine_info, markdown

MODULES: dict[str, str] = {
    "B1": "bench.b1_vqe",
    "B2": "bench.b2_throughput",
    "B3": "bench.b3_scale",
    "B4": "bench.b4_hypothesis",
    "B5": "bench.b5_explorer",
    "B6": "bench.b6_startup",
    "B7": "bench.b7_ibm",
    "B8": "bench.b8_http",
    "B9": "bench.b9_fast",
    "B10": "bench.b10_check",
    "B11": "bench.b11_executor",
    "B12": "bench.b12_measured_estimator",
    "B13": "bench.b13_durable",
    "B14": "bench.b14_page",
}
"""The module that measures each benchmark (each has ``run(quick=..., previous=...)``)."""

DEFAULT_OUTPUT = REPO / "docs" / "performance.md"

METHOD = """\
## Method

- Subject and baseline run in the same process, alternately (who goes first rotates),
  after an untimed warm-up round; the figure is the median of the repetitions. Garbage
  left by earlier runs is collected before each run, so a full collection of one run's
  leftovers is not charged to the next.
- B3 runs every size in a fresh interpreter that reports its own time and peak RSS
  (`getrusage(RUSAGE_SELF).ru_maxrss`), so the 1M case's memory is measured alone.
- B6 starts fresh interpreters, interleaved, and keeps the best of N of each (start-up
  noise only ever adds time); the figure is the time added to `python -c pass`.
- "profile" notes come from instrumented runs in the same bench run (wrapped stages,
  counted model transitions, timed raw `transitions` triggers, Aer time inside the
  stateful machine), so they describe this machine at this commit.
"""


def parse_only(text: str | None) -> list[str]:
    """The ids of ``--only`` (comma-separated, any case), in table order."""
    if not text:
        return list(BENCHMARKS)
    wanted = {part.strip().upper() for part in text.split(",") if part.strip()}
    unknown = wanted - set(BENCHMARKS)
    if unknown:
        raise SystemExit(f"unknown benchmark id(s) {sorted(unknown)}; ids are "
                         f"{', '.join(BENCHMARKS)}")
    return [b for b in BENCHMARKS if b in wanted]


def not_run(ident: str) -> Result:
    """The row of a benchmark left out by ``--only``."""
    return Result(ident, "—", "—", "—", "—", "—", "not run")


KEPT = "kept from an earlier run"
"""The note that starts a row carried over by ``--keep``."""


def earlier(path: Path) -> dict[str, Result]:
    """The rows (and notes) of an earlier ``docs/performance.md``, by id, each noted as
    kept from that run (its commit and date), for ``--keep``."""
    if not path.is_file():
        return {}
    text = path.read_text()
    stamp = ", ".join(m.group(1) + " " + m.group(2) for m in re.finditer(
        r"^- \*\*(commit|date)\*\*: (.+)$", text, re.MULTILINE))
    rows: dict[str, Result] = {}
    for line in text.splitlines():
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 7 and re.fullmatch(r"B\d+", cells[0]) and cells[6] != "not run":
            ident, figure, subject, baseline, ratio, target, verdict = cells
            rows[ident] = Result(ident, figure, subject, baseline, ratio, target,
                                 verdict,  # type: ignore[arg-type]
                                 notes=[f"{KEPT} ({stamp})"])
    for block in re.finditer(r"^\*\*(B\d+)\*\* .*?\n\n((?:- .*\n)+)", text, re.MULTILINE):
        if block.group(1) in rows:
            notes = [n[2:] for n in block.group(2).splitlines()]
            if notes and notes[0].startswith(KEPT):  # kept before: that run is its origin
                rows[block.group(1)].notes = notes
            else:
                rows[block.group(1)].notes += notes
    return rows


def run_all(ids: Sequence[str], *, quick: bool,
            echo: Callable[[str], None] = print) -> list[Result]:
    """Run the benchmarks ``ids`` in order; one row per id in BENCHMARKS order."""
    done: dict[str, Result] = {}
    for ident in ids:
        began = time.perf_counter()
        echo(f"{ident} running …")
        try:
            module = importlib.import_module(MODULES[ident])
            result: Result = module.run(quick=quick, previous=dict(done))
        except Exception:  # a broken benchmark is a row, not a crashed bench
            result = Result(ident, "—", "—", "—", "—", "—", "error",
                            notes=["the benchmark raised:", traceback.format_exc(limit=5)])
        result.raw["wall_s"] = time.perf_counter() - began
        done[ident] = result
        echo(result.line() + f"  [{time.perf_counter() - began:.0f} s]")
    return [done.get(ident) or not_run(ident) for ident in BENCHMARKS]


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print, write the Markdown; exit status 1 only if a benchmark crashed."""
    parser = argparse.ArgumentParser(prog="python -m bench",
                                     description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--only", help="comma-separated ids, e.g. B1,B3 (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, a smoke run (figures are not meaningful)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the output file's rows of the benchmarks not run now "
                             "(each noted with the commit and date it was measured at)")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"Markdown file to write (default: {DEFAULT_OUTPUT.relative_to(REPO)}"
                             "; none with --quick)")
    args = parser.parse_args(argv)
    ids = parse_only(args.only)
    output = args.output if args.output is not None else (None if args.quick else DEFAULT_OUTPUT)
    info = machine_info()
    print("machine: " + "; ".join(f"{k} {v}" for k, v in info.items()))
    results = run_all(ids, quick=args.quick)
    if args.keep and output is not None:
        kept = earlier(output)
        results = [kept.get(r.id, r) if r.verdict == "not run" else r for r in results]
    command = "python -m bench" + (f" --only {args.only}" if args.only else "") + (
        " --quick" if args.quick else "")
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(markdown(results, info, quick=args.quick, command=command,
                                   extra=METHOD))
        print(f"wrote {output}")
    return 1 if any(r.verdict == "error" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

"""What every benchmark shares: the result row, noise-resistant timing, the machine, the table."""

from __future__ import annotations

import gc
import os
import platform
import statistics
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, TypeVar

_T = TypeVar("_T")

Verdict = Literal["PASS", "MISS", "report", "not measurable", "not run", "error"]

REPO = Path(__file__).resolve().parents[1]
"""The repository root (the bench runs from here)."""

PACKAGES = ("qsession", "qiskit", "qiskit-aer", "qiskit-ibm-runtime", "transitions", "simpy",
            "hypothesis", "numpy")
"""Package versions recorded with the results."""


@dataclass
class Result:
    """One benchmark's row: what was measured, against what, the ratio and the verdict."""

    id: str
    figure: str
    subject: str
    baseline: str
    ratio: str
    target: str
    verdict: Verdict
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        """One console line."""
        return (f"{self.id} {self.verdict:<5} {self.figure}: subject {self.subject} | "
                f"baseline {self.baseline} | ratio {self.ratio} | target {self.target}")


def verdict(ok: bool) -> Verdict:
    """PASS when ``ok``, else MISS."""
    return "PASS" if ok else "MISS"


def median(values: Iterable[float]) -> float:
    """The median of ``values``."""
    return statistics.median(list(values))


def interleaved(runs: Mapping[str, Callable[[], _T]], repeats: int,
                warmup: bool = True) -> dict[str, list[_T]]:
    """Call each run in turn, ``repeats`` rounds (rotating who goes first); each returns
    its own measurement. A first untimed round warms caches and imports.

    Before every run the garbage of the previous ones is collected, so that a full
    collection of an earlier run's leftovers is not charged to whichever run comes next.
    """
    names = list(runs)
    if warmup:
        for name in names:
            runs[name]()
    out: dict[str, list[_T]] = {name: [] for name in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            gc.collect()
            out[name].append(runs[name]())
    return out


def label(n: int) -> str:
    """A size as the tables write it: 300, 10k, 100k, 1M."""
    if n < 1_000:
        return str(n)
    return f"{n // 1000:,}k" if n < 1_000_000 else f"{n // 1_000_000}M"


def in_fresh_interpreter(module: str, *args: str, what: str) -> dict[str, Any]:
    """Run ``python -m MODULE ARGS`` from the repository and return the JSON object its
    last line of output prints (the sizes measured alone, so one's memory or warm caches
    never reach another's); ``what`` names the run in the error if it fails."""
    import json
    import sys

    proc = subprocess.run([sys.executable, "-m", module, *args],
                          cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{proc.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return report


def fmt_s(seconds: float) -> str:
    """Seconds in a readable unit."""
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} µs"


def fmt_rate(per_s: float, unit: str) -> str:
    """A rate with thousands separators."""
    return f"{per_s:,.0f} {unit}/s" if per_s >= 100 else f"{per_s:.1f} {unit}/s"


def spread(values: Sequence[float]) -> str:
    """min–max of repeated measurements, for the notes."""
    return f"{fmt_s(min(values))}–{fmt_s(max(values))} over {len(values)}"


# -- the machine -----------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or the platform's word for it)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, str]:
    """Where and with what the bench ran: CPU, cores, memory, OS, Python, packages, date."""
    info = {
        "CPU": cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": _memory(),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
    }
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    info["packages"] = ", ".join(versions)
    info["commit"] = _commit()
    info["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    # Other programs' load moves every absolute figure; a reader needs it beside them.
    if hasattr(os, "getloadavg"):
        info["load average"] = (f"{os.getloadavg()[0]:.1f} over the minute before the "
                                f"start, on {os.cpu_count()} cores")
    return info


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def _commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                              capture_output=True, text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO, capture_output=True, text=True, timeout=10,
                               check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


# -- the table -------------------------------------------------------------------------

_HEADER = ("id", "figure", "subject", "baseline", "ratio", "target", "PASS/MISS")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(results: Sequence[Result]) -> str:
    """The Markdown table, one row per benchmark."""
    lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    for r in results:
        cells = (r.id, r.figure, r.subject, r.baseline, r.ratio, r.target, r.verdict)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def markdown(results: Sequence[Result], info: Mapping[str, str], *, quick: bool,
             command: str, extra: str = "") -> str:
    """The whole ``docs/performance.md``: header, machine, table, notes."""
    out = [
        "# Performance",
        "",
        f"<!-- Generated by `{command}` (bench/__main__.py); do not edit by hand. -->",
        "",
        "Generated by the bench (`make bench`, i.e. `python -m bench`); rerun it to refresh. "
        "Every ratio is against a baseline measured in the same run, interleaved with the "
        "subject (medians of repetitions; best of N for start-up times), because absolute "
        "times on these machines are not stable.",
        "",
    ]
    if quick:
        out += ["**Quick smoke run: tiny sizes, the figures are not meaningful.**", ""]
    out += ["## Machine", ""]
    out += [f"- **{key}**: {value}" for key, value in info.items()]
    out += ["", "## Results", "", table(results), "", "## Notes", ""]
    for r in results:
        if r.notes:
            out.append(f"**{r.id}** ({r.figure})")
            out.append("")
            out += [f"- {note}" for note in r.notes]
            out.append("")
    if extra:
        out += [extra.rstrip(), ""]
    return "\n".join(out).rstrip() + "\n"

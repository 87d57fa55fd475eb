"""Every code block of the README and docs/ that is meant to run, runs, as a reader would run it.

Blocks are read from the Markdown files themselves, by their info string:

- ``python`` whose first line names a file (``# name.py``): the document's files are
  written into one fresh folder outside the repository; those named ``test_*.py`` are run
  there with pytest (all their tests must pass), the others with python when no test file
  imports them;
- any other ``python``: written to a file in a fresh folder and run with python;
- ``sh``: the document's blocks run in order in one fresh folder (a reader's shell: a block
  may use what an earlier one wrote), each with ``bash -e``, this environment's ``qsession``
  and ``python`` first on ``PATH``;
- ``json``: parsed;
- ``text``: output shown to the reader, never run.

A block not meant to run says so and why in its info string, ``skip="why"``; the test of
that block is reported as skipped with that reason. A block with no info string fails: each
block must say what it is.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.faults import assert_no_server_faults

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
KINDS = {"python", "sh", "json", "text", "mermaid"}
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language, why it is skipped, its text."""

    doc: Path
    line: int
    kind: str
    skip: str | None
    body: str

    @property
    def name(self) -> str:
        return f"{self.doc.name}:{self.line}"

    @property
    def file_name(self) -> str | None:
        match = re.match(r"# (\w+\.py)\b", self.body)
        return match.group(1) if match and self.kind == "python" else None


def blocks(doc: Path) -> list[Block]:
    text = doc.read_text()
    found = []
    for m in FENCE.finditer(text):
        words = shlex.split(m.group("info"))
        kind = words[0] if words else ""
        options = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        found.append(Block(doc, text.count("\n", 0, m.start()) + 1, kind, options.get("skip"),
                           m.group("body")))
    return found


ALL = [b for doc in DOCUMENTS for b in blocks(doc)]


def env_for(home: Path) -> dict[str, str]:
    """This environment's commands first on PATH; a fresh HOME (no saved IBM account)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QISKIT_IBM")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(home)
    return env


def run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env_for(cwd), capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, (f"{args} in {cwd} exited {done.returncode}\n"
                                  f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def test_every_block_says_what_it_is() -> None:
    unlabelled = [b.name for b in ALL if b.kind not in KINDS]
    assert not unlabelled, f"give these blocks an info string ({sorted(KINDS)}): {unlabelled}"
    assert len(ALL) >= 15


def test_the_block_reader_sees_skips_and_files(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text('text\n\n```sh skip="serves forever"\nqsession serve\n```\n\n'
                   "```python\n# mod.py\nX = 1\n```\n")
    first, second = blocks(doc)
    assert (first.kind, first.skip, first.line, first.body) == ("sh", "serves forever", 3,
                                                                "qsession serve\n")
    assert (second.kind, second.skip, second.file_name) == ("python", None, "mod.py")


@pytest.mark.parametrize("block", [b for b in ALL if b.skip is not None or b.kind == "mermaid"],
                         ids=lambda b: b.name)
def test_blocks_not_meant_to_run_say_why(block: Block) -> None:
    if block.kind == "mermaid":
        pytest.skip("a diagram drawn from the model; tests/diagrams/test_diagrams.py compares it")
    assert block.skip and len(block.skip) > 10, f"{block.name}: skip needs a reason"
    pytest.skip(f"{block.name}: {block.skip}")


@pytest.mark.parametrize("block", [b for b in ALL if b.kind == "json" and b.skip is None],
                         ids=lambda b: b.name)
def test_json_blocks_parse(block: Block) -> None:
    for line in block.body.splitlines():
        assert isinstance(json.loads(line), dict)


@pytest.mark.parametrize("block", [b for b in ALL if b.kind == "python" and b.skip is None
                                   and b.file_name is None], ids=lambda b: b.name)
def test_python_blocks_run(block: Block, tmp_path: Path) -> None:
    (tmp_path / "block.py").write_text(block.body)
    run([sys.executable, "block.py"], tmp_path)


def documents_with(kind: str, files: bool = False) -> list[Path]:
    return [doc for doc in DOCUMENTS
            if any(b.kind == kind and b.skip is None and (b.file_name is not None) == files
                   for b in blocks(doc))]


@pytest.mark.parametrize("doc", documents_with("python", files=True), ids=lambda d: d.name)
def test_the_files_a_document_shows_run_together(doc: Path, tmp_path: Path) -> None:
    shown = {b.file_name: b.body for b in blocks(doc) if b.file_name and b.skip is None}
    for name, body in shown.items():
        (tmp_path / str(name)).write_text(body)
    tests = [n for n in shown if n and n.startswith("test_")]
    imported = {m for body in shown.values()
                for m in re.findall(r"^(?:from|import) (\w+)", body, re.MULTILINE)}
    for name in shown:
        assert name is not None
        if not name.startswith("test_") and name.removesuffix(".py") not in imported:
            run([sys.executable, name], tmp_path)
    if tests:
        done = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
                   tmp_path)
        count = sum(len(re.findall(r"^def test_", shown[t], re.MULTILINE)) for t in tests)
        assert re.search(rf"\b{count} passed\b", done.stdout), done.stdout[-2000:]


@pytest.mark.parametrize("doc", documents_with("sh"), ids=lambda d: d.name)
def test_shell_blocks_run_in_order(doc: Path, tmp_path: Path) -> None:
    for block in blocks(doc):
        if block.kind == "sh" and block.skip is None:
            done = run(["bash", "-e", "-c", block.body], tmp_path)
            # A block that runs qsession run/serve: its server answered no request with a 500.
            assert_no_server_faults(done.stdout + done.stderr, summary=False)

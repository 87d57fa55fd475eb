"""docs/rest-api.md holds: every endpoint has a row naming real tests, and its curl lines work."""

from __future__ import annotations

import ast
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from helpers.server import start

from qsession.server.app import openapi_document

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "rest-api.md").read_text(encoding="utf-8")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _rows() -> dict[tuple[str, str], list[str]]:
    rows: dict[tuple[str, str], list[str]] = {}
    for line in DOC.splitlines():
        match = re.match(r"\| `(GET|POST|PUT|PATCH|DELETE) (/[^`]*)` \|.*\| (`test_.*) \|$", line)
        if match:
            tests = re.findall(r"`(test_\w+)`", match.group(3))
            rows[(match.group(1), match.group(2))] = tests
    return rows


def test_every_endpoint_has_a_row_and_every_row_names_real_tests() -> None:
    rows = _rows()
    document = openapi_document()
    served = {(method.upper(), re.sub(r"\{\w+\}", "{id}", path.removeprefix("/api/v1")))
              for path, operations in document["paths"].items() if path.startswith("/api/v1/")
              for method in operations}
    assert served == set(rows), "docs/rest-api.md's table and the served routes differ"
    sources = "\n".join(p.read_text(encoding="utf-8")
                        for p in (ROOT / "tests" / "server").glob("test_*.py"))
    for endpoint, tests in rows.items():
        assert tests, endpoint
        for name in tests:
            assert f"def {name}(" in sources, f"{endpoint}: no test named {name}"


# -- which requests each test makes, read from its source -----------------------------


def _template(node: ast.expr, names: dict[str, ast.expr], depth: int = 0) -> str:
    """A URL expression as text: literals kept, anything computed as ``{}``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_template(v, names, depth) if isinstance(v, ast.Constant) else "{}"
                       for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _template(node.left, names, depth) + _template(node.right, names, depth)
    if isinstance(node, ast.Name) and node.id in names and depth < 5:
        return _template(names[node.id], names, depth + 1)
    return "{}"


def _assigned(tree: ast.AST) -> dict[str, ast.expr]:
    return {target.id: node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)}


def _made(function: ast.FunctionDef, module: dict[str, ast.expr]
          ) -> tuple[set[tuple[str, str]], set[str]]:
    """The (method, path under /api/v1) requests ``function`` makes itself — through the
    test modules' ``call(conn, METHOD, path)``, ``requests.METHOD(url)``,
    ``requests.request(METHOD, url)`` or curl's ``-X METHOD url`` — and the names it calls."""
    names = {**module, **_assigned(function)}
    made, called = set(), set()
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = (func.attr if isinstance(func, ast.Attribute)
                else func.id if isinstance(func, ast.Name) else "")
        called.add(name)
        args = node.args
        consts = [a.value if isinstance(a, ast.Constant) else None for a in args]
        request: tuple[Any, ast.expr] | None = None
        if name in ("call", "request"):
            at = 1 if name == "call" else 0
            if len(args) > at + 1:
                request = consts[at], args[at + 1]
        elif (name.upper() in METHODS and args and isinstance(func, ast.Attribute)
              and isinstance(func.value, ast.Name) and func.value.id == "requests"):
            request = name.upper(), args[0]
        elif "-X" in consts and consts.index("-X") + 2 < len(args):
            at = consts.index("-X")
            request = consts[at + 1], args[at + 2]
        if request is not None and request[0] in METHODS:
            url = _template(request[1], names)
            path = url.split("/api/v1", 1)[1] if "/api/v1" in url else url
            made.add((str(request[0]), path.split("?", 1)[0]))
    return made, called


def requests_of_tests() -> dict[str, set[tuple[str, str]]]:
    """Each server test's requests, with those of the helpers it calls (its module's
    functions, the REST guides' ``Guide`` and ``helpers/rest.py``'s ``Rest`` methods)."""
    tests: dict[str, tuple[set[tuple[str, str]], set[str]]] = {}
    helpers: dict[str, tuple[set[tuple[str, str]], set[str]]] = {}
    for path in [*sorted((ROOT / "tests" / "server").glob("test_*.py")),
                 ROOT / "tests" / "helpers" / "rest.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = {target.id: node.value for node in tree.body if isinstance(node, ast.Assign)
                  for target in node.targets if isinstance(target, ast.Name)}
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                table = tests if node.name.startswith("test_") else helpers
                table.setdefault(node.name, _made(node, module))

    def closure(made: set[tuple[str, str]], called: set[str], seen: set[str]
                ) -> set[tuple[str, str]]:
        found = set(made)
        for name in called - seen:
            if name in helpers:
                found |= closure(*helpers[name], seen | {name})
        return found

    return {name: closure(made, called, {name}) for name, (made, called) in tests.items()}


def requested(method: str, route: str, made: set[tuple[str, str]]) -> bool:
    """Whether one of ``made`` is ``method`` on ``route`` (``{id}`` standing for any id)."""
    pattern = re.escape(route).replace(re.escape("{id}"), "[^/]+")
    return any(m == method and re.fullmatch(pattern, p.replace("{}", "x")) for m, p in made)


def test_each_row_names_a_test_that_requests_its_endpoint() -> None:
    # A row's tests exist (above) and at least one of them makes that very request over
    # HTTP (method and path), not only through the client or another route.
    made = requests_of_tests()
    assert requested("GET", "/jobs/{id}/metrics", made["test_job_logs_and_metrics"])
    assert not requested("GET", "/jobs/{id}/metrics", made["test_accounts_and_versions"])
    missing = [f"{method} {route}: {tests}" for (method, route), tests in _rows().items()
               if not any(requested(method, route, made.get(name, set())) for name in tests)]
    assert not missing, "rows whose tests never make their request:\n" + "\n".join(missing)


def test_the_curl_lines_work_against_a_server() -> None:
    # As a reader follows the page: `qsession serve --clock virtual` (its backends, a control
    # token in QSESSION_CONTROL_TOKEN, as its export lines give), then the lines in order,
    # the first of which submits the job the others look at.
    blocks = re.findall(r"```sh[^\n]*\n(.*?)```", DOC, flags=re.S)
    serve, setup, lines = blocks[0], blocks[1], blocks[2]
    assert "--clock virtual" in serve and setup.startswith("QS=")
    assert lines.startswith("JOB=") and lines.count("curl ") >= 30
    token = "curl-lines-control-token"
    connection = start(backends=("ibm_brisbane", "qsession_ideal"), control_token=token)
    try:
        port = connection.server.url.rsplit(":", 1)[1]
        script = "set -euo pipefail\n" + (setup + lines).replace("8290", port)
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                              timeout=300, check=False,
                              env={**os.environ, "QSESSION_CONTROL_TOKEN": token})
        assert done.returncode == 0, done.stderr + done.stdout
        assert '"samples"' in done.stdout  # the job's plain-JSON result
        assert '"versions"' in done.stdout and '"devices"' in done.stdout
        assert '"workloads"' in done.stdout and "409: the job is final" in done.stdout
        (job,) = connection.server.emulator.all_jobs()
        assert job.deleted and job.state == "DONE" and list(job.tags) == ["sweep", "run-1"]
        assert connection.server.emulator.faults == 0
    finally:
        connection.close()

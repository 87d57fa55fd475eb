"""What a ``qsession run`` child gets: the proxy, the run's CA, a private account file.

The child's requests for IBM's hosts go through the intercepting proxy (``intercept.py``)
because its standard proxy variables name it; it trusts the run's CA through a bundle of
the normal roots plus that CA. It sees the user's home folder through a private one whose
entries link to the real ones, except the client's account file
(``~/.qiskit/qiskit-ibm.json``, found by every client version through ``HOME``): that is a
private copy holding the user's saved accounts without their API keys (nor ``proxies``,
which would send requests past the proxy). So ``save_account`` writes the copy, never the
user's file, and no saved key is read. New files the child leaves in the private home are
moved to the real one when the run ends.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT_FILE = Path(".qiskit") / "qiskit-ibm.json"
PROXY_KEYS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
CA_KEYS = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
DROPPED_KEYS = ("QISKIT_IBM_URL", "IAM_URL", "GLOBAL_SEARCH_URL", "GLOBAL_CATALOG_URL",
                "ALL_PROXY", "all_proxy")
"""Variables that would send the client somewhere else than IBM's default hosts."""
LOOPBACK = "127.0.0.1,localhost,::1"
PLACEHOLDER_KEY = "qsession-local-api-key"
DEFAULT_ACCOUNT = "default-ibm-quantum-platform"
"""The name the client (0.41 on) gives a channel's default account."""

# A CRN anywhere, or ``instance="..."`` in a call (QiskitRuntimeService, save_account).
_CRN = re.compile(r"crn:v1:[A-Za-z0-9:/_.\-]+")
_INSTANCE_ARG = re.compile(r"""\binstance\s*=\s*(?P<q>["'])(?P<value>[^"'\n]{1,200})(?P=q)""")


def private_accounts(text: str) -> dict[str, Any]:
    """The user's saved accounts as the child may see them: no API key, no ``proxies``."""
    try:
        accounts = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(accounts, dict):
        return {}
    kept: dict[str, Any] = {}
    for name, account in accounts.items():
        if not isinstance(account, dict):
            continue
        copy = {k: v for k, v in account.items() if k not in ("token", "proxies")}
        copy["token"] = PLACEHOLDER_KEY
        kept[str(name)] = copy
    return kept


@dataclass
class PrivateHome:
    """A home folder for the child: links to the real one, and a private account file."""

    real: Path
    path: Path
    linked: set[str] = field(default_factory=set)
    linked_qiskit: set[str] = field(default_factory=set)
    instances: list[str] = field(default_factory=list)
    """The instances the user's saved accounts name (CRNs or names): not secrets."""

    @classmethod
    def make(cls, real: Path, folder: Path, default_instance: str) -> PrivateHome:
        """Lay the private home out in ``folder`` (the run's private folder).

        When the user's file has no default account, the copy gets one for
        ``default_instance``, so a bare ``QiskitRuntimeService()`` finds an account as it
        would on a machine where one was saved.
        """
        home = cls(real, folder / "home")
        home.path.mkdir(mode=0o700)
        if real.is_dir():
            for entry in real.iterdir():
                if entry.name != ".qiskit":
                    (home.path / entry.name).symlink_to(entry)
                    home.linked.add(entry.name)
        qiskit = home.path / ".qiskit"
        qiskit.mkdir()
        real_qiskit = real / ".qiskit"
        if real_qiskit.is_dir():
            for entry in real_qiskit.iterdir():
                if entry.name != ACCOUNT_FILE.name:
                    (qiskit / entry.name).symlink_to(entry)
                    home.linked_qiskit.add(entry.name)
        accounts: dict[str, Any] = {}
        if (real / ACCOUNT_FILE).is_file():
            accounts = private_accounts((real / ACCOUNT_FILE).read_text(encoding="utf-8",
                                                                        errors="replace"))
            home.instances = [a["instance"] for a in accounts.values()
                              if isinstance(a.get("instance"), str) and a["instance"]]
        if not any(a.get("is_default_account") for a in accounts.values()) and \
                DEFAULT_ACCOUNT not in accounts:
            accounts[DEFAULT_ACCOUNT] = {"channel": "ibm_quantum_platform",
                                         "token": PLACEHOLDER_KEY,
                                         "instance": default_instance,
                                         "is_default_account": True}
        (home.path / ACCOUNT_FILE).write_text(json.dumps(accounts, indent=4), encoding="utf-8")
        return home

    def give_back(self) -> list[Path]:
        """Move what the child created in the private home to the real one (never over an
        existing file); the private account file stays behind. Returns what was moved."""
        moved: list[Path] = []
        if not self.real.is_dir():  # no home to give back to (HOME unset or missing)
            return moved
        pairs = [(self.path, self.real, self.linked | {".qiskit"}),
                 (self.path / ".qiskit", self.real / ".qiskit",
                  self.linked_qiskit | {ACCOUNT_FILE.name})]
        for private, real, skip in pairs:
            if not private.is_dir():
                continue
            for entry in private.iterdir():
                if entry.name in skip or (real / entry.name).exists():
                    continue
                real.mkdir(parents=True, exist_ok=True)
                shutil.move(str(entry), str(real / entry.name))
                moved.append(real / entry.name)
        return moved


def named_instances(command: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """Instances a program names before any request shows them: CRNs and ``instance=``
    arguments in the source files on its command line, and ``QISKIT_IBM_INSTANCE``.

    The client checks a named instance against the account's list (Global Search) before
    it sends anything that names it, so a tenant made on first use would come too late.
    """
    found: list[str] = []
    if environ.get("QISKIT_IBM_INSTANCE"):
        found.append(environ["QISKIT_IBM_INSTANCE"])
    for arg in command:
        path = Path(arg)
        if path.suffix not in (".py", ".ipynb") or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")[:2_000_000]
        except OSError:
            continue
        found += _CRN.findall(text)
        found += [m.group("value") for m in _INSTANCE_ARG.finditer(text)]
    return list(dict.fromkeys(v.strip() for v in found if v.strip()))


def proxy_env(proxy_url: str, bundle: Path, ca_cert: Path) -> dict[str, str]:
    """The variables that send a process's HTTP(S) through the proxy, trusting the run's CA."""
    env = dict.fromkeys(PROXY_KEYS, proxy_url)
    # Only loopback bypasses the proxy: a user's NO_PROXY naming IBM's hosts would let
    # the client past it.
    env["NO_PROXY"] = env["no_proxy"] = LOOPBACK
    env.update(dict.fromkeys(CA_KEYS, str(bundle)))
    env["NODE_EXTRA_CA_CERTS"] = str(ca_cert)
    return env


def child_env(environ: Mapping[str, str], *, proxy_url: str, bundle: Path, ca_cert: Path,
              home: Path) -> dict[str, str]:
    """The child's environment: the user's, with the proxy, the CA bundle and the private
    home; URL overrides dropped (the client's defaults are IBM's hosts, which the proxy
    answers). The user's own ``QISKIT_IBM_TOKEN``/``INSTANCE``/``CHANNEL`` are kept.
    """
    env = {k: v for k, v in environ.items() if k not in DROPPED_KEYS}
    env.update(proxy_env(proxy_url, bundle, ca_cert))
    env["HOME"] = str(home)
    return env


@dataclass
class Interception:
    """A proxy and CA for a server, as ``connect(intercept=True)`` puts them in this process."""

    proxy: Any
    folder: Path
    env: dict[str, str]
    """The proxy and CA variables to set (``DROPPED_KEYS`` are to be removed)."""

    @classmethod
    def start(cls, server: Any) -> Interception:
        """Make the run's CA and start a proxy handing IBM's hosts to ``server``."""
        from .intercept import Proxy, RunCA, run_folder

        folder = run_folder()
        ca = RunCA(folder)
        bundle = ca.write_bundle(roots_of(os.environ))
        proxy = Proxy.serving(server, ca).start()
        return cls(proxy, folder, proxy_env(proxy.url, bundle, ca.cert_path))

    def close(self) -> None:
        """Stop the proxy and remove the CA's folder."""
        self.proxy.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def roots_of(environ: Mapping[str, str]) -> Path | None:
    """The CA bundle the user already points ``requests``/OpenSSL at, if any (kept)."""
    for key in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = environ.get(key)
        if value and Path(value).is_file():
            return Path(value)
    return None


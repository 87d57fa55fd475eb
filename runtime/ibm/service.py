"""``LocalService``: the engine's ``Platform`` with ``QiskitRuntimeService``'s lookups.

It plays the part of ``QiskitRuntimeService`` (``backend()``, ``backends()``,
``least_busy()``, ``job()``, ``jobs()``) and adds time control for virtual clocks:
``now()``, ``advance(seconds)`` and ``run_until_idle()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from ..engine.errors import BackendNotFoundError
from ..engine.platform import Platform
from ..engine.qpu import QPU
from . import backend_select, joblist  # through the module: a mutant patches select_jobs
from .job import RuntimeJobV2


class LocalService(Platform):
    """A local stand-in for ``QiskitRuntimeService`` whose QPUs honour sessions.

    ``backends`` lists the QPUs: a ``QPU``, a fake backend name such as
    ``"fake_manila"`` (needs ``qsession[ibm]``), or a ``(qpu, {"interactive_timeout":
    ...})`` pair overriding the service-wide settings for that QPU. Without it the
    service has one ideal 16-qubit QPU, ``qsession_ideal``.

    Circuits must be ISA circuits of the QPU, as on IBM's: others are refused at
    submission with IBM's message. ``strict_isa=False`` transpiles them instead.

    ``ids`` names sessions and jobs (default ``s1``, ``j2``; ``ids.IbmIds`` for IBM's
    shape, as the HTTP server does).

    ``with LocalService(...) as service:`` closes it on exit; a service dropped without
    ``close()`` stops its threads when it is garbage-collected.
    """

    # -- QPUs (IBM's lookups) -----------------------------------------------------------

    def backends(self, name: str | None = None, min_num_qubits: int | None = None,
                 instance: str | None = None, dynamic_circuits: bool | None = None,
                 filters: Callable[[QPU], bool] | None = None, **kwargs: Any) -> list[QPU]:
        """The QPUs matching every filter, as IBM's ``backends()`` filters them.

        ``kwargs`` are matched against ``configuration()`` attributes (e.g. ``simulator=False``,
        ``n_qubits=5``), else ``status()`` attributes (``operational=True``), as
        ``qiskit.providers.providerutils.filter_backends`` does.
        """
        return backend_select.select_backends(
            self, name=name, min_num_qubits=min_num_qubits, instance=instance,
            dynamic_circuits=dynamic_circuits, filters=filters, **kwargs)

    def backend(self, name: str | None = None, instance: str | None = None,
                use_fractional_gates: bool | None = False) -> QPU:
        """The QPU called ``name`` (default: the first one).

        IBM's device names find the QPU copied from their fake backend (``ibm_brisbane``
        for ``fake_brisbane``), and a fake backend name not yet on the service is added.
        """
        if name is None:
            if not self.qpus:
                raise BackendNotFoundError(
                    "No backend matches the criteria: this service has no backends. Fix: "
                    "service.add_backend(QPU.ideal()) or a fake backend name")
            return next(iter(self.qpus.values()))
        return backend_select.find_backend(self, name)

    def least_busy(self, min_num_qubits: int | None = None, instance: str | None = None,
                   filters: Callable[[QPU], bool] | None = None, **kwargs: Any) -> QPU:
        """The operational QPU with the fewest pending jobs (ties: the first)."""
        candidates = [q for q in self.backends(min_num_qubits=min_num_qubits,
                                               instance=instance, filters=filters, **kwargs)
                      if q.status().operational]
        if not candidates:
            raise BackendNotFoundError("No backend matches the criteria.")
        return min(candidates, key=lambda q: q.status().pending_jobs)

    def first_reports_of(self, names: Iterable[str]) -> list[str]:
        """Those of ``names`` this service has not reported as "accepted, not emulated"
        yet; they count as reported from now on (each is reported once per service)."""
        reported: set[str] = self.__dict__.setdefault("_not_emulated_reported", set())
        fresh = [name for name in dict.fromkeys(names) if name not in reported]
        reported.update(fresh)
        return fresh

    # -- lookups ---------------------------------------------------------------------

    def job(self, job_id: str) -> RuntimeJobV2:
        """The job with id ``job_id``."""
        return RuntimeJobV2(self, self.job_record(job_id))

    def jobs(self, limit: int | None = 10, skip: int = 0, backend_name: str | None = None,
             pending: bool | None = None, program_id: str | None = None,
             instance: str | None = None, job_tags: list[str] | None = None,
             session_id: str | None = None, created_after: datetime | None = None,
             created_before: datetime | None = None, descending: bool = True,
             include_mocks: bool = False) -> list[RuntimeJobV2]:
        """Jobs matching every filter given, newest first, at most ``limit`` (IBM's defaults).

        ``pending=True`` gives QUEUED and RUNNING jobs, ``False`` final ones; ``job_tags``
        matches jobs that have all the tags; ``created_after``/``created_before`` bound
        the creation time inclusively (naive datetimes are UTC, the service clock's zone).
        """
        if backend_name is not None:
            # An unknown name is an error, not an empty list; an IBM alias finds its QPU.
            backend_name = self.backend(backend_name).name
        records = joblist.select_jobs(
            self, limit=limit, skip=skip, backend_name=backend_name, pending=pending,
            program_id=program_id, instance=instance, job_tags=job_tags,
            session_id=session_id, created_after=created_after, created_before=created_before,
            descending=descending)
        return [RuntimeJobV2(self, r) for r in records]

    def all_jobs(self) -> list[RuntimeJobV2]:
        """Every job not deleted, oldest first (``jobs()`` without its limit or order)."""
        return self.jobs(limit=None, descending=False)

    def delete_job(self, job_id: str) -> None:
        """Delete a final job: ``job()`` and ``jobs()`` no longer find it (cannot be undone)."""
        joblist.delete_job(self, job_id)

    def usage(self) -> dict[str, Any]:
        """IBM's instance usage keys for the default instance over the fair-share window."""
        return joblist.instance_usage(self)

    def instances(self) -> list[dict[str, Any]]:
        """The instances jobs can be accounted to, with IBM's keys ``crn``, ``plan``, ``name``."""
        return joblist.instance_list(self)

    def active_instance(self) -> str:
        """The instance used when none is named."""
        return str(self.instances()[0]["crn"])

    @property
    def channel(self) -> str:
        """The channel: ``"local"`` (no account, no network)."""
        return str(getattr(self, "_channel", "local"))

class QiskitRuntimeService(LocalService):
    """IBM's name: ``QiskitRuntimeService(channel=..., token=...)`` runs unchanged, locally.

    Account arguments (``channel``, ``token``, ``url``, ``instance``, ``region``, ...: all of
    IBM's 0.51 constructor) are accepted and unused: there is no account; every other
    argument is ``LocalService``'s.
    """

    def __init__(self, channel: str | None = None, token: str | None = None,
                 url: str | None = None, filename: str | None = None, name: str | None = None,
                 instance: str | None = None, proxies: dict[str, Any] | None = None,
                 verify: bool | None = None, private_endpoint: bool | None = None,
                 url_resolver: Callable[..., str] | None = None, region: str | None = None,
                 plans_preference: list[str] | None = None, tags: list[str] | None = None,
                 **kwargs: Any) -> None:
        # Every account argument of qiskit-ibm-runtime 0.51 is accepted; none is used.
        super().__init__(**kwargs)
        # Kept so that code printing service.channel sees what it asked for.
        self._channel = channel if channel is not None else "local"
        self._account = {"channel": self._channel, "url": url, "instance": instance,
                         "name": name}

    is_local = False
    """IBM's flag for its local testing mode; this service plays the cloud service."""

    def active_account(self) -> dict[str, Any] | None:
        """The account arguments this service was built with (no token is kept)."""
        return dict(self._account)

    @staticmethod
    def save_account(*args: Any, **kwargs: Any) -> None:
        """Accepted and ignored: there is no account to save (nothing is written to disk)."""

    @staticmethod
    def saved_accounts(*args: Any, **kwargs: Any) -> dict[str, Any]:
        """No saved accounts: an empty dict."""
        return {}

    @staticmethod
    def delete_account(*args: Any, **kwargs: Any) -> bool:
        """Nothing to delete: False, as IBM's when no account matched."""
        return False



"""The server's own error kinds, each mapped by ``app.py`` to one HTTP status in IBM's body."""

from __future__ import annotations

from qsession.runtime import IBMInputValueError


class NotFound(LookupError):
    """The caller's instance has no object with that id (404, whoever owns it)."""


class Conflict(RuntimeError):
    """The object is in a state that forbids the request (409)."""


class UnknownBackend(IBMInputValueError):
    """A job names a backend the server does not have (400, IBM's code 1007)."""


class Forbidden(PermissionError):
    """The request names an instance the token does not reach (403)."""

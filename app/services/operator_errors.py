"""What an operator action can fail with, in words the API turns into problem+json answers.

Services stay free of HTTP: they raise these, and the operator routes map each kind to a status once
(``app/api/operator/routing.py``).
"""

from __future__ import annotations

from collections.abc import Iterable


class OperatorError(Exception):
    """An operator's request cannot be done as asked. ``code`` is stable; ``message`` is for people."""

    def __init__(self, code: str, message: str, problems: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.problems = tuple(problems)


class NotFound(OperatorError):
    """The resource named in the path does not exist."""


class Conflict(OperatorError):
    """The resource exists but its current state does not allow the action."""


class Invalid(OperatorError):
    """The request is well-formed but its values are wrong; ``problems`` name each bad key."""


class Unavailable(OperatorError):
    """A system the action must ask (the CTMS, a CRM org) cannot be reached now: worth trying again."""


class Unauthenticated(OperatorError):
    """No API key, or one the bridge does not accept (unknown or revoked)."""

"""The error taxonomy every client speaks: what the delivery engine needs to decide retry or dead letter."""

from __future__ import annotations


class ClientError(Exception):
    """A call failed as a whole. ``code`` is the platform's error code, or ours for transport faults."""

    def __init__(
        self, code: str, message: str, *, http_status: int | None = None, excerpt: str | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.excerpt = excerpt


class TransientError(ClientError):
    """Worth retrying later: timeouts, 5xx, 429, REQUEST_LIMIT_EXCEEDED, RACE_CONDITION, throttling."""

    def __init__(self, code: str, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(code, message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class PermanentError(ClientError):
    """Retrying the same request cannot succeed: the request or the configuration must change."""


class AuthError(ClientError):
    """Credentials rejected even after a fresh login: the connection's settings must be fixed."""


def excerpt(text: str, limit: int = 1000) -> str:
    """A short, single-line excerpt of a response body for attempt records (never request bodies)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"

"""What happened to one delivery in one pass: the engine turns it into a status, an attempt and a link."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.clients.errors import AuthError, ClientError, TransientError
from app.clients.results import CallFact
from app.clients.throttle import ThrottledError
from app.models import DeliveryStatus


@dataclass
class Outcome:
    status: DeliveryStatus
    error_code: str | None = None
    error: str | None = None
    retry: bool = False  # transient: try again later (the engine decides when, or gives up)
    retry_after: float | None = None
    target_object: str | None = None
    target_id: str | None = None
    call: CallFact | None = None  # the outbound call this delivery rode on, if any
    link: dict[str, Any] | None = field(default=None, repr=False)  # values for links.save
    created: bool = False  # the write made a new record in the target (else it updated one)
    paused_until: datetime | None = None  # not sent: the target's throttle gate was shut until then

    @classmethod
    def delivered(
        cls,
        target_object: str,
        target_id: str | None,
        call: CallFact | None,
        link: dict[str, Any] | None,
        created: bool = False,
    ) -> Outcome:
        return cls(
            DeliveryStatus.DELIVERED,
            target_object=target_object,
            target_id=target_id,
            call=call,
            link=link,
            created=created,
        )

    @classmethod
    def unchanged(cls, reason: str, link: dict[str, Any] | None = None) -> Outcome:
        return cls(DeliveryStatus.UNCHANGED, error=reason, link=link)

    @classmethod
    def stale(cls, reason: str) -> Outcome:
        return cls(DeliveryStatus.STALE, error=reason)

    @classmethod
    def unmatched(cls, code: str, message: str) -> Outcome:
        return cls(DeliveryStatus.UNMATCHED, error_code=code, error=message)

    @classmethod
    def dead(cls, code: str, message: str, call: CallFact | None = None) -> Outcome:
        return cls(DeliveryStatus.DEAD, error_code=code, error=message, call=call)

    @classmethod
    def again(
        cls, code: str, message: str, retry_after: float | None = None, call: CallFact | None = None
    ) -> Outcome:
        return cls(
            DeliveryStatus.PENDING,
            error_code=code,
            error=message,
            retry=True,
            retry_after=retry_after,
            call=call,
        )

    @classmethod
    def paused(cls, exc: ThrottledError) -> Outcome:
        """The call was never made: back to pending until the pause ends, with no attempt counted."""
        return cls(DeliveryStatus.PENDING, error_code=exc.code, error=exc.message, paused_until=exc.until)

    @classmethod
    def from_error(cls, exc: ClientError) -> Outcome:
        """A whole call failed: transient and auth faults are retried, anything else is a dead letter."""
        if isinstance(exc, ThrottledError):
            return cls.paused(exc)
        call = CallFact("", exc.code, exc.http_status, 0, exc.excerpt)
        if isinstance(exc, TransientError):
            return cls.again(exc.code, exc.message, exc.retry_after, call)
        if isinstance(exc, AuthError):
            return cls.again(
                exc.code, exc.message, 60.0, call
            )  # credentials may be fixed: keep trying, slowly
        return cls.dead(exc.code, exc.message, call)

    @property
    def attempt_outcome(self) -> str:
        if self.status == DeliveryStatus.DELIVERED:
            return "success"
        if self.retry:
            return "transient"
        if self.status == DeliveryStatus.UNMATCHED:
            return "unmatched"
        return "permanent" if self.status == DeliveryStatus.DEAD else "skipped"

    @property
    def is_attempt(self) -> bool:
        """Worth a line in the attempt history: a call was made, or the bridge failed the delivery
        before sending anything (e.g. UNKNOWN_PHASE, AMBIGUOUS_ACCOUNT). A throttle pause is neither."""
        return self.call is not None or (self.error_code is not None and self.paused_until is None)

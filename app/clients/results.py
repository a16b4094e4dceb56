"""What a batched write returns: per-record results in input order, and facts about the call."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RecordResult:
    ok: bool
    id: str | None = None
    created: bool = False
    unchanged: bool = False  # the target already held these values
    error_code: str | None = None
    error_message: str | None = None
    transient: bool = False  # a per-record failure worth retrying (lock contention and the like)


@dataclass(frozen=True, slots=True)
class CallFact:
    """One outbound call, for the attempt records: never carries request bodies or credentials."""

    target: str
    operation: str
    http_status: int | None
    duration_ms: int
    excerpt: str | None = None


@dataclass(frozen=True, slots=True)
class WriteResult:
    results: list[RecordResult]
    call: CallFact

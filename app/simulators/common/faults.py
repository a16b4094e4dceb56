"""Fault switches: make a simulator misbehave the way real APIs do, on demand.

Each simulator asks ``decide()`` once per API call (never for ``/_sim`` admin routes) and renders the
answer in its own platform's error shape.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class FaultKind(StrEnum):
    NONE = "none"
    SERVER_ERROR = "server_error"  # HTTP 5xx
    RATE_LIMITED = "rate_limited"  # Salesforce: 429 / 403 REQUEST_LIMIT_EXCEEDED; Vault: API_LIMIT_EXCEEDED
    TIMEOUT = "timeout"  # the call never answers (the client's timeout fires)


class FaultSettings(BaseModel):
    """What an operator (or a test) switches on. Every field has a harmless default."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"error_rate": 0.2, "seed": 7},
                {"rate_limit_burst": 3, "retry_after_seconds": 2},
                {"timeout_calls": 1, "timeout_seconds": 30},
            ]
        }
    )

    error_rate: float = Field(0.0, ge=0.0, le=1.0, description="fraction of API calls answered with a 5xx")
    error_status: int = Field(503, ge=500, le=599)
    rate_limit_burst: int = Field(0, ge=0, description="the next N API calls are rate limited")
    rate_limit_every: int = Field(
        0, ge=0, description="after every N successful calls, start another burst of rate_limit_burst"
    )
    retry_after_seconds: float = Field(
        1.0, ge=0.0, description="Salesforce: the Retry-After of rate-limited answers (Vault sends none)"
    )
    latency_ms: float = Field(0.0, ge=0.0, description="added to every API call")
    timeout_calls: int = Field(0, ge=0, description="the next N API calls never answer")
    timeout_seconds: float = Field(60.0, ge=0.0, description="how long a 'timeout' call hangs")
    burst_limit: int = Field(2000, ge=1, description="Vault: calls allowed per burst window")
    burst_window_seconds: float = Field(300.0, gt=0)
    throttle_below: int = Field(
        0, ge=0, description="Vault: once the burst remaining falls below this, answers are delayed"
    )
    throttle_delay_ms: float = Field(500.0, ge=0.0)
    seed: int | None = Field(None, description="seed for the error_rate draw, for repeatable runs")


@dataclass
class FaultDecision:
    kind: FaultKind = FaultKind.NONE
    status: int = 200
    retry_after: float = 0.0
    delay_seconds: float = 0.0


@dataclass
class Faults:
    settings: FaultSettings = field(default_factory=FaultSettings)
    _rng: random.Random = field(default_factory=random.Random)
    _since_burst: int = 0
    _burst_left: int = 0

    def configure(self, settings: FaultSettings) -> None:
        self.settings = settings
        self._rng = random.Random(settings.seed)
        self._burst_left = settings.rate_limit_burst
        self._since_burst = 0

    def reset(self) -> None:
        self.configure(FaultSettings())

    def decide(self) -> FaultDecision:
        s = self.settings
        delay = s.latency_ms / 1000.0
        if s.timeout_calls > 0:
            s.timeout_calls -= 1
            return FaultDecision(FaultKind.TIMEOUT, 0, 0.0, s.timeout_seconds)
        if self._burst_left > 0:
            self._burst_left -= 1
            return FaultDecision(FaultKind.RATE_LIMITED, 429, s.retry_after_seconds, delay)
        if s.error_rate > 0 and self._rng.random() < s.error_rate:
            return FaultDecision(FaultKind.SERVER_ERROR, s.error_status, 0.0, delay)
        self._since_burst += 1
        if s.rate_limit_every and s.rate_limit_burst and self._since_burst >= s.rate_limit_every:
            self._since_burst = 0
            self._burst_left = s.rate_limit_burst
        return FaultDecision(FaultKind.NONE, 200, 0.0, delay)


async def apply_delay(decision: FaultDecision) -> None:
    if decision.delay_seconds > 0:
        await asyncio.sleep(decision.delay_seconds)

"""A log of the API calls a simulator received, so tests and benchmarks can count calls and batch sizes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pydantic import BaseModel


class ApiCall(BaseModel):
    at: float  # when it was answered
    started: float | None = None  # when it arrived, where the simulator knows (Salesforce)
    method: str
    path: str
    status: int
    records: int = 0  # records carried by the call (batch size), 0 for reads
    fault: str = "none"
    client_id: str | None = None  # X-VaultAPI-ClientID (or similar) the caller identified itself with


@dataclass
class CallLog:
    calls: list[ApiCall] = field(default_factory=list)

    def record(
        self,
        method: str,
        path: str,
        status: int,
        records: int = 0,
        fault: str = "none",
        client_id: str | None = None,
        started: float | None = None,
    ) -> None:
        self.calls.append(
            ApiCall(
                at=time.time(),
                started=started,
                method=method,
                path=path,
                status=status,
                records=records,
                fault=fault,
                client_id=client_id,
            )
        )

    def clear(self) -> None:
        self.calls.clear()

    def matching(self, method: str | None = None, path_contains: str | None = None) -> list[ApiCall]:
        return [
            c
            for c in self.calls
            if (method is None or c.method == method) and (path_contains is None or path_contains in c.path)
        ]

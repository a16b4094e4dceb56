"""The unit a lane handler works on: a claimed batch with everything it needs already loaded."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.clients.registry import ClientRegistry
from app.context import Resources
from app.domain.names import CtmsNames
from app.models import Connection, GlobalSettings
from app.repositories.rows import DeliveryRow, EventRow
from app.services.delivery.outcomes import Outcome
from app.services.names import ctms_names_for


@dataclass
class LaneWork:
    resources: Resources
    clients: ClientRegistry
    lane: str
    deliveries: list[DeliveryRow]
    events: dict[int, EventRow]
    connections: dict[str, Connection]  # every connection the batch refers to
    settings: GlobalSettings

    def event_data(self, delivery: DeliveryRow) -> dict[str, Any]:
        event = self.events.get(delivery.event_id or -1)
        data = event.payload.get("data") if event else None
        return data if isinstance(data, dict) else {}

    def connection(self, delivery: DeliveryRow) -> Connection | None:
        return self.connections.get(delivery.connection_id or "")

    @property
    def ctms_names(self) -> CtmsNames:
        """The CTMS names in force (defaults with the settings' overrides)."""
        return ctms_names_for(self.settings)


Handler = Callable[[LaneWork], Awaitable[dict[int, Outcome]]]

"""Which handler drains which lane, and how many deliveries it takes per batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.clients.salesforce import MAX_BATCH as SALESFORCE_BATCH
from app.clients.vault import MAX_BATCH as VAULT_BATCH
from app.domain.lanes import Lane, LaneKind
from app.services.delivery.automation import handle_automation
from app.services.delivery.interactions import handle_interactions
from app.services.delivery.medical import handle_medical_activities
from app.services.delivery.studies_sites import handle_studies_or_sites
from app.services.delivery.work import Handler

HANDLERS: dict[LaneKind, Handler] = {
    LaneKind.INTERACTION: handle_interactions,
    LaneKind.STUDY: handle_studies_or_sites,
    LaneKind.SITE: handle_studies_or_sites,
    LaneKind.MEDICAL: handle_medical_activities,
    LaneKind.AUTOMATION: handle_automation,
}


def handler_for(lane: str) -> Handler:
    try:
        return HANDLERS[Lane.parse(lane).kind]
    except ValueError:
        raise LookupError(f"no handler for lane {lane!r}") from None


def batch_size(lane: str, connections: Mapping[str, Any]) -> int:
    """What one write call can carry: Salesforce takes 200 records per collection call, Vault 500 (the
    CTMS, and a Vault CRM connection's lanes)."""
    parsed = Lane.parse(lane)
    if parsed.kind.writes_to_ctms:
        return VAULT_BATCH
    connection = connections.get(parsed.connection_id or "")
    return VAULT_BATCH if getattr(connection, "platform", None) == "vault" else SALESFORCE_BATCH

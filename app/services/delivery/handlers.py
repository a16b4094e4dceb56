"""Which handler drains which lane, and how many deliveries it takes per batch."""

from __future__ import annotations

from app.clients.salesforce import MAX_BATCH as SALESFORCE_BATCH
from app.clients.vault import MAX_BATCH as VAULT_BATCH
from app.services.delivery.automation import handle_automation
from app.services.delivery.interactions import handle_interactions
from app.services.delivery.medical import handle_medical_activities
from app.services.delivery.studies_sites import handle_studies_or_sites
from app.services.delivery.work import Handler

CTMS_ACTIVITY_LANE = "ctms:crm_activity__v"
AUTOMATION_LANE = "ctms:automation"  # F8: activities the bridge derives inside the CTMS


def handler_for(lane: str) -> Handler:
    if lane == CTMS_ACTIVITY_LANE:
        return handle_medical_activities
    if lane == AUTOMATION_LANE:
        return handle_automation
    kind = lane.rsplit(":", 1)[-1]
    if kind == "interaction":
        return handle_interactions
    if kind in ("study", "site"):
        return handle_studies_or_sites
    raise LookupError(f"no handler for lane {lane!r}")


def batch_size(lane: str) -> int:
    # Salesforce takes 200 records per collection call, Vault 500: claim what one call can carry
    # (a Vault CRM connection's lanes then take two Salesforce-sized batches per call at most).
    return VAULT_BATCH if lane.startswith("ctms:") else SALESFORCE_BATCH

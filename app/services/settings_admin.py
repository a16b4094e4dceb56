"""The bridge-wide settings operators change at run time (the ``global_settings`` row)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.logging import get_logger
from app.models import GlobalSettings, utcnow
from app.repositories import connections
from app.services import audit
from app.services.connection_settings import check_account_match, check_ctms_names

log = get_logger(__name__)
FIELDS = (
    "ctms_person_field",
    "crm_account_field",
    "automate_monitoring_events",
    "automate_communication_log_items",
    "retry_horizon_seconds",
    "unmatched_max_age_seconds",
    "ctms_names",
)


def view(row: GlobalSettings) -> dict[str, Any]:
    values = {name: getattr(row, name) for name in FIELDS}
    values["ctms_names"] = dict(row.ctms_names or {})
    return {**values, "updated_at": row.updated_at.isoformat()}


async def read(session: AsyncSession) -> GlobalSettings:
    return await connections.global_settings(session)


async def update(session: AsyncSession, changes: Mapping[str, Any], *, actor: str) -> GlobalSettings:
    """Apply the given fields; a new identifier pair drops the cached matches of connections using it."""
    row = await connections.global_settings(session)
    before = view(row)
    given = {k: v for k, v in changes.items() if k in FIELDS and v is not None}
    pair = {
        "ctms_person_field": given.get("ctms_person_field", row.ctms_person_field),
        "crm_account_field": given.get("crm_account_field", row.crm_account_field),
    }
    check_account_match(pair, setting="settings")
    if "ctms_names" in given:
        given["ctms_names"] = check_ctms_names(given["ctms_names"])
    for name, value in given.items():
        setattr(row, name, value)
    if given == {k: before[k] for k in given}:
        return row  # nothing changes: no audit entry, no cache loss
    row.updated_at = utcnow()
    await session.flush()
    forgotten = 0
    if (before["ctms_person_field"], before["crm_account_field"]) != (
        row.ctms_person_field,
        row.crm_account_field,
    ):
        users = await connections.ids_using_global_account_match(session)
        forgotten = await connections.forget_account_matches(session, users)
    after = view(row)
    if forgotten:
        after["account_matches_forgotten"] = forgotten
    await audit.record(
        session,
        actor=actor,
        action="settings.update",
        resource_type="settings",
        resource_id="global",
        before=before,
        after=after,
    )
    log.info("settings_updated", fields=sorted(given), account_matches_forgotten=forgotten)
    return row

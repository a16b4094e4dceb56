"""Record timeline: every event that named a record, each delivery, each attempt and the target's answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response

from app.api.deps import ResourcesDep
from app.console.web import Operator, OperatorDep, console_router, render
from app.models import utcnow
from app.services import record_timeline

router = console_router()


async def connection_names(op: Operator) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in (await op.api.get("/api/v1/connections", limit=500))["items"]}


def target_url(connection: dict[str, Any] | None, target_object: str, target_id: str | None) -> str | None:
    """Where an admin opens the record in the target system (None for the CTMS side, whose URL the
    bridge knows only as its API address)."""
    if connection is None or not target_id:
        return None
    crm = connection.get("crm") or {}
    if connection.get("platform") == "salesforce" and crm.get("login_url"):
        return f"{str(crm['login_url']).rstrip('/')}/{target_id}"
    if connection.get("platform") == "vault" and crm.get("vault_url"):
        return f"{str(crm['vault_url']).rstrip('/')}/ui/#object/{target_object}/{target_id}"
    return None


@router.get("/records")
async def timeline_page(
    request: Request,
    resources: ResourcesDep,
    op: OperatorDep,
    id: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    found = None
    if id.strip():
        async with resources.sessionmaker() as session:
            found = await record_timeline.trace(
                session, id, transfer_interval=resources.settings.transfer_interval_seconds, now=utcnow()
            )
    return render(
        request,
        "timeline.html",
        op,
        searched=id.strip(),
        timeline=found.timeline if found else None,
        findings=found.findings if found else [],
        schedule=found.transfer if found else None,
        connections=await connection_names(op),
        target_url=target_url,
    )

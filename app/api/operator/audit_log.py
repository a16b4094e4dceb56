"""/api/v1/audit-log: every change an operator made, newest first (viewer: it never holds secrets)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from app.api.deps import ResourcesDep
from app.api.operator.auth import CallerDep
from app.api.operator.pagination import Page, PageDep
from app.api.operator.routing import errors, operator_router
from app.api.operator.schemas.operations import AuditEntryOut, AuditQuery
from app.repositories import audit

router = operator_router("audit-log")


@router.get(
    "/api/v1/audit-log",
    summary="Who changed what, with the state before and after (secrets redacted)",
    description="Readable by every role, so reviewers can check what operators did without changing anything.",
    responses=errors(400, 422),
)
async def list_audit_log(
    resources: ResourcesDep, _caller: CallerDep, page: PageDep, query: Annotated[AuditQuery, Query()]
) -> Page[AuditEntryOut]:
    async with resources.sessionmaker() as session:
        rows = await audit.page(session, query.to_filter(), before_id=page.int_key(), limit=page.limit + 1)
    return page.page(rows, lambda e: [e.id], AuditEntryOut.model_validate)

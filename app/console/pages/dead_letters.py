"""Dead letters grouped by cause; replay or discard one or a whole group, always after a dry run.

A dry run renders what would happen and pins the set (highest id and the time it was counted); the
confirmation acts on that set only, one operator API call per delivery, so each replay or discard is
checked against the key's role and lands in the audit log exactly as from any other client.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Form, Request, Response

from app.api.deps import ResourcesDep
from app.console.operator_api import ApiRefused
from app.console.pages.timeline import connection_names
from app.console.web import Operator, OperatorDep, WriterDep, console_router, render
from app.context import Resources
from app.models import utcnow
from app.services import dead_letter_causes

router = console_router()
Action = Literal["replay", "discard"]
SAMPLE = 5
REFUSED = {"replay": "/deliveries/{delivery_id}/replay", "discard": "/deliveries/{delivery_id}/discard"}


def _allowed(op: Operator, action: Action) -> None:
    """A viewer's form post is refused here even when nothing would be touched; the API refuses the rest."""
    if not op.can("POST", REFUSED[action]):
        raise ApiRefused(
            403,
            "ROLE_INSUFFICIENT",
            f"to {action} dead letters needs the operator role; this key is {op.caller.role}",
        )


async def _page(request: Request, resources: Resources, op: Operator, **extra: Any) -> Response:
    async with resources.sessionmaker() as session:
        grouped = await dead_letter_causes.causes(session)
    return render(
        request,
        "dead_letters.html",
        op,
        causes=grouped.causes,
        truncated=grouped.truncated,
        connections=await connection_names(op),
        sample=SAMPLE,
        **extra,
    )


@router.get("/dead-letters")
async def dead_letters_page(request: Request, resources: ResourcesDep, op: OperatorDep) -> Response:
    return await _page(request, resources, op)


@router.post("/dead-letters/{key}/dry-run")
async def dry_run_group(
    key: str, request: Request, resources: ResourcesDep, op: WriterDep, action: Annotated[Action, Form()]
) -> Response:
    _allowed(op, action)
    as_of = utcnow()
    async with resources.sessionmaker() as session:
        cause = await dead_letter_causes.members(session, key, up_to_id=None, as_of=as_of)
    if cause is None:
        return await _page(request, resources, op, error="No dead letters have this cause any more.")
    plan = {
        "action": action,
        "key": key,
        "count": cause.count,
        "up_to_id": max(cause.ids),
        "as_of": as_of.isoformat(),
        "cause": cause,
    }
    return await _page(request, resources, op, plan=plan)


@router.post("/dead-letters/{key}/{action}")
async def act_on_group(
    key: str,
    action: Action,
    request: Request,
    resources: ResourcesDep,
    op: WriterDep,
    up_to_id: Annotated[int, Form(ge=1)],
    as_of: Annotated[datetime, Form()],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    _allowed(op, action)
    if action == "discard" and not reason.strip():
        return await _page(request, resources, op, error="Say why these dead letters are discarded.")
    async with resources.sessionmaker() as session:
        cause = await dead_letter_causes.members(session, key, up_to_id=up_to_id, as_of=as_of)
    ids = sorted(cause.ids) if cause else []
    done, skipped = await _each(op, action, ids, reason.strip())
    verb = "replayed" if action == "replay" else "discarded"
    notice = f"{done} dead letter{'s' if done != 1 else ''} {verb}."
    if skipped:
        notice += f" {skipped} had changed since the dry run and were left alone."
    return await _page(request, resources, op, notice=notice)


@router.post("/deliveries/{delivery_id}/dry-run")
async def dry_run_one(
    delivery_id: int,
    request: Request,
    resources: ResourcesDep,
    op: WriterDep,
    action: Annotated[Action, Form()],
) -> Response:
    _allowed(op, action)
    delivery = await op.api.get(f"/api/v1/deliveries/{delivery_id}")
    plan = {"action": action, "delivery": delivery, "count": 1}
    return await _page(request, resources, op, plan=plan)


@router.post("/deliveries/{delivery_id}/{action}")
async def act_on_one(
    delivery_id: int,
    action: Action,
    request: Request,
    resources: ResourcesDep,
    op: WriterDep,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    _allowed(op, action)
    if action == "discard" and not reason.strip():
        return await _page(request, resources, op, error="Say why this dead letter is discarded.")
    try:
        done, _ = await _each(op, action, [delivery_id], reason.strip(), strict=True)
    except ApiRefused as exc:
        if exc.status == 403:
            raise
        return await _page(request, resources, op, error=str(exc))
    verb = "is pending again: its lane was woken" if action == "replay" else "was discarded"
    return await _page(request, resources, op, notice=f"Delivery {delivery_id} {verb}." if done else "")


async def _each(
    op: Operator, action: Action, ids: list[int], reason: str, *, strict: bool = False
) -> tuple[int, int]:
    """One API call per delivery, oldest first. A 409 or 404 (the delivery moved on or was pruned since)
    is counted, not fatal."""
    done = skipped = 0
    body = {"reason": reason} if action == "discard" else None
    for delivery_id in ids:
        try:
            await op.api.post(f"/api/v1/deliveries/{delivery_id}/{action}", body)
            done += 1
        except ApiRefused as exc:
            if exc.status not in (404, 409) or strict:
                raise
            skipped += 1
    return done, skipped

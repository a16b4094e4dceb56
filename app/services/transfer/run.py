"""One Transfer job run (SPEC.md section 5), in the order the product promises:

1. catch up: changes and deletions each system reports since its watermark enter the inbox;
2. plan them now (the same planner as webhooks), so deletions found this run are applied this run;
3. release what waits for a run: CRM call deletions (F4) and unmatched deliveries (or dead-letter those
   older than the configured age with PERSON_NOT_MATCHED);
4. let the lanes deliver, and wait (bounded) for this run's deliveries to finish;
5. record the counts, and move each source's watermark only if its catch-up succeeded.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import update
from sqlmodel import col, select

from app.clients.errors import ClientError
from app.context import Resources
from app.logging import get_logger
from app.models import Delivery, DeliveryStatus, Operation, TransferRun, utcnow
from app.repositories import connections as connections_repo
from app.repositories import transfer_runs
from app.services import planning, wakeups
from app.services.delivery.matching import match_pair
from app.services.liveness import Lost, kept_alive
from app.services.names import crm_names_for, ctms_names_for
from app.services.single_planner import planning_turn
from app.services.transfer.accounts import account_key, refresh_account_matches
from app.services.transfer.catchup import Caught, catch_up_crm, catch_up_ctms, ctms_objects

log = get_logger(__name__)
T = TypeVar("T")
WAIT_SECONDS = 120.0  # how long a run waits for its deliveries before it reports what is still open
HEARTBEAT_SECONDS = 10.0  # a running run renews its heartbeat this often
SILENCE_LIMIT = timedelta(seconds=60)  # no heartbeat for this long: the run's holder is gone


class TransferRunLost(Exception):
    """This run's heartbeat could not be renewed for SILENCE_LIMIT, or another process abandoned it."""


OVERLAP = timedelta(seconds=5)  # re-read a little before the watermark: clocks and commits are not exact


async def run_transfer(
    resources: Resources, *, run_id: int | None = None, trigger: str = "schedule"
) -> TransferRun | None:
    """Run once, unless another run is in progress (then the asked-for run is marked skipped)."""
    now = utcnow()
    async with resources.sessionmaker() as session, session.begin():
        await transfer_runs.abandon_stale(session, now, SILENCE_LIMIT)
        run = await transfer_runs.get(session, run_id) if run_id else None
        run = run or TransferRun(trigger=trigger, started_at=now)
        run.started_at = now
        if not await transfer_runs.begin(session, run):
            if run_id is not None:
                await transfer_runs.finish(
                    session,
                    run_id,
                    "skipped",
                    now,
                    {},
                    [{"code": "ALREADY_RUNNING", "message": "another Transfer run was in progress"}],
                )
            log.info("transfer_skipped", reason="already running")
            return None
    assert run.id is not None
    log.info("transfer_started", run_id=run.id, trigger=run.trigger)
    try:
        counts, errors, watermarks = await run_kept_alive(
            resources, run.id, _steps(resources, run.started_at)
        )
    except TransferRunLost:
        log.warning("transfer_lost", run_id=run.id)  # its row is closed already: nothing to record
        return None
    except asyncio.CancelledError:
        # shutdown or job timeout: close the run now rather than leave it to look alive for a minute
        await asyncio.shield(_close_cancelled(resources, run.id))
        raise
    except Exception as exc:
        log.exception("transfer_failed", run_id=run.id)
        async with resources.sessionmaker() as session, session.begin():
            await transfer_runs.finish(
                session,
                run.id,
                "failed",
                utcnow(),
                {},
                [{"code": "INTERNAL_ERROR", "message": type(exc).__name__}],
            )
        raise
    async with resources.sessionmaker() as session, session.begin():
        for key, value in watermarks.items():
            await transfer_runs.set_watermark(session, key, value, utcnow())
        await transfer_runs.finish(
            session, run.id, "failed" if errors else "succeeded", utcnow(), counts, errors
        )
        finished = await transfer_runs.get(session, run.id)
    log.info("transfer_finished", run_id=run.id, errors=len(errors))
    return finished


async def run_kept_alive(resources: Resources, run_id: int, work: Coroutine[Any, Any, T]) -> T:
    """Run `work` while renewing the run's heartbeat; stop it when the run is lost."""

    async def beat() -> bool:
        async with resources.sessionmaker() as session, session.begin():
            return await transfer_runs.beat(session, run_id, utcnow())

    try:
        return await kept_alive(
            work,
            beat,
            every=HEARTBEAT_SECONDS,
            silence=SILENCE_LIMIT.total_seconds(),
            what=f"transfer run {run_id}",
        )
    except Lost:
        raise TransferRunLost(run_id) from None


async def _close_cancelled(resources: Resources, run_id: int) -> None:
    async with resources.sessionmaker() as session, session.begin():
        await transfer_runs.finish(
            session,
            run_id,
            "failed",
            utcnow(),
            {},
            [{"code": "CANCELLED", "message": "the run was stopped (shutdown or job timeout)"}],
        )


async def _steps(
    resources: Resources, started: datetime
) -> tuple[dict[str, Any], list[Any], dict[str, datetime]]:
    errors: list[dict[str, str]] = []
    caught: list[Caught] = []
    async with resources.sessionmaker() as session:
        settings = await connections_repo.global_settings(session)
        connections = await connections_repo.list_active(session)
        ctms_names = ctms_names_for(settings)
        keys = [f"ctms:{obj}" for obj, _ in ctms_objects(ctms_names, settings, True)]
        keys += [f"crm:{c.id}:{crm_names_for(c).call.object}" for c in connections]
        keys += [account_key(c) for c in connections]
        since = {k: (await transfer_runs.watermark(session, k)) for k in keys}
    first_seen = min((c.created_at for c in connections), default=started)
    start_of = {k: (v - OVERLAP if v else first_seen - OVERLAP) for k, v in since.items()}

    # 1. catch up, source by source (CTMS: object by object): one failing does not hold the others back
    objects = ctms_objects(ctms_names, settings, any(c.sync_studies_and_sites for c in connections))
    try:
        ctms = resources.clients.ctms()
    except ClientError as exc:  # not configured: nothing to ask
        errors.append({"source": "ctms", "code": exc.code, "message": exc.message})
    else:
        ctms_caught, ctms_errors = await catch_up_ctms(
            ctms, resources.sessionmaker, objects, start_of, started
        )
        caught += ctms_caught
        errors += ctms_errors
    for conn in connections:
        names = crm_names_for(conn)
        key = f"crm:{conn.id}:{names.call.object}"
        try:
            gateway = resources.clients.crm(conn)
            field = match_pair(conn, settings).crm_account_field
            caught.append(
                await catch_up_crm(
                    gateway, conn, names, field, resources.sessionmaker, start_of[key], started
                )
            )
        except ClientError as exc:
            errors.append({"source": conn.id, "code": exc.code, "message": exc.message})
            continue
        try:  # accounts re-keyed, merged or deleted: their cached matches go
            caught.append(
                await refresh_account_matches(
                    gateway, conn, names, field, resources.sessionmaker, start_of[account_key(conn)], started
                )
            )
        except ClientError as exc:
            label = f"{conn.id}/{names.account.object}"
            errors.append({"source": label, "code": exc.code, "message": exc.message})

    # 2. plan now, so deletions caught up this run are released by this run
    while True:
        async with planning_turn(resources.engine), resources.sessionmaker() as session, session.begin():
            if not (
                await planning.plan_pending(session, partitions=resources.settings.connection_concurrency)
            ).events:
                break

    # 3. release what waits for a Transfer run
    event_ids = [e for c in caught for e in c.event_ids]
    now = utcnow()
    async with resources.sessionmaker() as session, session.begin():
        released = await _release(session, now, settings.unmatched_max_age_seconds)
        fed = await _deliveries_of_events(session, event_ids)
    tracked = sorted(set(released) | set(fed))
    async with resources.sessionmaker() as session:
        lanes = {d.lane for d in await _load(session, tracked)}
    await wakeups.wake_lanes(resources.queue, lanes)

    # 4. wait for this run's deliveries, then 5. count
    rows = await _wait(resources, tracked)
    counts = _tally(caught, rows)
    return counts, errors, {c.key: c.until for c in caught}


async def _release(session: Any, now: datetime, max_age_seconds: int) -> list[int]:
    """F4 deletions and unmatched deliveries become due; unmatched ones past the age limit are dead."""
    too_old = now - timedelta(seconds=max_age_seconds)
    await session.execute(
        update(Delivery)
        .where(col(Delivery.status) == DeliveryStatus.UNMATCHED, col(Delivery.created_at) < too_old)
        .values(
            status=DeliveryStatus.DEAD,
            last_error_code="PERSON_NOT_MATCHED",
            last_error=f"no CRM account matched within {max_age_seconds // 86400} days",
            finished_at=now,
            updated_at=now,
        )
    )
    stmt = (
        update(Delivery)
        .where(col(Delivery.status).in_([DeliveryStatus.AWAITING_TRANSFER, DeliveryStatus.UNMATCHED]))
        .values(status=DeliveryStatus.PENDING, next_attempt_at=now, updated_at=now)
        .returning(col(Delivery.id))
    )
    return [int(i) for i in (await session.execute(stmt)).scalars()]


async def _deliveries_of_events(session: Any, event_ids: list[int]) -> list[int]:
    if not event_ids:
        return []
    stmt = select(Delivery.id).where(col(Delivery.event_id).in_(event_ids))
    return [int(i) for i in (await session.execute(stmt)).scalars()]


async def _load(session: Any, ids: list[int]) -> list[Delivery]:
    if not ids:
        return []
    return list((await session.execute(select(Delivery).where(col(Delivery.id).in_(ids)))).scalars())


async def _wait(resources: Resources, ids: list[int]) -> list[Delivery]:
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        async with resources.sessionmaker() as session:
            rows = await _load(session, ids)
        open_ = [d for d in rows if d.status in (DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT)]
        if not open_ or asyncio.get_running_loop().time() > deadline:
            return rows
        await asyncio.sleep(0.25)


def _tally(caught: list[Caught], rows: list[Delivery]) -> dict[str, Any]:
    """Per source (connection or CTMS) and object: seen, created, updated, inactivated, unchanged, failed."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for c in caught:
        counts[c.label]["seen"] += c.seen
    for d in rows:
        label = f"{d.connection_id or 'ctms'}/{d.target_object or d.source_object}"
        if d.status == DeliveryStatus.DELIVERED:
            if d.operation == Operation.INACTIVATE_MEDICAL_ACTIVITY:
                outcome = "inactivated"
            else:
                outcome = "created" if d.payload.get("created") else "updated"
        elif d.status in (DeliveryStatus.UNCHANGED, DeliveryStatus.STALE):
            outcome = "unchanged"
        elif d.status == DeliveryStatus.DEAD:
            outcome = "failed"
        else:
            outcome = str(d.status)  # unmatched, or still pending when the run stopped waiting
        counts[label][outcome] += 1
    return {label: dict(c) for label, c in sorted(counts.items())}

"""Bench-only variants of the bridge's API, each changing one thing on the webhook path, to measure what a
change in app/ would be worth before anyone makes it. Nothing here is used by the bridge itself; every
variant keeps the endpoint's behaviour and guarantees (stored before 202, one row per webhook id).

Served like the bridge (`uvicorn bench.variants:NAME --factory`, settings from BRIDGE_* variables):

- ``async_resources``: `get_resources` as an ``async def``. It is a plain ``def`` today, so FastAPI runs
  it in the thread pool on every request (a thread hop, and the 40-thread limiter, for an attribute read).
- ``core_insert``: the inbox insert built once from the Core table, values passed as parameters, instead
  of a new ORM-enabled ``insert(InboxEvent).values(**values)`` per request (SQLAlchemy's ORM bulk-insert
  path and cache-key generation over the 11 values cost ~1 ms of CPU per request here).
- ``no_pre_ping``: the pool without ``pool_pre_ping`` (with asyncpg the ping is BEGIN; ";"; ROLLBACK:
  three round trips per checkout). A connection that died fails its statement, the request answers 503
  and the sender retries; the pool then replaces it.
- ``wake_once_per_bucket``: each API process enqueues the planner wake-up once per 100 ms bucket instead of
  asking Redis on every request (arq checks an existing job id with WATCH/EXISTS round trips). The job id
  is per bucket already, and the sweeper remains.
- ``bigger_pool``: 32 pooled connections per process instead of 10 + 10 overflow. With more requests in
  flight than pooled connections, overflow connections are closed on return and opened again moments later
  (each connect costs ~6 ms of CPU here: asyncpg builds an SSL context for ``sslmode=prefer`` even when the
  server has SSL off); the ingest report's `DB connects` column counts them.
- ``everything``: the five together.

And of `bridge worker` (`python -m bench.variants worker NAME`, see bench/delivery.py --worker-variant):

- ``unsynchronized_updates``: the per-row ``UPDATE``s of planning (``inbox.mark``) and of recording outcomes
  (``deliveries.finish``) with ``synchronize_session=False``. ORM-enabled updates default to "evaluate": after
  each one SQLAlchemy tests its WHERE clause in Python against every object of that class in the session,
  and planning holds the whole claimed batch (500 events) there, so planning a batch costs 500 × 500
  evaluations. Nothing reads those objects' status afterwards.
- ``core_statements``: the same two updates and the record-link upsert (``links.save``, once per delivered
  record) as Core statements built once per shape, values passed as parameters (as ``core_insert`` above).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

import app.context
from app.api import deps
from app.context import Resources
from app.db import create_engine
from app.models import Delivery, DeliveryStatus, EventStatus, InboxEvent, RecordLink, utcnow
from app.repositories import deliveries, inbox, links
from app.services import wakeups
from app.worker.queue import JobQueue

# ---- async_resources ---------------------------------------------------------------------------------------


async def _get_resources(request: Request) -> Resources:
    resources = request.app.state.resources
    assert isinstance(resources, Resources)
    return resources


def _async_resources() -> None:
    """Before the routers are imported (they take `ResourcesDep` when imported): an async dependency."""
    if "app.main" in sys.modules:
        raise RuntimeError("async_resources must be applied before app.main is imported")
    deps.get_resources = _get_resources  # type: ignore[assignment]
    deps.ResourcesDep = Annotated[Resources, Depends(_get_resources)]  # type: ignore[misc]


def create_app() -> FastAPI:
    from app.main import create_app as create

    return create()


# ---- core_insert -------------------------------------------------------------------------------------------

_TABLE: Any = InboxEvent.__table__
_INSERT = {
    name: dialect.insert(_TABLE)
    .on_conflict_do_nothing(index_elements=["sender", "webhook_id"])
    .returning(_TABLE.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_EXISTING = select(_TABLE.c.id).where(
    _TABLE.c.sender == bindparam("s"), _TABLE.c.webhook_id == bindparam("w")
)


async def _insert_once(session: AsyncSession, values: dict[str, Any]) -> tuple[int, bool]:
    dialect = session.bind.dialect.name if session.bind else "postgresql"
    values = {"status": EventStatus.RECEIVED, "received_at": utcnow(), **values}
    new_id = (await session.execute(_INSERT[dialect], values)).scalar_one_or_none()
    if new_id is not None:
        return int(new_id), True
    existing = await session.execute(_EXISTING, {"s": values["sender"], "w": values["webhook_id"]})
    return int(existing.scalar_one()), False


def _core_insert() -> None:
    inbox.insert_once = _insert_once


# ---- no_pre_ping, bigger_pool ------------------------------------------------------------------------------

_ENGINE_OPTIONS: dict[str, Any] = {}


def _engine_with_options(url: str, **kwargs: Any) -> Any:
    return create_engine(url, **{**_ENGINE_OPTIONS, **kwargs})


def _no_pre_ping() -> None:
    _ENGINE_OPTIONS["pool_pre_ping"] = False
    app.context.create_engine = _engine_with_options  # type: ignore[attr-defined]


def _bigger_pool() -> None:
    _ENGINE_OPTIONS.update(pool_size=32, max_overflow=8)
    app.context.create_engine = _engine_with_options  # type: ignore[attr-defined]


# ---- wake_once_per_bucket ----------------------------------------------------------------------------------

_wake_planner = wakeups.wake_planner
_last_bucket: list[int] = [-1]


async def _wake_planner_once(queue: JobQueue) -> None:
    bucket = wakeups._bucket()
    if _last_bucket[0] == bucket:
        return
    previous, _last_bucket[0] = _last_bucket[0], bucket  # before the await: concurrent requests skip
    try:
        await _wake_planner(queue)
    except BaseException:
        _last_bucket[0] = previous  # not enqueued: the next request tries again
        raise


def _wake_once() -> None:
    wakeups.wake_planner = _wake_planner_once


# ---- the factories uvicorn calls ---------------------------------------------------------------------------


def async_resources() -> FastAPI:
    _async_resources()
    return create_app()


def core_insert() -> FastAPI:
    _core_insert()
    return create_app()


def no_pre_ping() -> FastAPI:
    _no_pre_ping()
    return create_app()


def wake_once_per_bucket() -> FastAPI:
    _wake_once()
    return create_app()


def bigger_pool() -> FastAPI:
    _bigger_pool()
    return create_app()


def everything() -> FastAPI:
    _async_resources()
    _core_insert()
    _no_pre_ping()
    _wake_once()
    _bigger_pool()
    return create_app()


# ---- bridge worker variants --------------------------------------------------------------------------------


async def _mark(
    session: AsyncSession,
    event_id: int,
    status: EventStatus,
    code: str | None = None,
    error: str | None = None,
) -> None:
    await session.execute(
        update(InboxEvent)
        .where(_TABLE.c.id == event_id)
        .values(status=status, error_code=code, error=error, processed_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def _finish(session: AsyncSession, delivery_id: int, owner: str, values: dict[str, Any]) -> bool:
    table: Any = Delivery.__table__
    result = await session.execute(
        update(Delivery)
        .where(
            table.c.id == delivery_id,
            table.c.lease_owner == owner,
            table.c.status == DeliveryStatus.IN_FLIGHT,
        )
        .values(lease_owner=None, lease_expires_at=None, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def unsynchronized_updates() -> None:
    inbox.mark = _mark
    deliveries.finish = _finish


_DELIVERIES: Any = Delivery.__table__
_MARK = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("event_id"))
    .values(
        status=bindparam("status"),
        error_code=bindparam("code"),
        error=bindparam("error"),
        processed_at=bindparam("at"),
    )
)
_FINISH: dict[tuple[str, ...], Any] = {}
_LINKS: Any = RecordLink.__table__
_LINK_KEY = ("connection_id", "source_system", "source_object", "source_id")
_SAVE_LINK: dict[tuple[str, tuple[str, ...]], Any] = {}


async def _core_mark(
    session: AsyncSession,
    event_id: int,
    status: EventStatus,
    code: str | None = None,
    error: str | None = None,
) -> None:
    await session.execute(
        _MARK, {"event_id": event_id, "status": status, "code": code, "error": error, "at": utcnow()}
    )


async def _core_finish(session: AsyncSession, delivery_id: int, owner: str, values: dict[str, Any]) -> bool:
    shape = tuple(sorted(values))
    stmt = _FINISH.get(shape)
    if stmt is None:
        stmt = _FINISH[shape] = (
            update(_DELIVERIES)
            .where(
                _DELIVERIES.c.id == bindparam("_id"),
                _DELIVERIES.c.lease_owner == bindparam("_owner"),
                _DELIVERIES.c.status == DeliveryStatus.IN_FLIGHT,
            )
            .values(lease_owner=None, lease_expires_at=None, **{k: bindparam(f"v_{k}") for k in shape})
        )
    params = {"_id": delivery_id, "_owner": owner, **{f"v_{k}": v for k, v in values.items()}}
    return bool((await session.execute(stmt, params)).rowcount)  # type: ignore[attr-defined]


async def _core_save_link(session: AsyncSession, values: dict[str, Any]) -> None:
    values = {"updated_at": utcnow(), **values}
    dialect = session.bind.dialect.name if session.bind else "postgresql"
    shape = (dialect, tuple(sorted(values)))
    stmt = _SAVE_LINK.get(shape)
    if stmt is None:
        insert = (postgresql if dialect == "postgresql" else sqlite).insert(_LINKS)
        stmt = _SAVE_LINK[shape] = insert.on_conflict_do_update(
            index_elements=list(_LINK_KEY),
            set_={k: insert.excluded[k] for k in shape[1] if k not in _LINK_KEY},
        )
    await session.execute(stmt, values)


def core_statements() -> None:
    inbox.mark = _core_mark
    deliveries.finish = _core_finish
    links.save = _core_save_link


WORKER_VARIANTS = {"unsynchronized_updates": unsynchronized_updates, "core_statements": core_statements}


def main() -> None:
    """`python -m bench.variants worker NAME`: `bridge worker` with one variant applied."""
    if len(sys.argv) != 3 or sys.argv[1] != "worker" or sys.argv[2] not in WORKER_VARIANTS:
        raise SystemExit(f"usage: python -m bench.variants worker {{{','.join(WORKER_VARIANTS)}}}")
    WORKER_VARIANTS[sys.argv[2]]()
    from app.cli import main as bridge

    sys.argv = ["bridge", "worker"]
    bridge()


if __name__ == "__main__":
    main()

"""Group commit for webhook intake: concurrent requests in one process share one transaction.

Each request hands its verified event to `InboxWriter.store` and waits. Events that arrive while a
flush is running gather into the next one, so under load a commit carries many rows (one multi-row
statement, `inbox_store.store_many`) and at light load a lone event is flushed on the next loop turn.
A request is answered only from the outcome of the commit that holds its row: when that commit fails,
every request in it is refused, none is told 202.

Failures are classified by cause. Only connection-level trouble (the database unreachable, restarting,
out of connections, a serialisation conflict) is `StoreUnavailable`: the sender should retry. Anything
PostgreSQL refuses about the data itself is `EventUnstorable`: retrying would never help. When a batch
fails on data, its events are stored one by one so one bad event cannot refuse the others.

On PostgreSQL the writer's engine is in autocommit mode: a batch is one `INSERT … RETURNING` statement,
which is its own transaction, so it costs one round trip and is durable when it returns. The pool does no
pre-ping: a connection found broken is retried once on a fresh one, then refused.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.logging import get_logger
from app.repositories.inbox_store import NewEvent, store_many

log = get_logger(__name__)

MAX_ROWS = 500  # per commit; a bigger batch only makes the first waiter wait longer
MAX_FLUSHES = 2  # commits in flight per process: one fills while the other commits

# SQLSTATE classes that mean "the server or the connection", not "this data": connection exception,
# insufficient resources, operator intervention (shutdown, starting up), system error, and the
# transaction rollbacks (serialization failure, deadlock) that a retry resolves.
_TRANSIENT_CLASSES = ("08", "53", "57", "58", "40")
_CONNECTION_ERRORS = (InterfaceError, OSError, TimeoutError, ConnectionError)


class StoreUnavailable(Exception):
    """The event could not be stored for a reason unrelated to its content: retry later."""


class EventUnstorable(Exception):
    """The database refuses this event's content (e.g. a value it cannot represent)."""

    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(sqlstate or "unknown")
        self.sqlstate = sqlstate


def sqlstate_of(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def is_transient(exc: BaseException) -> bool:
    """Is this failure the store's (retry later), rather than the data's?"""
    if isinstance(exc, _CONNECTION_ERRORS):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc.orig, _CONNECTION_ERRORS):
            return True
        state = sqlstate_of(exc)
        if state is None:  # no SQLSTATE: the driver failed before the server judged anything
            return not isinstance(exc, DataError | IntegrityError)
        return state.startswith(_TRANSIENT_CLASSES)
    return False


@dataclass(slots=True)
class _Waiting:
    event: NewEvent
    answer: asyncio.Future[tuple[int, bool]] = field(default_factory=lambda: _new_answer())


def _new_answer() -> asyncio.Future[tuple[int, bool]]:
    answer: asyncio.Future[tuple[int, bool]] = asyncio.get_running_loop().create_future()
    # A request that went away (client disconnected) leaves its answer unread: mark it read, quietly.
    answer.add_done_callback(lambda f: f.cancelled() or f.exception())
    return answer


class InboxWriter:
    """One per process. `store` answers (event id, new) once the event is committed."""

    def __init__(self, engine: AsyncEngine, max_rows: int = MAX_ROWS, max_flushes: int = MAX_FLUSHES):
        self._engine = engine
        self._max_rows = max_rows
        self._max_flushes = max_flushes
        self._queue: list[_Waiting] = []
        self._flushing = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def store(self, event: NewEvent) -> tuple[int, bool]:
        waiting = _Waiting(event)
        self._queue.append(waiting)
        if not self._scheduled:
            # Flush on the next loop turn, so every request that arrived in this turn joins the batch.
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._start_flushes)
        return await asyncio.shield(waiting.answer)

    def _start_flushes(self) -> None:
        self._scheduled = False
        while self._queue and self._flushing < self._max_flushes:
            batch, self._queue = self._queue[: self._max_rows], self._queue[self._max_rows :]
            self._flushing += 1
            task = asyncio.get_running_loop().create_task(self._flush(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _flush(self, batch: list[_Waiting]) -> None:
        try:
            await self._settle(batch)
        finally:
            self._flushing -= 1
            if self._queue:
                self._start_flushes()

    async def _settle(self, batch: list[_Waiting]) -> None:
        try:
            answers = await self._commit_retrying([w.event for w in batch])
        except BaseException as exc:  # every waiter must hear the outcome, whatever it is
            if len(batch) > 1 and isinstance(exc, DBAPIError) and not is_transient(exc):
                await self._settle_one_by_one(batch)
                return
            for waiting in batch:
                _fail(waiting, exc)
            if not isinstance(exc, Exception):
                raise
            return
        for waiting, answer in zip(batch, answers, strict=True):
            if not waiting.answer.done():
                waiting.answer.set_result(answer)

    async def _settle_one_by_one(self, batch: list[_Waiting]) -> None:
        for waiting in batch:
            try:
                [answer] = await self._commit_retrying([waiting.event])
            except Exception as exc:  # the outcome goes to this event's waiter only
                _fail(waiting, exc)
            else:
                if not waiting.answer.done():
                    waiting.answer.set_result(answer)

    async def _commit_retrying(self, events: list[NewEvent]) -> list[tuple[int, bool]]:
        try:
            return await self._commit(events)
        except Exception as exc:
            if not _is_broken_connection(exc):
                raise
        return await self._commit(events)  # once, on a fresh connection (the pool dropped the broken one)

    async def _commit(self, events: list[NewEvent]) -> list[tuple[int, bool]]:
        """One transaction for the batch. Repeated keys within it get the first one's id, as duplicates."""
        first: dict[tuple[str, str], int] = {}
        distinct: list[NewEvent] = []
        for event in events:
            key = (event.sender, event.webhook_id)
            if key not in first:
                first[key] = len(distinct)
                distinct.append(event)
        async with self._engine.begin() as conn:
            stored = await store_many(conn, distinct)
        answers: list[tuple[int, bool]] = []
        seen: set[tuple[str, str]] = set()
        for event in events:
            key = (event.sender, event.webhook_id)
            event_id, new = stored[first[key]]
            answers.append((event_id, new and key not in seen))
            seen.add(key)
        return answers

    async def close(self) -> None:
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task


def _is_broken_connection(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _fail(waiting: _Waiting, exc: BaseException) -> None:
    if waiting.answer.done():
        return
    if is_transient(exc) or not isinstance(exc, DBAPIError):
        waiting.answer.set_exception(StoreUnavailable(type(exc).__name__))
    else:
        waiting.answer.set_exception(EventUnstorable(sqlstate_of(exc)))

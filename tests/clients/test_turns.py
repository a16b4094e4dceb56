"""Batch turns (app/clients/turns.py): batches prepare in turn and let go at their first call out; a batch
calls out only once its predecessor's calls are over."""

from __future__ import annotations

import asyncio

from app.clients.turns import Batch, before_calling_out, let_go


async def test_the_next_batch_prepares_while_the_first_ones_call_is_out() -> None:
    turns, order = asyncio.Semaphore(1), []
    call_back = asyncio.Event()
    first_batch = Batch(turns)

    async def first() -> None:
        async with first_batch.turn():
            order.append("first prepares")
            let_go()  # its call goes out
            await call_back.wait()
            order.append("first judges its answer")

    async def second() -> None:
        await first_batch.called_out.wait()
        async with Batch(turns).turn():
            order.append("second prepares")
            call_back.set()

    await asyncio.wait_for(asyncio.gather(first(), second()), 2)
    assert order == ["first prepares", "second prepares", "first judges its answer"]
    assert not turns.locked()


async def test_a_batch_that_never_calls_out_holds_its_turn_to_the_end() -> None:
    turns, order = asyncio.Semaphore(1), []

    async def batch(name: str) -> None:
        async with Batch(turns).turn():
            order.append(f"{name} starts")
            await asyncio.sleep(0.01)  # a database round trip: the turn is kept
            order.append(f"{name} ends")

    await asyncio.wait_for(asyncio.gather(batch("a"), batch("b")), 2)
    assert order == ["a starts", "a ends", "b starts", "b ends"]


async def test_a_batch_calls_out_only_once_its_predecessors_calls_are_over() -> None:
    turns, order = asyncio.Semaphore(1), []
    earlier = Batch(turns)
    later = Batch(turns, after=earlier)

    async def first() -> None:
        async with earlier.turn():
            await before_calling_out()
            order.append("earlier calls")
            await asyncio.sleep(0.05)
            order.append("earlier answered")
            earlier.calls_over.set()

    async def second() -> None:
        await earlier.called_out.wait()
        async with later.turn():
            order.append("later prepared")
            await before_calling_out()
            order.append("later calls")

    await asyncio.wait_for(asyncio.gather(first(), second()), 2)
    assert order == ["earlier calls", "later prepared", "earlier answered", "later calls"]


async def test_a_lock_held_across_a_call_cannot_deadlock_with_the_turn() -> None:
    # a client's login lock: the first batch logs in (holding it across the call) while the second,
    # holding the turn, waits for the same lock. Were the turn taken back after a call, neither could go on.
    turns, login = asyncio.Semaphore(1), asyncio.Lock()
    logged_in = asyncio.Event()

    async def first() -> None:
        async with Batch(turns).turn():
            async with login:
                let_go()
                await asyncio.sleep(0.05)  # the login call
                logged_in.set()
            let_go()  # its upsert: a no-op now, the turn was given up at the login
            await asyncio.sleep(0.01)

    async def second() -> None:
        await asyncio.sleep(0.01)
        async with Batch(turns).turn(), login:
            assert logged_in.is_set()

    await asyncio.wait_for(asyncio.gather(first(), second()), 2)
    assert not turns.locked()


async def test_letting_go_outside_a_turn_or_from_a_task_the_holder_started_changes_nothing() -> None:
    turns = asyncio.Semaphore(1)
    let_go()  # no turn at all
    await before_calling_out()
    async with Batch(turns).turn():

        async def helper() -> None:
            let_go()  # a task started inside the turn sees it, but is not its holder

        await asyncio.create_task(helper())
        assert turns.locked()
    assert not turns.locked()

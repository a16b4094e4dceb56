"""Batch turns (app/clients/turns.py): one batch prepares at a time, and lets go at its first call out."""

from __future__ import annotations

import asyncio

from app.clients.turns import let_go, turn


async def test_the_next_batch_prepares_while_the_first_ones_call_is_out() -> None:
    lock, order = asyncio.Lock(), []
    call_out, call_back = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with turn(lock):
            order.append("first prepares")
            let_go()  # its call goes out
            call_out.set()
            await call_back.wait()
            order.append("first judges its answer")

    async def second() -> None:
        await call_out.wait()
        async with turn(lock):
            order.append("second prepares")
            call_back.set()

    await asyncio.wait_for(asyncio.gather(first(), second()), 2)
    assert order == ["first prepares", "second prepares", "first judges its answer"]
    assert not lock.locked()


async def test_a_batch_that_never_calls_out_holds_its_turn_to_the_end() -> None:
    lock, order = asyncio.Lock(), []

    async def batch(name: str) -> None:
        async with turn(lock):
            order.append(f"{name} starts")
            await asyncio.sleep(0.01)  # a database round trip: the turn is kept
            order.append(f"{name} ends")

    await asyncio.wait_for(asyncio.gather(batch("a"), batch("b")), 2)
    assert order == ["a starts", "a ends", "b starts", "b ends"]


async def test_a_lock_held_across_a_call_cannot_deadlock_with_the_turn() -> None:
    # a client's login lock: the first batch logs in (holding it across the call) while the second,
    # holding the turn, waits for the same lock. Were the turn taken back after a call, neither could go on.
    turns, login = asyncio.Lock(), asyncio.Lock()
    logged_in = asyncio.Event()

    async def first() -> None:
        async with turn(turns):
            async with login:
                let_go()
                await asyncio.sleep(0.05)  # the login call
                logged_in.set()
            let_go()  # its upsert: a no-op now, the turn was given up at the login
            await asyncio.sleep(0.01)

    async def second() -> None:
        await asyncio.sleep(0.01)
        async with turn(turns), login:
            assert logged_in.is_set()

    await asyncio.wait_for(asyncio.gather(first(), second()), 2)
    assert not turns.locked()


async def test_letting_go_outside_a_turn_or_from_a_task_the_holder_started_changes_nothing() -> None:
    lock = asyncio.Lock()
    let_go()  # no turn at all
    async with turn(lock):

        async def helper() -> None:
            let_go()  # a task started inside the turn sees it, but is not its holder

        await asyncio.create_task(helper())
        assert lock.locked()
    assert not lock.locked()

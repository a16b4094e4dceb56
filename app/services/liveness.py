"""Long work that proves it is alive: a heartbeat beside it, and the work stopped once it is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from app.logging import get_logger

log = get_logger(__name__)
T = TypeVar("T")


class Lost(Exception):
    """The heartbeat could not be renewed for the silence limit, or someone else took the work over."""


async def kept_alive(
    work: Coroutine[Any, Any, T],
    beat: Callable[[], Awaitable[bool]],
    *,
    every: float,
    silence: float,
    what: str,
) -> T:
    """Run `work` while `beat()` renews its claim every `every` seconds; raise Lost when it cannot."""
    steps = asyncio.ensure_future(work)
    keeper = asyncio.ensure_future(_keep_beating(beat, every, silence, what))
    try:
        await asyncio.wait({steps, keeper}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # also on our own cancellation: neither task outlives the work
        keeper.cancel()
        steps.cancel()  # a no-op once the steps are done
        await asyncio.gather(keeper, steps, return_exceptions=True)
    if steps.cancelled():  # the keeper returned first: the work is lost
        raise Lost(what)
    return steps.result()


async def _keep_beating(beat: Callable[[], Awaitable[bool]], every: float, silence: float, what: str) -> None:
    """Returns only when the claim is lost: taken over, or unrenewable for `silence` seconds."""
    loop = asyncio.get_running_loop()
    renewed = loop.time()
    while True:
        await asyncio.sleep(every)
        try:
            alive = await beat()
        except Exception:
            log.warning("heartbeat_failed", work=what)
            alive = loop.time() - renewed < silence
        else:
            renewed = loop.time()
        if not alive:
            return

"""FastAPI dependencies: the process resources and a per-request database session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.context import Resources


async def get_resources(request: Request) -> Resources:
    # async on purpose: a plain def would run in the thread pool on every request, for an attribute read
    resources = request.app.state.resources
    assert isinstance(resources, Resources)
    return resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


async def get_session(resources: ResourcesDep) -> AsyncIterator[AsyncSession]:
    async with resources.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

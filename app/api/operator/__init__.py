"""The operator API under /api/v1: every route behind an API key and its line in the role matrix."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute

from app.api.operator import (
    api_keys,
    audit_log,
    connections,
    deliveries,
    events,
    initial_loads,
    links,
    reconciliations,
    records,
    settings,
    transfer_runs,
)
from app.api.operator.auth import authorize
from app.api.operator.roles import unguarded

ROUTERS = [
    m.router
    for m in (
        connections,
        settings,
        events,
        deliveries,
        links,
        records,
        transfer_runs,
        initial_loads,
        reconciliations,
        audit_log,
        api_keys,
    )
]

router = APIRouter(dependencies=[Depends(authorize)])
for child in ROUTERS:
    router.include_router(child)


def route_keys(routes: Iterable[object]) -> list[tuple[str, str]]:
    """(method, path) of every API route, as the role matrix names them."""
    return sorted(
        (method, route.path_format)
        for route in routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    )


_missing = unguarded(route_keys(route for child in ROUTERS for route in child.routes))
if _missing:  # refuse to start rather than serve a route nobody decided the role of
    raise RuntimeError(f"operator routes without a line in app/api/operator/roles.py: {_missing}")

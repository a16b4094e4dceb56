"""API keys and roles on every operator route: ``Authorization: Bearer <key>``.

Missing key: 401 ``API_KEY_MISSING``; unknown or revoked: 401 ``API_KEY_INVALID``/``API_KEY_REVOKED``;
a role below the route's line in ``roles.ROLE_MATRIX``: 403 ``ROLE_INSUFFICIENT``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.deps import ResourcesDep
from app.api.operator.roles import required_role
from app.api.problems import Problem
from app.services import api_keys
from app.services.api_keys import Caller

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An operator API key (`bridge api-keys create`), or BRIDGE_ADMIN_API_KEY.",
)


async def authorize(
    request: Request,
    resources: ResourcesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    if credentials is None or not credentials.credentials:
        raise Problem(
            401,
            "API_KEY_MISSING",
            "send an API key as 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    route = request.scope.get("route")
    needed = required_role(request.method, route.path_format) if isinstance(route, APIRoute) else None
    if needed is None:  # fail closed: a route nobody put in the matrix is nobody's
        raise Problem(500, "ROUTE_NOT_IN_ROLE_MATRIX", "this route has no line in the role matrix")
    admin_key = resources.settings.admin_api_key
    async with resources.sessionmaker() as session, session.begin():
        caller = await api_keys.authenticate(
            session,
            credentials.credentials,
            bootstrap=admin_key.get_secret_value() if admin_key is not None else None,
        )
    if not caller.role.allows(needed):
        raise Problem(
            403,
            "ROLE_INSUFFICIENT",
            f"this action needs the {needed} role; the API key has the {caller.role} role",
        )
    return caller


CallerDep = Annotated[Caller, Depends(authorize)]

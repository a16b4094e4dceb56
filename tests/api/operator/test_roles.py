"""Access control on every operator route, generated from the app's routes so none can be forgotten."""

from __future__ import annotations

import re

import httpx

from app.api.operator import ROUTERS, route_keys
from app.api.operator.roles import ROLE_MATRIX, unguarded
from app.main import create_app
from app.services.api_keys import Role
from tests.api.operator.conftest import ADMIN_KEY, Api, problem
from tests.conftest import make_settings, running_app

PATH_VALUES = {"connection_id": "conn_missing", "key_id": "key_missing"}  # numeric ids get 999999
ROLES = ("viewer", "operator", "admin")


def operator_routes() -> list[tuple[str, str]]:
    """Every /api/v1 route the app serves, from its OpenAPI document (every router, wherever included)."""
    paths = create_app().openapi()["paths"]
    return sorted((m.upper(), p) for p, ops in paths.items() if p.startswith("/api/v1") for m in ops)


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "999999"), path)


async def call(client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return await client.request(method, concrete(path), json=body, headers=headers)


def test_every_operator_route_has_a_line_in_the_role_matrix() -> None:
    routes = operator_routes()
    assert len(routes) >= 25
    assert unguarded(routes) == []
    # and the package's own list agrees with what the app serves
    assert route_keys(r for child in ROUTERS for r in child.routes) == routes
    # the check itself notices a route nobody listed
    assert unguarded([("GET", "/api/v1/not-in-the-matrix")]) == [("GET", "/api/v1/not-in-the-matrix")]


def test_every_route_documents_a_summary_and_its_auth_errors() -> None:
    document = create_app().openapi()
    for path, operations in document["paths"].items():
        if path.startswith("/api/v1"):
            for method, operation in operations.items():
                assert operation["summary"], (method, path)
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
                assert operation["security"] == [{"ApiKey": []}], (method, path)


async def test_role_matrix_on_every_route(api: Api) -> None:
    revoked: dict[str, str] = {}
    for role in ROLES:
        key = await api.new_key(role, name=f"revoked {role}")
        assert (await api.delete(f"/api/v1/api-keys/{key['id']}")).status_code == 200
        revoked[role] = key["key"]

    wrong: list[str] = []
    for method, path in operator_routes():
        needed = ROLE_MATRIX[(method, path)]
        for role in ROLES:
            response = await call(api.client, method, path, api.auth(role))
            allowed = Role(role).allows(needed)
            ok = response.status_code not in (401, 403) if allowed else response.status_code == 403
            if not ok:
                wrong.append(f"{method} {path} as {role}: {response.status_code} {response.text[:120]}")
            elif not allowed:
                problem(response, 403, "ROLE_INSUFFICIENT")
        for label, headers, code in (
            ("no key", {}, "API_KEY_MISSING"),
            ("basic auth", {"Authorization": "Basic dXNlcjpwYXNz"}, "API_KEY_MISSING"),
            ("bad key", {"Authorization": "Bearer brk_not-a-real-key"}, "API_KEY_INVALID"),
            *(
                (f"revoked {r}", {"Authorization": f"Bearer {k}"}, "API_KEY_REVOKED")
                for r, k in revoked.items()
            ),
        ):
            response = await call(api.client, method, path, headers)
            if response.status_code != 401:
                wrong.append(f"{method} {path} with {label}: {response.status_code}")
                continue
            problem(response, 401, code)
            assert response.headers["www-authenticate"] == "Bearer"
    assert wrong == []


async def test_a_key_keeps_working_until_revoked_and_records_its_use(api: Api) -> None:
    key = await api.new_key("viewer", name="dashboard")
    headers = {"Authorization": f"Bearer {key['key']}"}
    assert (await api.client.get("/api/v1/connections", headers=headers)).status_code == 200
    [listed] = [k for k in (await api.get("/api/v1/api-keys")).json()["items"] if k["id"] == key["id"]]
    assert listed["last_used_at"] is not None
    assert listed["prefix"] == key["key"][:12]
    assert "key" not in listed
    await api.delete(f"/api/v1/api-keys/{key['id']}")
    problem(await api.client.get("/api/v1/connections", headers=headers), 401, "API_KEY_REVOKED")
    active = (await api.get("/api/v1/api-keys")).json()["items"]
    assert key["id"] not in [k["id"] for k in active]
    every = (await api.get("/api/v1/api-keys", params={"include_revoked": "true"})).json()["items"]
    assert key["id"] in [k["id"] for k in every]


async def test_the_bootstrap_admin_key_is_only_accepted_exactly(api: Api) -> None:
    near = api.keys["admin"][:-1] + "X"
    response = await api.client.get("/api/v1/settings", headers={"Authorization": f"Bearer {near}"})
    problem(response, 401, "API_KEY_INVALID")
    assert (await api.get("/api/v1/settings")).status_code == 200


async def test_an_unreachable_database_is_a_503_problem() -> None:
    settings = make_settings("postgresql+asyncpg://postgres@127.0.0.1:9/bridge", admin_api_key=ADMIN_KEY)
    async with running_app(create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        response = await client.get("/api/v1/settings", headers=headers)
        problem(response, 503, "DATABASE_UNAVAILABLE")
        assert response.headers["retry-after"] == "10"
        # a key that needs the database to be checked cannot be, and is not let through
        problem(
            await client.get("/api/v1/settings", headers={"Authorization": "Bearer brk_x"}),
            503,
            "DATABASE_UNAVAILABLE",
        )

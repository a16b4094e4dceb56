"""Issue 13 point 3: bad input is a 4xx problem+json, never a 500.

U+0000 is refused with one code wherever it comes (path, query, JSON body), for every parameter the
OpenAPI lists, so a new route is covered without anybody remembering to. Wrong JSON shapes of a
connection are 422s.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.api.middleware.nul_guard import CODE as NUL_CODE
from app.main import create_app
from tests.api.operator.conftest import SALESFORCE_CRM, Api, problem
from tests.conftest import make_settings

NUL = "a\x00b"


def _operator_parameters() -> list[tuple[str, str, str, str]]:
    """(method, path, where, name) of every path and query parameter of the operator API."""
    spec = create_app(make_settings("sqlite+aiosqlite://")).openapi()
    found = []
    for path, item in spec["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                found.append((method.upper(), path, parameter["in"], parameter["name"]))
    return found


PARAMETERS = _operator_parameters()


def test_the_parameter_list_is_not_empty() -> None:
    names = {(where, name) for _m, _p, where, name in PARAMETERS}
    assert {("query", "id"), ("query", "source_id"), ("query", "type"), ("query", "actor")} <= names
    assert ("path", "connection_id") in names


@pytest.mark.parametrize(("method", "path", "where", "name"), PARAMETERS)
async def test_nul_in_any_parameter_is_a_422(api: Api, method: str, path: str, where: str, name: str) -> None:
    params: dict[str, str] = {}
    url = path
    if where == "path":
        url = path.replace("{" + name + "}", "a%00b")
    else:
        params[name] = NUL
    url = url.replace("{", "").replace("}", "")  # other path parameters: any plain value
    response = await api.client.request(method, url, params=params, headers=api.auth("admin"))
    problem(response, 422, NUL_CODE)


async def test_nul_in_a_json_body_is_a_422_and_an_escaped_backslash_is_not(api: Api) -> None:
    body = {"name": NUL, "platform": "salesforce", "crm": SALESFORCE_CRM}
    problem(await api.post("/api/v1/connections", body), 422, NUL_CODE)
    nested = {"name": "EU", "platform": "salesforce", "crm": SALESFORCE_CRM, "object_names": {"x": [NUL]}}
    problem(await api.post("/api/v1/connections", nested), 422, NUL_CODE)
    problem(await api.post("/api/v1/deliveries/1/discard", {"reason": NUL}), 422, NUL_CODE)
    # the six characters \u0000 as text (a backslash, then u0000) are not a NUL
    literal = {"name": "EU \\u0000 literal", "platform": "salesforce", "crm": SALESFORCE_CRM}
    response = await api.post("/api/v1/connections", literal)
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "EU \\u0000 literal"


async def test_a_cursor_hiding_a_nul_is_refused(api: Api) -> None:
    from app.api.operator.pagination import encode_cursor

    response = await api.get("/api/v1/connections", params={"cursor": encode_cursor([NUL])})
    problem(response, 400, "CURSOR_INVALID")


@pytest.mark.parametrize(
    "crm", [[None, None], None, "salesforce", 5, True, [SALESFORCE_CRM], {"login_url": [1]}]
)
async def test_wrong_crm_shapes_on_create_are_422(api: Api, crm: Any) -> None:
    response = await api.post("/api/v1/connections", {"name": "EU", "platform": "salesforce", "crm": crm})
    problem(response, 422, "VALIDATION_FAILED")


@pytest.mark.parametrize(
    "body",
    [
        [None, None],
        "x",
        {"crm": [None, None]},
        {"crm": "x"},
        {"name": 5},
        {"object_names": [1]},
        {"account_match": "x"},
        {"active": "maybe"},
    ],
)
async def test_wrong_shapes_on_update_are_422(api: Api, body: Any) -> None:
    created = await api.post(
        "/api/v1/connections", {"name": "EU", "platform": "salesforce", "crm": SALESFORCE_CRM}
    )
    assert created.status_code == 201, created.text
    response = await api.patch(f"/api/v1/connections/{created.json()['id']}", body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_unparsable_body_is_a_problem_with_a_stable_code(api: Api) -> None:
    response = await api.client.post(
        "/api/v1/connections",
        content=b'{"name": "\xff\xfe"}',
        headers={**api.auth(), "content-type": "application/json"},
    )
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] in ("BODY_NOT_PARSABLE", "VALIDATION_FAILED")


BEYOND_BIGINT = 2**63  # ids are PostgreSQL BIGINT; one more must be a 422, not a database error


async def test_ids_beyond_bigint_in_a_query_or_a_body_are_422(api: Api) -> None:
    problem(await api.get("/api/v1/deliveries", params={"event_id": BEYOND_BIGINT}), 422, "VALIDATION_FAILED")
    problem(await api.get(f"/api/v1/deliveries/{BEYOND_BIGINT}"), 422, "VALIDATION_FAILED")
    body = {"dry_run": True, "up_to_id": BEYOND_BIGINT}
    problem(await api.post("/api/v1/deliveries/replay", body), 422, "VALIDATION_FAILED")
    assert (await api.get("/api/v1/deliveries", params={"event_id": 2**63 - 1})).status_code == 200


async def test_cursors_never_issued_beyond_bigint_or_without_an_offset_are_refused(api: Api) -> None:
    from app.api.operator.pagination import encode_cursor

    for path in ("/api/v1/deliveries", "/api/v1/events", "/api/v1/audit-log", "/api/v1/transfer-runs"):
        response = await api.get(path, params={"cursor": encode_cursor([BEYOND_BIGINT])})
        problem(response, 400, "CURSOR_INVALID")
    naive = encode_cursor(["2026-11-20T10:00:00", "key_1"])
    problem(await api.get("/api/v1/api-keys", params={"cursor": naive}), 400, "CURSOR_INVALID")


async def test_a_method_not_allowed_names_every_method_the_path_takes(api: Api) -> None:
    response = await api.client.request("OPTIONS", "/api/v1/deliveries/replay")
    problem(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "POST"  # not GET: "replay" is no delivery id
    response = await api.client.request("PUT", "/api/v1/connections")
    assert response.headers["allow"] == "GET, POST"

"""The OAuth 2.0 JWT bearer flow as Salesforce checks it: signature by the connected app's certificate,
iss/sub/aud/exp, and the platform's OAuth errors. Assertions are signed with PyJWT, an independent judge."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest

from app.simulators.salesforce import SalesforceState
from app.simulators.salesforce.state import API_USERNAME
from tests.jwt_keys import key_pair
from tests.simulators.salesforce.conftest import FakeClock, V

GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_CLIENT = "3MVG9-jwt-consumer-key"


@pytest.fixture(autouse=True)
def jwt_app(state: SalesforceState) -> None:
    state.register_jwt_client(JWT_CLIENT, key_pair().certificate)


def assertion(clock: FakeClock, *, key: str | None = None, **claims: Any) -> str:
    body = {
        "iss": JWT_CLIENT,
        "sub": API_USERNAME,
        "aud": "https://login.salesforce.com",
        "exp": int(clock.now.timestamp()) + 180,
        **claims,
    }
    return jwt.encode(
        {k: v for k, v in body.items() if v is not None}, key or key_pair().private_key, "RS256"
    )


async def post(anon: httpx.AsyncClient, token: str) -> httpx.Response:
    return await anon.post("/services/oauth2/token", data={"grant_type": GRANT, "assertion": token})


async def test_a_valid_assertion_gets_a_session_for_its_user(
    anon: httpx.AsyncClient, state: SalesforceState, clock: FakeClock
) -> None:
    response = await post(anon, assertion(clock))

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "scope", "instance_url", "id", "token_type"}
    assert body["id"] == f"https://login.salesforce.com/id/{state.org_id}/{state.api_user_id}"
    accounts = await anon.get(
        f"{V}/query", params={"q": "SELECT Id FROM Account"},
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )  # fmt: skip
    assert accounts.status_code == 200


async def test_a_sandbox_org_wants_the_sandbox_audience(
    anon: httpx.AsyncClient, state: SalesforceState, clock: FakeClock
) -> None:
    state.login_url = "https://test.salesforce.com"
    assert (await post(anon, assertion(clock))).json() == {
        "error": "invalid_grant",
        "error_description": "audience is invalid",
    }
    assert (await post(anon, assertion(clock, aud="https://test.salesforce.com"))).status_code == 200


@pytest.mark.parametrize(
    ("claims", "error", "description"),
    [
        ({"key": key_pair("intruder").private_key}, "invalid_grant", "invalid assertion"),
        ({"aud": "https://acme.my.salesforce.com"}, "invalid_grant", "audience is invalid"),
        ({"exp": 0}, "invalid_grant", "expired authorization code"),
        ({"exp": None}, "invalid_grant", "expired authorization code"),
        ({"sub": "someone@example.com"}, "invalid_grant", "user hasn't approved this consumer"),
        ({"iss": "3MVG9-unknown"}, "invalid_client_id", "client identifier invalid"),
    ],
)
async def test_refusals_have_the_platform_shape(
    anon: httpx.AsyncClient, clock: FakeClock, claims: dict[str, Any], error: str, description: str
) -> None:
    response = await post(anon, assertion(clock, **claims))

    assert response.status_code == 400
    assert response.json() == {"error": error, "error_description": description}


async def test_an_assertion_past_its_exp_is_refused(anon: httpx.AsyncClient, clock: FakeClock) -> None:
    token = assertion(clock)
    clock.advance(minutes=4)
    assert (await post(anon, token)).json()["error_description"] == "expired authorization code"


async def test_a_tampered_or_unsigned_assertion_is_invalid(anon: httpx.AsyncClient, clock: FakeClock) -> None:
    header, _, signature = assertion(clock).split(".")
    other_claims = assertion(clock, sub="someone@example.com").split(".")[1]
    unsigned = jwt.encode({"iss": JWT_CLIENT, "sub": API_USERNAME}, key=None, algorithm="none")
    for token in (f"{header}.{other_claims}.{signature}", unsigned, "not-a-jwt", ""):
        response = await post(anon, token)
        assert response.status_code == 400
        assert response.json()["error"] in ("invalid_grant", "invalid_request"), token


async def test_a_connected_app_is_registered_with_its_certificate(
    anon: httpx.AsyncClient, clock: FakeClock
) -> None:
    pair = key_pair("admin-route")
    body = {"client_id": "3MVG9-by-route", "certificate": pair.certificate}
    assert (await anon.put("/_sim/jwt-clients", json=body)).status_code == 204
    token = assertion(clock, iss="3MVG9-by-route", key=pair.private_key)
    assert (await post(anon, token)).status_code == 200
    refused = await anon.put("/_sim/jwt-clients", json={**body, "certificate": "not a certificate"})
    assert refused.status_code == 422

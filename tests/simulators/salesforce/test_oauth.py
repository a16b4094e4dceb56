"""OAuth 2.0 client credentials and sessions: what a client must handle to stay logged in."""

from __future__ import annotations

import base64
import hashlib
import hmac

import httpx
import pytest

from app.simulators.salesforce import SalesforceState
from tests.simulators.salesforce.conftest import CLIENT_ID, CLIENT_SECRET, FakeClock, V, fetch_token

SESSION_EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


async def test_token_response_has_the_platform_shape(anon: httpx.AsyncClient, state: SalesforceState) -> None:
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    response = await anon.post("/services/oauth2/token", data=form)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"}
    assert body["token_type"] == "Bearer"
    assert body["instance_url"] == "https://org.sim.test"
    assert body["id"] == f"https://login.salesforce.com/id/{state.org_id}/{state.api_user_id}"
    assert body["issued_at"] == str(int(state.clock().timestamp() * 1000))
    expected = hmac.new(CLIENT_SECRET.encode(), (body["id"] + body["issued_at"]).encode(), hashlib.sha256)
    assert body["signature"] == base64.b64encode(expected.digest()).decode()


async def test_basic_auth_credentials_are_accepted(anon: httpx.AsyncClient) -> None:
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    response = await anon.post(
        "/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200
    assert response.json()["access_token"]


async def test_configured_instance_url_wins(anon: httpx.AsyncClient, state: SalesforceState) -> None:
    state.instance_url = "https://acme.my.salesforce.com"
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    response = await anon.post("/services/oauth2/token", data=form)
    assert response.json()["instance_url"] == "https://acme.my.salesforce.com"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        (
            {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "wrong"},
            "invalid_client",
        ),
        (
            {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"},
            "invalid_client_id",
        ),
        (
            {"grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            "unsupported_grant_type",
        ),
        ({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, "invalid_request"),
    ],
)
async def test_bad_token_requests_answer_oauth_errors(
    anon: httpx.AsyncClient, form: dict[str, str], error: str
) -> None:
    response = await anon.post("/services/oauth2/token", data=form)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]


async def test_registered_client_can_log_in(anon: httpx.AsyncClient, state: SalesforceState) -> None:
    state.register_client("second-app", "s3cret")
    form = {"grant_type": "client_credentials", "client_id": "second-app", "client_secret": "s3cret"}
    assert (await anon.post("/services/oauth2/token", data=form)).status_code == 200


async def test_calls_without_a_valid_session_are_refused(
    anon: httpx.AsyncClient, state: SalesforceState
) -> None:
    missing = await anon.get(f"{V}/sobjects/Account/describe")
    forged = await anon.get(
        f"{V}/sobjects/Account/describe", headers={"Authorization": "Bearer 00Dxx!forged"}
    )
    for response in (missing, forged):
        assert response.status_code == 401
        assert response.json() == SESSION_EXPIRED
        assert "Sforce-Limit-Info" not in response.headers
    assert state.api_usage == 0


async def test_sessions_expire_after_their_lifetime(api: httpx.AsyncClient, clock: FakeClock) -> None:
    assert (await api.get(f"{V}/sobjects/Account/describe")).status_code == 200
    clock.advance(seconds=7200)
    response = await api.get(f"{V}/sobjects/Account/describe")
    assert response.status_code == 401
    assert response.json() == SESSION_EXPIRED


async def test_forced_expiry_ends_sessions_and_a_new_token_works(
    api: httpx.AsyncClient, state: SalesforceState
) -> None:
    assert state.expire_tokens() == 1
    assert (await api.get(f"{V}/sobjects/Account/describe")).status_code == 401
    api.headers["Authorization"] = f"Bearer {await fetch_token(api)}"
    assert (await api.get(f"{V}/sobjects/Account/describe")).status_code == 200


async def test_old_oauth_scheme_is_accepted(api: httpx.AsyncClient) -> None:
    token = api.headers["Authorization"].removeprefix("Bearer ")
    response = await api.get(f"{V}/sobjects/Account/describe", headers={"Authorization": f"OAuth {token}"})
    assert response.status_code == 200


async def test_token_requests_are_logged_with_the_client(
    anon: httpx.AsyncClient, state: SalesforceState
) -> None:
    await fetch_token(anon)
    call = state.calls.calls[-1]
    assert (call.method, call.path, call.status, call.client_id) == (
        "POST",
        "/services/oauth2/token",
        200,
        CLIENT_ID,
    )

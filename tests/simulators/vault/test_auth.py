"""Login, sessions (Bearer or bare), idle and forced expiry, and API version checks."""

from __future__ import annotations

from tests.simulators.vault.conftest import API_USER, Clock, V, Vault


async def test_login_returns_session_user_and_vault_id(vault: Vault) -> None:
    body = (await vault.login()).json()

    assert body["responseStatus"] == "SUCCESS"
    assert len(body["sessionId"]) >= 64
    assert body["userId"] == vault.state.user_id(API_USER)
    assert body["vaultId"] == vault.state.config.vault_id
    assert [v["id"] for v in body["vaultIds"]] == [vault.state.config.vault_id]


async def test_wrong_password_is_a_failure_with_http_200(vault: Vault) -> None:
    response = await vault.client.post(f"/api/{V}/auth", data={"username": API_USER, "password": "wrong"})

    assert response.status_code == 200
    body = response.json()
    assert body["responseStatus"] == "FAILURE"
    assert body["errors"][0]["type"] == "USERNAME_OR_PASSWORD_INCORRECT"
    assert "sessionId" not in body


async def test_unknown_user_and_missing_password(vault: Vault) -> None:
    unknown = await vault.client.post(f"/api/{V}/auth", data={"username": "nobody@x", "password": "p"})
    missing = await vault.client.post(f"/api/{V}/auth", data={"username": API_USER})

    assert unknown.json()["errors"][0]["type"] == "USERNAME_OR_PASSWORD_INCORRECT"
    assert missing.json()["errors"][0]["type"] == "NO_PASSWORD_PROVIDED"


async def test_login_accepts_multipart_form(vault: Vault) -> None:
    response = await vault.client.post(
        f"/api/{V}/auth", files={"username": (None, API_USER), "password": (None, "integration-password")}
    )

    assert response.json()["responseStatus"] == "SUCCESS"


async def test_bearer_and_bare_session_headers_both_work(vault: Vault) -> None:
    for header in (f"Bearer {vault.session_id}", vault.session_id):
        response = await vault.client.get(f"/api/{V}/metadata/vobjects", headers={"Authorization": header})
        assert response.json()["responseStatus"] == "SUCCESS"


async def test_unknown_or_missing_session_is_invalid_session_id_with_http_200(vault: Vault) -> None:
    for headers in ({"Authorization": "Bearer NOT-A-SESSION"}, {}):
        response = await vault.client.get(f"/api/{V}/metadata/vobjects", headers=headers)
        assert response.status_code == 200
        assert response.json() == {
            "responseStatus": "FAILURE",
            "errors": [{"type": "INVALID_SESSION_ID", "message": "Invalid or expired session ID."}],
        }


async def test_session_expires_after_idle_timeout_and_activity_keeps_it_alive(
    clocked_vault: Vault, clock: Clock
) -> None:
    vault = clocked_vault
    vault.state.config.session_idle_timeout_seconds = 60

    clock.advance(seconds=50)
    assert (await vault.get("/metadata/vobjects"))["responseStatus"] == "SUCCESS"
    clock.advance(seconds=50)  # 100 s since login, but only 50 s idle
    assert (await vault.get("/metadata/vobjects"))["responseStatus"] == "SUCCESS"
    clock.advance(seconds=61)
    expired = await vault.get("/metadata/vobjects")

    assert expired["errors"][0]["type"] == "INVALID_SESSION_ID"
    assert (await vault.login()).json()["responseStatus"] == "SUCCESS"  # re-login is the remedy
    assert (await vault.get("/metadata/vobjects"))["responseStatus"] == "SUCCESS"


async def test_forced_expiry_over_http_ends_every_session(vault: Vault) -> None:
    response = await vault.client.post("/_sim/sessions/expire")

    assert response.json() == {"expired": 1}
    assert (await vault.get("/metadata/vobjects"))["errors"][0]["type"] == "INVALID_SESSION_ID"


async def test_forced_expiry_in_process_for_one_user(vault: Vault) -> None:
    other = vault.state.user_id(API_USER)
    assert other is not None

    assert vault.state.expire_sessions(user_id=other + 999) == 0
    assert vault.state.expire_sessions(user_id=other) == 1
    assert (await vault.get("/metadata/vobjects"))["errors"][0]["type"] == "INVALID_SESSION_ID"


async def test_unsupported_api_version_fails(vault: Vault) -> None:
    too_new = await vault.client.get("/api/v99.1/metadata/vobjects", headers=vault.auth)
    too_old = await vault.client.post("/api/v8.0/auth", data={"username": API_USER, "password": "x"})

    assert too_new.json()["errors"][0]["type"] == "METHOD_NOT_SUPPORTED"
    assert too_old.json()["errors"][0]["type"] == "METHOD_NOT_SUPPORTED"


async def test_unknown_api_path_is_malformed_url(vault: Vault) -> None:
    response = await vault.client.get(f"/api/{V}/no/such/thing", headers=vault.auth)

    assert response.status_code == 404
    assert response.json()["errors"][0]["type"] == "MALFORMED_URL"


async def test_api_versions_need_a_session_and_list_each_served_version(vault: Vault) -> None:
    vault.state.config.min_api_version, vault.state.config.api_version = "v24.2", "v25.3"

    without = await vault.client.get("/api")
    listed = await vault.client.get("/api/", headers=vault.auth)

    assert without.status_code == 200
    assert without.json()["errors"][0]["type"] == "INVALID_SESSION_ID"
    assert listed.json() == {
        "responseStatus": "SUCCESS",
        "values": {v: f"http://vault.test/api/{v}" for v in ("v24.2", "v24.3", "v25.1", "v25.2", "v25.3")},
    }
    assert [c.path for c in vault.state.calls.matching("GET")] == ["/api", "/api/"]  # logged like any call


async def test_auth_type_discovery(vault: Vault) -> None:
    known = await vault.client.post("/auth/discovery", params={"username": API_USER})
    unknown = await vault.client.post("/auth/discovery", params={"username": "nobody@x"})
    missing = await vault.client.post("/auth/discovery")

    assert known.json()["data"] == {"auth_type": "password", "auth_profiles": []}
    assert unknown.json()["errors"][0]["type"] == "INVALID_DATA"
    assert missing.json()["errors"][0]["type"] == "PARAMETER_REQUIRED"


async def test_end_session_ends_only_that_session(vault: Vault) -> None:
    first = vault.session_id
    await vault.login()
    second = vault.session_id

    ended = await vault.client.delete(f"/api/{V}/session", headers={"Authorization": first})
    me = await vault.client.get(f"/api/{V}/objects/users/me", headers={"Authorization": second})

    assert ended.json() == {"responseStatus": "SUCCESS"}
    assert vault.state.session(first) is None
    assert me.json()["users"][0]["user"]["user_name__v"] == API_USER

"""Connections: secrets write-only and encrypted at rest, checked settings, rotation, deletion, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.crypto import SecretBox
from app.models import AccountMatch
from app.repositories import throttle_gates
from app.signing import generate_secret
from tests.api.operator.conftest import SALESFORCE_CRM, Api, add_delivery, connection_body, problem
from tests.conftest import TEST_SECRET_KEY
from tests.factories import crm_call_event, signed
from tests.jwt_keys import key_pair


async def raw_connection(engine: AsyncEngine, connection_id: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (
            (await conn.execute(text("SELECT * FROM connections WHERE id = :id"), {"id": connection_id}))
            .mappings()
            .one()
        )
    return dict(row)


async def post_call(api: Api, connection_id: str, secret: str) -> int:
    body, headers = signed(secret, crm_call_event())
    return (
        await api.client.post(f"/webhooks/crm/{connection_id}", content=body, headers=headers)
    ).status_code


async def add_matches(engine: AsyncEngine, *connection_ids: str) -> None:
    async with AsyncSession(engine) as session:
        for i, connection_id in enumerate(connection_ids):
            session.add(
                AccountMatch(
                    connection_id=connection_id,
                    person_id=f"V0P{i}",
                    identifier_value="HCP-1",
                    account_id="001A",
                )
            )
        await session.commit()


async def matches_of(engine: AsyncEngine, connection_id: str) -> int:
    async with engine.connect() as conn:
        query = text("SELECT count(*) FROM account_matches WHERE connection_id = :c")
        return int((await conn.execute(query, {"c": connection_id})).scalar_one())


async def test_create_shows_a_generated_webhook_secret_once_and_never_a_credential(
    api: Api, clean_db: AsyncEngine
) -> None:
    response = await api.post("/api/v1/connections", connection_body(name="EU Medical CRM"))
    assert response.status_code == 201, response.text
    created = response.json()
    secret = created["webhook_secret"]
    assert secret.startswith("whsec_")
    assert created["crm"] == {
        "login_url": "https://mycompany.my.salesforce.com",
        "auth": "client_credentials",
        "client_id": "3MVG9-test-client",
        "api_version": "v62.0",
    }
    assert created["credentials_set"] == ["client_secret"]
    assert (created["webhook_secret_count"], created["active"]) == (1, False)

    shown = await api.get(f"/api/v1/connections/{created['id']}", role="viewer")
    assert shown.status_code == 200
    assert "webhook_secret" not in shown.json()
    assert SALESFORCE_CRM["client_secret"] not in shown.text
    assert secret not in shown.text

    row = await raw_connection(clean_db, created["id"])
    stored = " ".join(str(v) for v in row.values())
    assert SALESFORCE_CRM["client_secret"] not in stored
    assert secret not in stored
    box = SecretBox(TEST_SECRET_KEY)
    assert box.open(row["secrets_encrypted"]) == {"client_secret": SALESFORCE_CRM["client_secret"]}
    assert box.open(row["webhook_secrets_encrypted"]) == [secret]


async def test_the_generated_secret_verifies_webhooks_once_the_connection_is_active(api: Api) -> None:
    created = (await api.post("/api/v1/connections", connection_body())).json()
    connection_id, secret = created["id"], created["webhook_secret"]
    assert await post_call(api, connection_id, secret) == 404  # inactive connections take no webhooks
    assert (await api.post(f"/api/v1/connections/{connection_id}/activate")).json()["active"] is True
    assert await post_call(api, connection_id, secret) == 202
    assert await post_call(api, connection_id, generate_secret()) == 401
    await api.post(f"/api/v1/connections/{connection_id}/deactivate")
    assert await post_call(api, connection_id, secret) == 404


async def test_a_given_webhook_secret_is_kept_and_not_echoed(api: Api) -> None:
    mine = generate_secret()
    created = (
        await api.post("/api/v1/connections", connection_body(webhook_secret=mine, active=True))
    ).json()
    assert created["webhook_secret"] is None
    assert await post_call(api, created["id"], mine) == 202
    bad = await api.post("/api/v1/connections", connection_body(webhook_secret="not-a-secret"))
    problem(bad, 422, "WEBHOOK_SECRET_INVALID")


async def test_object_names_and_account_match_are_checked_key_by_key(api: Api) -> None:
    typo = connection_body(object_names={"interaction": {"fields": {"subjct": "Subject__c"}}})
    body = problem(await api.post("/api/v1/connections", typo), 422, "INVALID_OBJECT_NAMES")
    assert ["object_names", "interaction", "fields", "subjct"] in [e["loc"] for e in body["errors"]]
    bad_value = connection_body(object_names={"interaction": {"object": "not a name!"}})
    problem(await api.post("/api/v1/connections", bad_value), 422, "INVALID_OBJECT_NAMES")
    pair = connection_body(account_match={"ctms_person_field": "external_id__v"})
    body = problem(await api.post("/api/v1/connections", pair), 422, "INVALID_ACCOUNT_MATCH")
    assert ["account_match", "crm_account_field"] in [e["loc"] for e in body["errors"]]
    good = connection_body(
        object_names={"interaction": {"fields": {"subject": "Subject_Line__c"}}},
        account_match={"ctms_person_field": "npi__c", "crm_account_field": "NPI_vod__c"},
    )
    created = await api.post("/api/v1/connections", good)
    assert created.status_code == 201, created.text
    assert created.json()["account_match"] == {
        "ctms_person_field": "npi__c",
        "crm_account_field": "NPI_vod__c",
    }


async def test_crm_settings_must_fit_the_platform(api: Api) -> None:
    no_secret = connection_body(crm={"login_url": "https://mycompany.my.salesforce.com", "client_id": "x"})
    problem(await api.post("/api/v1/connections", no_secret), 422, "VALIDATION_FAILED")
    vault_crm = {"vault_url": "https://crm.veevavault.com", "username": "u@example.com", "password": "pw-1"}
    problem(await api.post("/api/v1/connections", connection_body(crm=vault_crm)), 422, "VALIDATION_FAILED")
    created = await api.post("/api/v1/connections", connection_body(platform="vault", crm=vault_crm))
    assert created.status_code == 201, created.text
    assert created.json()["crm"] == {
        "vault_url": "https://crm.veevavault.com",
        "username": "u@example.com",
        "vault_id": None,
        "api_version": "v25.2",
    }
    assert created.json()["credentials_set"] == ["password"]


@pytest.mark.parametrize("shared", ["https://login.salesforce.com", "https://test.salesforce.com/"])
async def test_client_credentials_need_the_my_domain_url(api: Api, shared: str) -> None:
    crm = {**SALESFORCE_CRM, "login_url": shared}
    body = problem(await api.post("/api/v1/connections", connection_body(crm=crm)), 422, "MY_DOMAIN_REQUIRED")
    assert "My Domain" in body["detail"]
    assert "https://<mydomain>.my.salesforce.com" in body["detail"]
    assert body["errors"][0]["loc"] == ["crm", "login_url"]
    created = (await api.post("/api/v1/connections", connection_body())).json()
    changed = await api.patch(f"/api/v1/connections/{created['id']}", {"crm": {"login_url": shared}})
    problem(changed, 422, "MY_DOMAIN_REQUIRED")
    # The simulators (and any My Domain) are fine.
    for url in ("http://127.0.0.1:8102", "https://acme--uat.sandbox.my.salesforce.com"):
        crm = {**SALESFORCE_CRM, "login_url": url}
        assert (await api.post("/api/v1/connections", connection_body(crm=crm))).status_code == 201


JWT_CRM = {
    "login_url": "https://login.salesforce.com",  # the JWT bearer flow may sign in there
    "auth": "jwt_bearer",
    "client_id": "3MVG9-jwt-consumer-key",
    "username": "integration@example.com",
}


async def test_a_jwt_bearer_connection_keeps_its_private_key_write_only(
    api: Api, clean_db: AsyncEngine
) -> None:
    private_key = key_pair().private_key
    response = await api.post(
        "/api/v1/connections", connection_body(crm={**JWT_CRM, "private_key": private_key})
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["crm"] == {**JWT_CRM, "api_version": "v62.0"}
    assert created["credentials_set"] == ["private_key"]
    key_line = private_key.splitlines()[1]
    assert key_line not in response.text
    row = await raw_connection(clean_db, created["id"])
    assert key_line not in " ".join(str(v) for v in row.values())  # encrypted at rest
    assert SecretBox(TEST_SECRET_KEY).open(row["secrets_encrypted"]) == {"private_key": private_key}
    # Back to client credentials: the key is dropped with the flow, and My Domain is asked for again.
    back = {"auth": "client_credentials", "client_secret": "s3cret-value"}
    problem(await api.patch(f"/api/v1/connections/{created['id']}", {"crm": back}), 422, "MY_DOMAIN_REQUIRED")
    back["login_url"] = "https://mycompany.my.salesforce.com"
    changed = await api.patch(f"/api/v1/connections/{created['id']}", {"crm": back})
    assert changed.json()["credentials_set"] == ["client_secret"]
    assert "username" not in changed.json()["crm"]


@pytest.mark.parametrize(
    ("crm", "loc"),
    [
        (JWT_CRM, ["body", "crm", "salesforce", "private_key"]),  # "Field required"
        ({**JWT_CRM, "private_key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"},
         ["body", "crm", "salesforce", "private_key"]),
        ({**SALESFORCE_CRM, "auth": "password"}, ["body", "crm", "salesforce", "auth"]),
        ({**JWT_CRM, "private_key": key_pair().private_key, "audience": "login.salesforce.com"},
         ["body", "crm", "salesforce", "audience"]),
    ],
)  # fmt: skip
async def test_jwt_bearer_settings_are_checked(api: Api, crm: dict[str, Any], loc: list[str]) -> None:
    body = problem(await api.post("/api/v1/connections", connection_body(crm=crm)), 422, "VALIDATION_FAILED")
    assert [e["loc"] for e in body["errors"]] == [loc]
    assert "nope" not in str(body)


async def test_names_are_unique(api: Api) -> None:
    first = (await api.post("/api/v1/connections", connection_body(name="Only one"))).json()
    problem(
        await api.post("/api/v1/connections", connection_body(name="Only one")), 409, "CONNECTION_NAME_TAKEN"
    )
    other = (await api.post("/api/v1/connections", connection_body(name="Another"))).json()
    response = await api.patch(f"/api/v1/connections/{other['id']}", {"name": "Only one"})
    problem(response, 409, "CONNECTION_NAME_TAKEN")
    assert (await api.get(f"/api/v1/connections/{first['id']}")).json()["name"] == "Only one"


async def test_update_merges_crm_keys_and_replaces_the_secret_it_names(
    api: Api, clean_db: AsyncEngine
) -> None:
    created = (await api.post("/api/v1/connections", connection_body())).json()
    response = await api.patch(
        f"/api/v1/connections/{created['id']}", {"crm": {"client_secret": "rotated-secret-2"}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["crm"]["client_id"] == "3MVG9-test-client"
    assert "rotated-secret-2" not in response.text
    row = await raw_connection(clean_db, created["id"])
    assert SecretBox(TEST_SECRET_KEY).open(row["secrets_encrypted"]) == {"client_secret": "rotated-secret-2"}
    bad = await api.patch(f"/api/v1/connections/{created['id']}", {"crm": {"login_url": "ftp://nope"}})
    body = problem(bad, 422, "CRM_SETTINGS_INVALID")
    assert ["crm", "login_url"] in [e["loc"] for e in body["errors"]]
    problem(
        await api.patch(f"/api/v1/connections/{created['id']}", {"platform": "vault"}),
        422,
        "VALIDATION_FAILED",
    )
    problem(await api.patch("/api/v1/connections/conn_missing", {"name": "x"}), 404, "CONNECTION_NOT_FOUND")


async def test_the_calls_sent_flag_is_set_per_connection(api: Api, clean_db: AsyncEngine) -> None:
    created = (await api.post("/api/v1/connections", connection_body())).json()
    flag = {"call": {"fields": {"sent_to_vault": "Sent_To_Clinical__c"}}}

    response = await api.patch(f"/api/v1/connections/{created['id']}", {"object_names": flag})

    assert response.status_code == 200, response.text
    assert response.json()["object_names"] == flag
    assert (await raw_connection(clean_db, created["id"]))["object_names"] == flag
    bad = {"object_names": {"call": {"fields": {"sent_to_vault": "Sent to Clinical"}}}}
    body = problem(await api.patch(f"/api/v1/connections/{created['id']}", bad), 422, "INVALID_OBJECT_NAMES")
    assert ["object_names", "call", "fields", "sent_to_vault"] in [e["loc"] for e in body["errors"]]


async def test_a_new_account_identifier_forgets_only_that_connections_matches(
    api: Api, clean_db: AsyncEngine
) -> None:
    changed = (await api.post("/api/v1/connections", connection_body())).json()["id"]
    untouched = (await api.post("/api/v1/connections", connection_body())).json()["id"]
    await add_matches(clean_db, changed, untouched)
    await api.patch(f"/api/v1/connections/{changed}", {"sync_studies_and_sites": False})
    assert await matches_of(clean_db, changed) == 1  # same identifier: the cache stays
    pair = {"ctms_person_field": "npi__c", "crm_account_field": "NPI_vod__c"}
    response = await api.patch(f"/api/v1/connections/{changed}", {"account_match": pair})
    assert response.json()["account_match"] == pair
    assert (await matches_of(clean_db, changed), await matches_of(clean_db, untouched)) == (0, 1)


async def test_webhook_secret_rotation_keeps_both_until_the_old_is_retired(api: Api) -> None:
    created = (await api.post("/api/v1/connections", connection_body(active=True))).json()
    connection_id, old = created["id"], created["webhook_secret"]
    added = await api.post(f"/api/v1/connections/{connection_id}/webhook-secrets")
    assert added.status_code == 201, added.text
    new = added.json()["webhook_secret"]
    assert new.startswith("whsec_")
    assert new != old
    assert added.json()["connection"]["webhook_secret_count"] == 2
    assert (await post_call(api, connection_id, old), await post_call(api, connection_id, new)) == (202, 202)
    retired = await api.delete(f"/api/v1/connections/{connection_id}/webhook-secrets/previous")
    assert retired.json()["webhook_secret_count"] == 1
    assert (await post_call(api, connection_id, old), await post_call(api, connection_id, new)) == (401, 202)
    replaced = generate_secret()
    await api.patch(f"/api/v1/connections/{connection_id}", {"webhook_secret": replaced})
    assert (await post_call(api, connection_id, new), await post_call(api, connection_id, replaced)) == (
        401,
        202,
    )


async def test_delete_needs_an_inactive_connection_and_discards_its_waiting_work(
    api: Api, clean_db: AsyncEngine
) -> None:
    created = (await api.post("/api/v1/connections", connection_body(active=True))).json()
    connection_id = created["id"]
    waiting = await add_delivery(clean_db, connection_id=connection_id, status="pending")
    dead = await add_delivery(clean_db, connection_id=connection_id, status="dead")
    problem(await api.delete(f"/api/v1/connections/{connection_id}"), 409, "CONNECTION_ACTIVE")
    await api.post(f"/api/v1/connections/{connection_id}/deactivate")
    response = await api.delete(f"/api/v1/connections/{connection_id}")
    assert response.json() == {"id": connection_id, "deleted": True, "deliveries_discarded": 1}
    problem(await api.get(f"/api/v1/connections/{connection_id}"), 404, "CONNECTION_NOT_FOUND")
    assert (await api.get(f"/api/v1/deliveries/{waiting}")).json()["status"] == "discarded"
    assert (await api.get(f"/api/v1/deliveries/{dead}")).json()["status"] == "dead"


async def test_every_change_is_audited_with_its_actor(api: Api) -> None:
    key = await api.new_key("admin", name="change board")
    headers = {"Authorization": f"Bearer {key['key']}"}
    created = (await api.client.post("/api/v1/connections", json=connection_body(), headers=headers)).json()
    connection_id = created["id"]
    await api.client.patch(
        f"/api/v1/connections/{connection_id}", json={"sync_studies_and_sites": False}, headers=headers
    )
    await api.post(f"/api/v1/connections/{connection_id}/activate")
    await api.post(f"/api/v1/connections/{connection_id}/activate")  # no change, no entry
    entries = (
        await api.get("/api/v1/audit-log", role="viewer", params={"resource_id": connection_id})
    ).json()["items"]
    assert [e["action"] for e in entries] == ["connection.activate", "connection.update", "connection.create"]
    assert entries[2]["actor"] == f"api-key:{key['id']} (change board)"
    assert entries[0]["actor"] == "bootstrap-admin"
    assert (
        entries[1]["before"]["sync_studies_and_sites"],
        entries[1]["after"]["sync_studies_and_sites"],
    ) == (True, False)


async def test_a_paused_org_shows_until_when_no_worker_calls_it(api: Api, clean_db: AsyncEngine) -> None:
    created = (await api.post("/api/v1/connections", connection_body(name="Paused CRM"))).json()
    other = (await api.post("/api/v1/connections", connection_body(name="Other CRM"))).json()
    assert (await api.get(f"/api/v1/connections/{created['id']}")).json()["throttled_until"] is None
    until = datetime.now(UTC) + timedelta(seconds=30)
    async with AsyncSession(clean_db) as session, session.begin():
        await throttle_gates.raise_gate(session, f"crm:{created['id']}", until, "REQUEST_LIMIT_EXCEEDED")
        await throttle_gates.raise_gate(
            session, f"crm:{other['id']}", until - timedelta(minutes=5), "HTTP_429"
        )

    shown = (await api.get(f"/api/v1/connections/{created['id']}")).json()["throttled_until"]
    assert datetime.fromisoformat(shown) == until
    listed = {c["id"]: c["throttled_until"] for c in (await api.get("/api/v1/connections")).json()["items"]}
    assert listed[created["id"]] == shown
    assert listed[other["id"]] is None  # its pause is over


async def test_an_operator_can_forget_a_connections_cached_account_matches(
    api: Api, clean_db: AsyncEngine
) -> None:
    kept = (await api.post("/api/v1/connections", connection_body(name="Kept"))).json()["id"]
    cleared = (await api.post("/api/v1/connections", connection_body(name="Re-keyed"))).json()["id"]
    await add_matches(clean_db, cleared, cleared, kept)

    answer = await api.delete(f"/api/v1/connections/{cleared}/account-matches", role="operator")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"connection_id": cleared, "dropped": 2}
    assert (await matches_of(clean_db, cleared), await matches_of(clean_db, kept)) == (0, 1)
    [entry] = (
        await api.get("/api/v1/audit-log", params={"action": "connection.forget_account_matches"})
    ).json()["items"]
    assert (entry["resource_id"], entry["after"]) == (cleared, {"dropped": 2})
    problem(
        await api.delete(f"/api/v1/connections/{cleared}/account-matches", role="viewer"),
        403,
        "ROLE_INSUFFICIENT",
    )
    problem(await api.delete("/api/v1/connections/conn_nope/account-matches"), 404, "CONNECTION_NOT_FOUND")

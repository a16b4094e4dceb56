"""SalesforceClient against the Salesforce simulator: OAuth, collection upserts, limits, the error taxonomy."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography import x509

from app.clients.errors import AuthError, PermanentError, TransientError
from app.clients.salesforce import SalesforceClient, SalesforceCredentials, _record_result
from app.clients.throttle import LocalGate, ThrottledError
from app.simulators.common.faults import FaultSettings
from app.simulators.salesforce import SalesforceState
from app.simulators.salesforce.formats import id_suffix
from app.simulators.salesforce.state import API_USERNAME
from tests.clients.conftest import (
    SF_INSTANCE_URL,
    SF_LOGIN_URL,
    TOKEN_PATH,
    Clock,
    Rig,
    api_calls,
    sf_credentials,
)
from tests.jwt_keys import key_pair

VCI = "Vault_Clinical_Interaction_vod__c"
VCI_KEY = "Vault_Activity_ID_vod__c"


def account(state: SalesforceState, identifier: str, last_name: str = "Silva") -> str:
    record = state.create_record(
        "Account", {"FirstName": "Ana", "LastName": last_name, "External_ID_vod__c": identifier}
    )
    return str(record["Id"])


def interaction(activity_id: str, **fields: Any) -> dict[str, Any]:
    return {VCI_KEY: activity_id, **fields}


def host(url: str) -> str:
    return url.split("://", 1)[1]


# ---- OAuth --------------------------------------------------------------------------------------------------


async def test_token_is_fetched_once_and_data_calls_go_to_the_instance_url(
    sf_client: SalesforceClient, sf_rig: Rig, sf_state: SalesforceState
) -> None:
    account(sf_state, "HCP-1")

    await sf_client.query("SELECT Id FROM Account")
    await sf_client.describe("Account")
    await sf_client.upsert(VCI, VCI_KEY, [interaction("V-1")])

    assert len(api_calls(sf_state, TOKEN_PATH)) == 1
    [token_call, *data_calls] = sf_rig.requests
    assert token_call.url.host == host(SF_LOGIN_URL)
    assert token_call.url.path == TOKEN_PATH
    assert len(data_calls) == 3
    assert {r.url.host for r in data_calls} == {host(SF_INSTANCE_URL)}
    assert len({r.headers["authorization"] for r in data_calls}) == 1


@pytest.mark.parametrize(
    ("overrides", "code"),
    [({"client_id": "3MVG9-unknown"}, "INVALID_CLIENT_ID"), ({"client_secret": "wrong"}, "INVALID_CLIENT")],
)
async def test_a_refused_client_is_an_auth_error(
    sf_rig: Rig, sf_state: SalesforceState, overrides: dict[str, str], code: str
) -> None:
    client = SalesforceClient(sf_rig.http, sf_credentials(**overrides))

    with pytest.raises(AuthError) as caught:
        await client.query("SELECT Id FROM Account")

    assert (caught.value.code, caught.value.http_status) == (code, 400)
    assert api_calls(sf_state) == [TOKEN_PATH]  # no data call without a token


async def test_an_expired_token_is_refreshed_once_and_the_write_resent(
    sf_client: SalesforceClient, sf_rig: Rig, sf_state: SalesforceState
) -> None:
    await sf_client.describe(VCI)
    assert sf_state.expire_tokens() == 1

    result = await sf_client.upsert(VCI, VCI_KEY, [interaction("V-1", Subject_vod__c="s")])

    assert [(r.ok, r.created) for r in result.results] == [(True, True)]
    assert len(api_calls(sf_state, TOKEN_PATH)) == 2
    attempts = sf_rig.sent(f"/composite/sobjects/{VCI}/{VCI_KEY}")
    assert len(attempts) == 2  # 401 INVALID_SESSION_ID, then the same request under the new token
    assert attempts[0].headers["authorization"] != attempts[1].headers["authorization"]
    assert [a.headers.get("content-type") for a in attempts] == ["application/json"] * 2
    assert attempts[0].content == attempts[1].content
    assert [r["Subject_vod__c"] for r in sf_state.list_records(VCI)] == ["s"]


async def test_a_token_that_keeps_failing_is_an_auth_error(
    sf_client: SalesforceClient, sf_state: SalesforceState
) -> None:
    sf_state.token_lifetime_seconds = 0  # every token is expired when it is issued

    with pytest.raises(AuthError) as caught:
        await sf_client.query("SELECT Id FROM Account")

    assert (caught.value.code, caught.value.http_status) == ("INVALID_SESSION_ID", 401)
    assert len(api_calls(sf_state, TOKEN_PATH)) == 2  # one refresh, not a loop
    assert len(api_calls(sf_state, "/query")) == 2


# ---- collection upsert --------------------------------------------------------------------------------------------


JWT_CLIENT = "3MVG9-jwt-consumer-key"


def jwt_credentials(private_key: str | None = None, **overrides: Any) -> SalesforceCredentials:
    values: dict[str, Any] = {
        "login_url": SF_LOGIN_URL,
        "client_id": JWT_CLIENT,
        "auth": "jwt_bearer",
        "username": API_USERNAME,
        "private_key": private_key or key_pair().private_key,
        **overrides,
    }
    return SalesforceCredentials(**values)


async def test_a_jwt_bearer_connection_signs_in_with_a_signed_assertion_and_delivers(
    sf_rig: Rig, sf_state: SalesforceState
) -> None:
    sf_state.register_jwt_client(JWT_CLIENT, key_pair().certificate)
    client = SalesforceClient(sf_rig.http, jwt_credentials())
    account(sf_state, "HCP-1")

    written = await client.upsert(
        VCI, VCI_KEY, [interaction("V-1", Account_vod__r={"External_ID_vod__c": "HCP-1"})]
    )

    assert [(r.ok, r.created) for r in written.results] == [(True, True)]
    assert [r[VCI_KEY] for r in sf_state.list_records(VCI)] == ["V-1"]
    [token_call, _] = sf_rig.requests
    form = parse_qs(token_call.content.decode())
    assert set(form) == {"grant_type", "assertion"}  # no secret travels
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    public_key = x509.load_pem_x509_certificate(key_pair().certificate.encode()).public_key()
    claims = jwt.decode(
        form["assertion"][0], public_key, algorithms=["RS256"], audience="https://login.salesforce.com"
    )
    assert (claims["iss"], claims["sub"]) == (JWT_CLIENT, API_USERNAME)
    assert 0 < claims["exp"] - time.time() <= 180  # Salesforce wants exp within 3 minutes


async def test_a_jwt_bearer_refusal_is_an_auth_error_naming_the_platform_error(
    sf_rig: Rig, sf_state: SalesforceState
) -> None:
    sf_state.register_jwt_client(JWT_CLIENT, key_pair().certificate)
    intruder = SalesforceClient(sf_rig.http, jwt_credentials(key_pair("intruder").private_key))
    with pytest.raises(AuthError) as caught:
        await intruder.login()
    assert (caught.value.code, caught.value.http_status) == ("INVALID_GRANT", 400)
    assert "invalid assertion" in caught.value.message
    sandbox = SalesforceClient(sf_rig.http, jwt_credentials(audience="https://test.salesforce.com"))
    with pytest.raises(AuthError) as caught:
        await sandbox.login()
    assert "audience is invalid" in caught.value.message


async def test_an_unusable_private_key_is_an_auth_error_that_does_not_quote_it(sf_rig: Rig) -> None:
    pem = key_pair().private_key.replace("MII", "XXX", 1)
    client = SalesforceClient(sf_rig.http, jwt_credentials(pem))
    with pytest.raises(AuthError) as caught:
        await client.login()
    assert caught.value.code == "INVALID_PRIVATE_KEY"
    assert pem[40:80] not in caught.value.message
    assert sf_rig.requests == []  # nothing sent
    assert pem not in repr(jwt_credentials(pem))


async def test_upsert_results_are_per_record_in_input_order(
    sf_client: SalesforceClient, sf_state: SalesforceState
) -> None:
    account(sf_state, "HCP-1")
    first = await sf_client.upsert(
        VCI, VCI_KEY, [interaction("V-1", Account_vod__r={"External_ID_vod__c": "HCP-1"})]
    )
    [existing] = first.results

    second = await sf_client.upsert(
        VCI,
        VCI_KEY,
        [
            interaction("V-2", Call_Channel_vod__c="Video_vod"),
            interaction("V-1", Subject_vod__c="Updated"),
            interaction("V-3", Account_vod__r={"External_ID_vod__c": "HCP-404"}),  # no such parent
            interaction("V-4", Call_Channel_vod__c="Zoom"),  # not in the restricted picklist
        ],
    )

    assert (existing.ok, existing.created) == (True, True)
    inserted, updated, orphan, invalid = second.results
    assert (inserted.ok, inserted.created) == (True, True)
    assert inserted.id
    assert inserted.id != existing.id
    assert (updated.ok, updated.created, updated.id) == (True, False, existing.id)
    assert (orphan.ok, orphan.error_code, orphan.transient) == (False, "INVALID_FIELD", False)
    assert "HCP-404" in (orphan.error_message or "")
    assert (invalid.ok, invalid.error_code, invalid.transient) == (
        False,
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        False,
    )
    assert (second.call.operation, second.call.http_status) == (f"upsert {VCI}", 200)
    saved = {r[VCI_KEY]: r for r in sf_state.list_records(VCI)}
    assert set(saved) == {"V-1", "V-2"}
    assert saved["V-1"]["Subject_vod__c"] == "Updated"


def test_lock_contention_on_one_record_is_transient() -> None:
    locked = _record_result(
        {
            "success": False,
            "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain lock"}],
        }
    )
    invalid = _record_result(
        {"success": False, "errors": [{"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "no"}]}
    )

    assert (locked.ok, locked.error_code, locked.transient) == (False, "UNABLE_TO_LOCK_ROW", True)
    assert (invalid.ok, invalid.transient) == (False, False)


@pytest.mark.parametrize("count", [0, 201])
async def test_batch_size_is_checked_before_any_call(
    sf_client: SalesforceClient, sf_state: SalesforceState, count: int
) -> None:
    with pytest.raises(ValueError, match="1 to 200"):
        await sf_client.upsert(VCI, VCI_KEY, [interaction(f"V-{i}") for i in range(count)])

    assert sf_state.calls.calls == []  # not even a token


async def test_a_batch_of_200_is_accepted(sf_client: SalesforceClient, sf_state: SalesforceState) -> None:
    result = await sf_client.upsert(VCI, VCI_KEY, [interaction(f"V-{i}") for i in range(200)])

    assert len(result.results) == 200
    assert all(r.ok and r.created for r in result.results)
    assert len(sf_state.list_records(VCI)) == 200


async def test_whole_request_failures_are_permanent(
    sf_client: SalesforceClient, sf_state: SalesforceState
) -> None:
    with pytest.raises(PermanentError) as unknown_field:
        await sf_client.upsert(VCI, VCI_KEY, [interaction("V-1", Colour__c="red")])
    with pytest.raises(PermanentError) as bad_key:  # a misconfigured external id field (HTTP 404)
        await sf_client.upsert(VCI, "No_Such_Key__c", [interaction("V-1")])
    with pytest.raises(PermanentError) as bad_soql:
        await sf_client.query("SELECT FROM WHERE")

    assert (unknown_field.value.code, unknown_field.value.http_status) == ("INVALID_FIELD", 400)
    assert (bad_key.value.code, bad_key.value.http_status) == ("NOT_FOUND", 404)
    assert "No_Such_Key__c" in (bad_key.value.excerpt or "")
    assert not isinstance(bad_key.value, TransientError)
    assert bad_soql.value.http_status == 400
    assert sf_state.list_records(VCI) == []


# ---- limits and the error taxonomy ----------------------------------------------------------------------------------


async def test_request_limit_exceeded_is_transient_and_pauses_the_org_for_its_retry_after(
    sf_rig: Rig, sf_state: SalesforceState, clock: Clock
) -> None:
    sf_client = SalesforceClient(sf_rig.http, sf_credentials(), gate=LocalGate(max_wait=0.1, clock=clock))
    await sf_client.login()
    sf_state.configure_faults(FaultSettings(rate_limit_burst=1, retry_after_seconds=5))

    with pytest.raises(TransientError) as caught:
        await sf_client.query("SELECT Id FROM Account")

    assert (caught.value.code, caught.value.http_status, caught.value.retry_after) == (
        "REQUEST_LIMIT_EXCEEDED",
        403,
        5.0,
    )
    calls = len(sf_state.calls.calls)
    clock.advance(seconds=4)
    with pytest.raises(ThrottledError):  # inside the pause the org is not called at all
        await sf_client.query("SELECT Id FROM Account")
    assert len(sf_state.calls.calls) == calls
    clock.advance(seconds=1)
    assert await sf_client.query("SELECT Id FROM Account") == []


async def test_http_429_is_transient_with_retry_after(
    sf_client: SalesforceClient, sf_state: SalesforceState
) -> None:
    await sf_client.login()
    sf_state.configure_faults(FaultSettings(rate_limit_burst=1, retry_after_seconds=2), rate_limit_status=429)

    with pytest.raises(TransientError) as caught:
        await sf_client.upsert(VCI, VCI_KEY, [interaction("V-1")])

    assert (caught.value.http_status, caught.value.retry_after) == (429, 2.0)
    assert sf_state.list_records(VCI) == []


async def test_daily_limit_exhausted_is_transient_without_retry_after(
    sf_client: SalesforceClient, sf_state: SalesforceState
) -> None:
    await sf_client.describe("Account")
    sf_state.daily_api_limit = sf_state.api_usage

    with pytest.raises(TransientError) as caught:
        await sf_client.describe("Account")

    assert (caught.value.code, caught.value.http_status, caught.value.retry_after) == (
        "REQUEST_LIMIT_EXCEEDED",
        403,
        None,
    )


@pytest.mark.parametrize(("status", "code"), [(500, "UNKNOWN_EXCEPTION"), (503, "SERVER_UNAVAILABLE")])
async def test_server_errors_are_transient(
    sf_client: SalesforceClient, sf_state: SalesforceState, status: int, code: str
) -> None:
    sf_state.configure_faults(FaultSettings(error_rate=1.0, error_status=status))

    with pytest.raises(TransientError) as caught:
        await sf_client.upsert(VCI, VCI_KEY, [interaction("V-1")])

    assert (caught.value.code, caught.value.http_status) == (code, status)


async def test_limit_info_is_kept_as_api_usage(
    sf_client: SalesforceClient, sf_state: SalesforceState
) -> None:
    assert sf_client.api_usage is None
    sf_state.daily_api_limit = 15_000

    await sf_client.describe("Account")
    await sf_client.query("SELECT Id FROM Account")

    assert sf_state.api_usage == 2
    assert sf_client.api_usage == (2, 15_000)


# ---- reads ----------------------------------------------------------------------------------------------------------


async def test_query_follows_next_records_url(sf_client: SalesforceClient, sf_state: SalesforceState) -> None:
    sf_state.query_batch_size = 2
    ids = {account(sf_state, f"HCP-{i}") for i in range(5)}

    rows = await sf_client.query("SELECT Id, External_ID_vod__c FROM Account")

    assert {r["Id"] for r in rows} == ids
    assert len(rows) == 5
    assert len(api_calls(sf_state, "/query")) == 3  # 2 + 2 + 1 records


async def test_updated_and_deleted(
    sf_client: SalesforceClient, sf_state: SalesforceState, clock: Clock
) -> None:
    kept = sf_state.create_record("Call2_vod__c", {"Subject_vod__c": "kept"})["Id"]
    gone = sf_state.create_record("Call2_vod__c", {"Subject_vod__c": "gone"})["Id"]
    clock.advance(minutes=5)
    sf_state.delete_record("Call2_vod__c", gone)
    clock.advance(minutes=10)

    updated = await sf_client.updated("Call2_vod__c", "2026-11-20T09:00:00Z", "2026-11-20T10:15:00Z")
    deleted = await sf_client.deleted("Call2_vod__c", "2026-11-20T09:00:00Z", "2026-11-20T10:15:00Z")

    assert kept in updated
    assert [d["id"] for d in deleted.records] == [gone]
    assert deleted.records[0]["deletedDate"].startswith("2026-11-20T10:05:00")
    assert deleted.latest_date_covered == "2026-11-20T10:15:00.000+0000"


async def test_deleted_reports_how_far_its_answer_covers(
    sf_client: SalesforceClient, sf_state: SalesforceState, clock: Clock
) -> None:
    early = sf_state.create_record("Call2_vod__c", {"Subject_vod__c": "early"})["Id"]
    late = sf_state.create_record("Call2_vod__c", {"Subject_vod__c": "late"})["Id"]
    clock.advance(minutes=2)
    sf_state.delete_record("Call2_vod__c", early)  # 10:02
    clock.advance(minutes=5)
    sf_state.delete_record("Call2_vod__c", late)  # 10:07
    clock.advance(minutes=3)
    sf_state.replication_lag_seconds = 300  # a transaction open since 10:05 holds the feed back

    deleted = await sf_client.deleted("Call2_vod__c", "2026-11-20T10:00:00Z", "2026-11-20T10:10:00Z")

    assert [d["id"] for d in deleted.records] == [early]
    assert deleted.latest_date_covered == "2026-11-20T10:05:00.000+0000"


async def test_describe_returns_fields_and_an_unknown_object_is_none(sf_client: SalesforceClient) -> None:
    described = await sf_client.describe(VCI)
    unknown = await sf_client.describe("No_Such_Object__c")

    assert described is not None
    assert described["name"] == VCI
    fields = {f["name"]: f for f in described["fields"]}
    assert fields[VCI_KEY]["externalId"] is True
    assert unknown is None


async def test_get_reads_a_record_and_a_missing_one_is_none(
    sf_client: SalesforceClient, sf_state: SalesforceState
) -> None:
    record_id = account(sf_state, "HCP-1", "Costa")
    deleted_id = account(sf_state, "HCP-2")
    sf_state.delete_record("Account", deleted_id)
    never = "001" + "0" * 12
    never += id_suffix(never)

    found = await sf_client.get("Account", record_id)

    assert found is not None
    assert (found["Id"], found["LastName"]) == (record_id, "Costa")
    assert await sf_client.get("Account", never) is None
    assert await sf_client.get("Account", deleted_id) is None

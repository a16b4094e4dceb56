"""The done criterion: simple-salesforce, a client we did not write, works against the simulator over TLS.

Login goes through simple-salesforce's own token code (client credentials as HTTP Basic, as it sends them);
every later call goes through its ``Salesforce`` object to the real HTTPS server.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.login import token_login

from app.simulators.common.faults import FaultSettings
from tests.simulators.salesforce.conftest import CLIENT_ID, CLIENT_SECRET, FakeClock, RunningOrg

T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def clock(tls_org: RunningOrg) -> FakeClock:
    fake = FakeClock(T0)
    tls_org.state.clock = fake
    tls_org.state.reset()
    return fake


def https_session(org: RunningOrg) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # a REQUESTS_CA_BUNDLE in the environment would override ``verify``
    session.verify = str(org.ca)
    return session


def login(org: RunningOrg, session: requests.Session) -> Any:
    """The client, typed ``Any``: simple-salesforce types ``sf.<Object>`` as a union of its handlers."""
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    session_id, instance = token_login(
        f"{org.url}/services/oauth2/token",
        {"grant_type": "client_credentials"},
        "login",
        CLIENT_ID,
        {"Authorization": f"Basic {basic}"},
        None,
        session,
    )
    return Salesforce(
        instance_url=f"https://{instance}", session_id=session_id, session=session, version="62.0"
    )


@pytest.fixture
def sf(tls_org: RunningOrg, clock: FakeClock) -> Iterator[Any]:
    session = https_session(tls_org)
    yield login(tls_org, session)
    session.close()


def test_login_returns_the_servers_own_instance(tls_org: RunningOrg, sf: Any) -> None:
    assert sf.sf_instance == tls_org.url.removeprefix("https://")
    assert sf.base_url == f"{tls_org.url}/services/data/v62.0/"


def test_upsert_get_and_query(tls_org: RunningOrg, sf: Any) -> None:
    assert sf.Account.upsert("External_ID_vod__c/HCP-1", {"FirstName": "Ana", "LastName": "Lima"}) == 201
    assert sf.Account.upsert("External_ID_vod__c/HCP-1", {"PersonEmail": "ana@example.com"}) == 200

    result = sf.query("SELECT Id, Name, PersonEmail FROM Account WHERE External_ID_vod__c = 'HCP-1'")
    assert (result["totalSize"], result["done"]) == (1, True)
    [row] = result["records"]
    assert (row["Name"], row["PersonEmail"]) == ("Ana Lima", "ana@example.com")
    assert sf.api_usage["api-usage"] == (3, 100_000)  # read from Sforce-Limit-Info

    record = sf.Account.get(row["Id"])
    assert record["External_ID_vod__c"] == "HCP-1"
    assert sf.Account.get_by_custom_id("External_ID_vod__c", "HCP-1")["Id"] == row["Id"]
    assert tls_org.state.api_usage == 5


def test_query_all_follows_next_records_urls(tls_org: RunningOrg, sf: Any) -> None:
    for i in range(450):
        tls_org.state.create_record("Account", {"LastName": f"L{i:03d}"})
    result = sf.query_all(
        "SELECT Id, LastName FROM Account ORDER BY LastName",
        headers={"Sforce-Query-Options": "batchSize=200"},
    )
    assert result["totalSize"] == 450
    assert [r["LastName"] for r in result["records"]] == [f"L{i:03d}" for i in range(450)]
    assert len(tls_org.state.calls.matching("GET", "/query/01g")) == 2


def test_describe_and_metadata(sf: Any) -> None:
    fields = {f["name"]: f for f in sf.Vault_Clinical_Interaction_vod__c.describe()["fields"]}
    assert fields["Vault_Activity_ID_vod__c"]["externalId"] is True
    assert fields["Clinical_Study_vod__c"]["referenceTo"] == ["Clinical_Study_vod__c"]
    assert sf.Account.metadata()["objectDescribe"]["keyPrefix"] == "001"
    assert {"Account", "Call2_vod__c", "User"} <= {o["name"] for o in sf.describe()["sobjects"]}
    assert sf.limits()["DailyApiRequests"]["Max"] == 100_000


def test_create_update_delete_and_the_replication_feeds(
    tls_org: RunningOrg, sf: Any, clock: FakeClock
) -> None:
    created = sf.Clinical_Study_vod__c.create({"Vault_Study_ID_vod__c": "ST-1", "Name": "Study 1"})
    assert created["success"] is True
    clock.advance(minutes=3)
    assert sf.Clinical_Study_vod__c.update(created["id"], {"Status_vod__c": "Active_vod"}) == 204
    clock.advance(minutes=3)
    assert sf.Clinical_Study_vod__c.delete(created["id"]) == 204
    clock.advance(minutes=3)

    updated = sf.Clinical_Study_vod__c.updated(T0 + timedelta(minutes=1), T0 + timedelta(minutes=5))
    assert updated == {"ids": [], "latestDateCovered": "2026-11-20T10:05:00.000+0000"}  # deleted since
    deleted = sf.Clinical_Study_vod__c.deleted(T0, T0 + timedelta(minutes=9))
    assert deleted["deletedRecords"] == [{"id": created["id"], "deletedDate": "2026-11-20T10:06:00.000+0000"}]


def test_collection_upsert_through_restful(sf: Any) -> None:
    body = {
        "allOrNone": False,
        "records": [
            {"attributes": {"type": "Account"}, "External_ID_vod__c": "HCP-1", "LastName": "One"},
            {
                "attributes": {"type": "Account"},
                "External_ID_vod__c": "HCP-2",
                "Specialty_1_vod__c": "Anything",
            },
        ],
    }
    results = sf.restful("composite/sobjects/Account/External_ID_vod__c", method="PATCH", json=body)
    assert [r["success"] for r in results] == [True, False]
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"


def test_errors_map_to_the_librarys_exceptions(tls_org: RunningOrg, sf: Any) -> None:
    with pytest.raises(SalesforceMalformedRequest) as bad:
        sf.Call2_vod__c.create({"Call_Channel_vod__c": "Carrier_pigeon"})
    errors: Any = bad.value.content  # the decoded error array
    assert errors[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"

    tls_org.state.create_record("Account", {"LastName": "A", "External_ID_vod__c": "TWIN"})
    tls_org.state.create_record("Account", {"LastName": "B", "External_ID_vod__c": "TWIN"})
    with pytest.raises(SalesforceMoreThanOneRecord):
        sf.Account.upsert("External_ID_vod__c/TWIN", {"FirstName": "X"})
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get("001000000000000AAA")

    tls_org.state.configure_faults(FaultSettings(error_rate=1.0))
    with pytest.raises(SalesforceGeneralError):
        sf.query("SELECT Id FROM Account")
    tls_org.state.configure_faults(FaultSettings(rate_limit_burst=1))
    with pytest.raises(SalesforceRefusedRequest) as limited:
        sf.query("SELECT Id FROM Account")
    errors = limited.value.content
    assert errors[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"

    tls_org.state.expire_tokens()
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Account")


def test_a_hanging_call_times_the_client_out(tls_org: RunningOrg, sf: Any) -> None:
    tls_org.state.configure_faults(FaultSettings(timeout_calls=1, timeout_seconds=0.6))
    with pytest.raises(requests.exceptions.ReadTimeout):
        sf.query("SELECT Id FROM Account", timeout=0.2)
    assert sf.query("SELECT Id FROM Account")["totalSize"] == 0

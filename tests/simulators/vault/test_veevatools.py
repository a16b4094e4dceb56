"""A second, independent judge of the Vault simulator: veevatools, a Vault REST client by a Veeva author.

Like simple-salesforce for the Salesforce simulator: the client was written and measured against live
vaults, not against our simulator, so every call here goes through its own code (``VaultClient`` and its
services) to the simulator behind a real socket. Where the two disagreed, the public Vault API reference
decided and the simulator was fixed.

veevatools asks Vault's login host (``login.veevavault.com``) for the user's authentication type before
it signs in; the ``login_host`` adapter points that host at the simulator, which serves the same route.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter
from veevatools.veevavault import AuthenticationService, ObjectService, QueryService, VaultClient
from veevatools.veevavault.errors import VaultAuthenticationError

from app.simulators.common.server import ServerThread
from app.simulators.vault import VaultConfig, VaultState, create_vault_app
from tests.simulators.vault.conftest import API_PASSWORD, API_USER, Clock

LOGIN_HOST = "https://login.veevavault.com"
PAGE_SIZE = 3  # the vault's page size, small so a handful of records spans pages


class LoginHost(HTTPAdapter):
    """Sends requests meant for Vault's login host to the simulator instead (DNS, in effect)."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        assert request.url is not None
        request.url = self.target + request.url.removeprefix(LOGIN_HOST)
        return super().send(request, **kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(clock: Clock) -> VaultState:
    vault = VaultState(config=VaultConfig(query_page_size=PAGE_SIZE))
    vault.clock = clock
    return vault


@pytest.fixture
def server(state: VaultState) -> Iterator[ServerThread]:
    with ServerThread(create_vault_app(state)) as running:
        yield running


def new_client(server: ServerThread) -> VaultClient:
    client = VaultClient()
    client._session.trust_env = False  # a proxy in the environment must not see loopback calls
    client._session.mount(LOGIN_HOST, LoginHost(server.url))
    return client


@pytest.fixture
def vault(server: ServerThread) -> VaultClient:
    client = new_client(server)
    client.authenticate(vaultURL=server.url, vaultUserName=API_USER, vaultPassword=API_PASSWORD)
    return client


def create(vault: VaultClient, object_name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Create & Upsert Object Records with JSON in and out (veevatools defaults to CSV both ways)."""
    return ObjectService(vault).create_object_records(
        object_name, json.dumps(rows), content_type="application/json", accept="application/json"
    )


def test_version_discovery_negotiates_the_newest_version(vault: VaultClient, server: ServerThread) -> None:
    versions = AuthenticationService(vault).retrieve_api_version()

    assert versions["responseStatus"] == "SUCCESS"
    assert versions["values"]["v25.2"] == f"{server.url}/api/v25.2"
    assert vault.api_version_negotiated is True
    assert vault.LatestAPIversion == "v26.3"
    assert vault.APIversionList[:4] == ["v21.1", "v21.2", "v21.3", "v22.1"]
    assert len(vault.APIversionList) == 18  # three versions a year, v21.1 to v26.3


def test_version_discovery_needs_a_session(server: ServerThread) -> None:
    client = new_client(server)
    client.vaultURL = server.url

    answer = AuthenticationService(client).retrieve_api_version()

    assert answer["responseStatus"] == "FAILURE"
    assert answer["errors"][0]["type"] == "INVALID_SESSION_ID"
    assert client.api_version_negotiated is False


def test_authentication_with_user_name_and_password(vault: VaultClient, state: VaultState) -> None:
    auth = AuthenticationService(vault)

    assert auth.authentication_type_discovery(API_USER)["data"]["auth_type"] == "password"
    assert vault.vaultId == state.config.vault_id
    assert vault.sessionId is not None
    assert state.session(vault.sessionId) is not None
    [me] = vault.validate_session_user()["users"]
    assert me["user"]["user_name__v"] == API_USER


def test_a_wrong_password_is_refused(server: ServerThread) -> None:
    with pytest.raises(VaultAuthenticationError) as refused:
        new_client(server).authenticate(vaultURL=server.url, vaultUserName=API_USER, vaultPassword="wrong")

    assert refused.value.raw_response["errors"][0]["type"] == "USERNAME_OR_PASSWORD_INCORRECT"


def test_an_expired_session_is_renewed_by_the_client(vault: VaultClient, state: VaultState) -> None:
    before = vault.sessionId
    state.expire_sessions()

    answer = QueryService(vault).query("SELECT id FROM study__v")

    assert answer["responseStatus"] == "SUCCESS"  # veevatools saw INVALID_SESSION_ID and signed in again
    assert vault.sessionId != before


def test_keep_alive_and_end_session(vault: VaultClient, state: VaultState, clock: Clock) -> None:
    session_id = vault.sessionId
    assert session_id is not None
    clock.advance(minutes=15)  # the vault's idle timeout is 20 minutes
    assert vault.session_keep_alive()["responseStatus"] == "SUCCESS"
    clock.advance(minutes=15)
    assert state.session(session_id) is not None  # kept alive

    assert AuthenticationService(vault).logout()["responseStatus"] == "SUCCESS"

    assert vault.sessionId is None
    assert state.session(session_id) is None


def test_create_and_read_by_id(vault: VaultClient) -> None:
    created = create(vault, "study__v", [{"name__v": "Study A", "external_id__v": "ST-A"}])

    assert created["responseStatus"] == "SUCCESS"
    [row] = created["data"]
    assert (row["responseStatus"], row["data"]["event"]) == ("SUCCESS", "created__sys")
    record = ObjectService(vault).retrieve_object_record("study__v", row["data"]["id"])
    assert record["responseStatus"] == "SUCCESS"
    assert (record["data"]["name__v"], record["data"]["external_id__v"]) == ("Study A", "ST-A")


def test_upsert_by_an_external_id(vault: VaultClient, state: VaultState) -> None:
    upsert = "study__v?idParam=external_id__v"  # veevatools' way: idParam on the object's URL

    first = create(vault, upsert, [{"external_id__v": "ST-U", "name__v": "Before"}])
    second = create(vault, upsert, [{"external_id__v": "ST-U", "name__v": "After"}])

    assert first["data"][0]["data"]["event"] == "created__sys"
    assert second["data"][0]["data"]["event"] == "updated__sys"
    assert second["data"][0]["data"]["id"] == first["data"][0]["data"]["id"]
    found = QueryService(vault).bulk_query("SELECT id, name__v FROM study__v WHERE external_id__v = 'ST-U'")
    assert [r["name__v"] for r in found["data"]] == ["After"]


def test_vql_pages_past_the_first_page(vault: VaultClient, state: VaultState) -> None:
    create(vault, "study__v", [{"name__v": f"Study {i}", "external_id__v": f"ST-{i}"} for i in range(7)])
    state.calls.clear()

    everything = QueryService(vault).bulk_query("SELECT id, name__v FROM study__v ORDER BY name__v")

    assert everything["responseStatus"] == "SUCCESS"
    assert [r["name__v"] for r in everything["data"]] == [f"Study {i}" for i in range(7)]
    assert everything["responseDetails"]["total"] == 7
    assert len(state.calls.matching("GET", "/query/")) == 2  # pages two and three, by next_page
    described = everything["queryDescribe"]  # veevatools asks with X-VaultAPI-DescribeQuery: true
    assert described["object"]["name"] == "study__v"
    assert [(f["name"], f["type"]) for f in described["fields"]] == [("id", "id"), ("name__v", "String")]
    records = list(QueryService(vault).records("SELECT name__v FROM study__v ORDER BY name__v"))
    assert len(records) == 7


def test_create_from_csv_as_veevatools_sends_by_default(vault: VaultClient) -> None:
    csv_rows = 'name__v,external_id__v,study_status__v\n"Study, with a comma",ST-C,active__v\nStudy D,ST-D,\n'

    created = ObjectService(vault).create_object_records("study__v", csv_rows, accept="application/json")

    assert [row["responseStatus"] for row in created["data"]] == ["SUCCESS", "SUCCESS"]
    found = QueryService(vault).bulk_query("SELECT name__v, study_status__v FROM study__v ORDER BY name__v")
    assert [(r["name__v"], r["study_status__v"]) for r in found["data"]] == [
        ("Study D", None),
        ("Study, with a comma", ["active__v"]),
    ]


def test_delete_through_the_api_and_read_the_deleted_ids(
    vault: VaultClient, state: VaultState, clock: Clock
) -> None:
    created = create(vault, "study__v", [{"name__v": f"Doomed {i}"} for i in range(3)])
    ids = [row["data"]["id"] for row in created["data"]]
    clock.advance(minutes=5)
    objects = ObjectService(vault)

    deleted_by_api = objects.delete_object_records("study__v", f"id\n{ids[0]}\n{ids[1]}\n0ST000000009999\n")
    state.user_delete("study__v", ids[2])  # and one by a person in the vault
    deleted = objects.crud.retrieve_deleted_object_record_id(
        "study__v", start_date="2026-11-20T10:01:00Z", end_date="2026-11-20T11:00:00Z"
    )
    too_early = objects.crud.retrieve_deleted_object_record_id("study__v", end_date="2026-11-20T10:01:00Z")

    assert [row["responseStatus"] for row in deleted_by_api["data"]] == ["SUCCESS", "SUCCESS", "FAILURE"]
    assert deleted_by_api["data"][0]["data"]["id"] == ids[0]
    assert objects.retrieve_object_record("study__v", ids[0])["responseStatus"] == "FAILURE"
    assert deleted["responseStatus"] == "SUCCESS"
    assert sorted(d["id"] for d in deleted["data"]) == sorted(ids)
    assert {d["date_deleted"] for d in deleted["data"]} == {"2026-11-20T10:05:00Z"}
    assert too_early["data"] == []

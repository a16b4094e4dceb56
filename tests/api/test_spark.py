"""Issue 15: Vault Spark messages at /webhooks/ctms/spark. Each item of a verified message is stored once as a
thin CTMS event before the 200; forged, tampered, expired, replayed or misaddressed messages store nothing.

The vault is our simulator over a real socket: the bridge fetches its signing certificate as it would from
a real vault, and the messages are signed the way the simulator's own Spark queue signs them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clients.vault_certificates import MAX_MISSES_PER_MINUTE
from app.main import create_app
from app.simulators.common.server import ServerThread
from app.simulators.vault import create_vault_app
from app.simulators.vault.spark import SigningKey, new_signing_key, signed_spark_headers, spark_message
from app.simulators.vault.state import VaultConfig, VaultState
from tests.api.test_webhooks import problem, rows
from tests.conftest import make_settings, running_app

PATH = "/webhooks/ctms/spark"
URL = "http://bridge.test" + PATH
VAULT_ID = 4242


@pytest.fixture(scope="module")
def vault() -> Iterator[tuple[VaultState, str]]:
    state = VaultState(config=VaultConfig(flavor="ctms", vault_id=VAULT_ID))
    with ServerThread(create_vault_app(state)) as server:
        yield state, server.url


@pytest.fixture
async def client(
    clean_db: AsyncEngine, pg_url: str, redis_url: str, vault: tuple[VaultState, str]
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(pg_url, redis_url=redis_url, vault_url=vault[1], vault_id=str(VAULT_ID))
    async with running_app(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def forger() -> SigningKey:
    return new_signing_key("forger.example.com")


def message(
    vault: tuple[VaultState, str],
    items: list[str],
    event: str = "update",
    obj: str = "crm_activity__v",
    **kw: Any,
) -> dict[str, Any]:
    return spark_message(vault[0], obj, event, items, **kw)


async def send(
    client: httpx.AsyncClient,
    body: dict[str, Any] | bytes,
    *,
    url: str = URL,
    headers: dict[str, str] | None = None,
    **signing: Any,
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    signed = signed_spark_headers(raw, url, vault_id=signing.pop("vault_id", VAULT_ID), **signing)
    return await client.post(PATH, content=raw, headers={**signed, **(headers or {})})


async def test_each_item_is_stored_as_a_thin_ctms_event_before_the_200(
    client: httpx.AsyncClient, clean_db: AsyncEngine, vault: tuple[VaultState, str]
) -> None:
    queued = datetime(2026, 11, 20, 10, 14, 59, 120000, tzinfo=UTC)
    sent = message(vault, ["V6A000000001001", "V6A000000001002", "V6A000000001001"], queued=queued)
    response = await send(client, sent)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["message_id"], answer["stored"], answer["duplicates"]) == (sent["message_id"], 2, 0)
    stored = await rows(clean_db)
    assert [r["id"] for r in stored] == answer["event_ids"]
    assert [(r["sender"], r["source"], r["type"], r["object"], r["record_id"]) for r in stored] == [
        ("ctms", "ctms", "ctms.record.updated", "crm_activity__v", "V6A000000001001"),
        ("ctms", "ctms", "ctms.record.updated", "crm_activity__v", "V6A000000001002"),
    ]
    assert {r["source_modified_at"] for r in stored} == {queued}
    assert {r["webhook_id"] for r in stored} == {
        f"spark:{sent['message_id']}:V6A00000000100{n}" for n in (1, 2)
    }
    payload = stored[0]["payload"]
    assert payload["data"] == {"object": "crm_activity__v", "id": "V6A000000001001"}  # thin: no record
    assert payload["spark"]["queue_name"] == sent["queue_name"]


@pytest.mark.parametrize(
    ("event", "type_"), [("insert", "created"), ("Update", "updated"), ("delete", "deleted")]
)
async def test_the_event_attribute_gives_the_change_type(
    client: httpx.AsyncClient, clean_db: AsyncEngine, vault: tuple[VaultState, str], event: str, type_: str
) -> None:
    response = await send(client, message(vault, ["V4S000000000101"], event=event, obj="study__v"))
    assert response.status_code == 200, response.text
    [row] = await rows(clean_db)
    assert (row["type"], row["object"]) == (f"ctms.record.{type_}", "study__v")


async def test_a_retried_message_stores_nothing_twice(
    client: httpx.AsyncClient, clean_db: AsyncEngine, vault: tuple[VaultState, str]
) -> None:
    first = message(vault, ["V6A000000001001", "V6A000000001002"])
    assert (await send(client, first)).json()["stored"] == 2
    again = {**first, "send_attempt": 2}  # Vault's retry: same message_id, freshly signed
    response = await send(client, again)
    assert response.status_code == 200, response.text
    assert (response.json()["stored"], response.json()["duplicates"]) == (0, 2)
    replayed = await send(client, first)  # the very same bytes, signed again within the window
    assert replayed.json()["stored"] == 0
    assert len(await rows(clean_db)) == 2


async def test_header_names_in_any_case_verify(
    client: httpx.AsyncClient, clean_db: AsyncEngine, vault: tuple[VaultState, str]
) -> None:
    raw = orjson.dumps(message(vault, ["V6A000000001001"]))
    headers = signed_spark_headers(raw, URL, vault_id=VAULT_ID)
    shouted = {
        (k.upper() if k.startswith("X-VaultAPISignature") else k.lower()): v for k, v in headers.items()
    }
    response = await client.post(PATH, content=raw, headers=shouted)
    assert response.status_code == 200, response.text
    assert len(await rows(clean_db)) == 1


@pytest.mark.parametrize(
    "header_url",
    [
        "https://bridge.example.com/webhooks/ctms/spark",  # the public URL; the signature is over the one received
        quote(URL, safe=""),  # the header percent-encoded; the signature is over the plain URL
    ],
)
async def test_the_url_is_verified_as_vault_names_it_decoded_or_as_received(
    client: httpx.AsyncClient, clean_db: AsyncEngine, vault: tuple[VaultState, str], header_url: str
) -> None:
    raw = orjson.dumps(message(vault, ["V6A000000001001"]))
    headers = signed_spark_headers(raw, URL, vault_id=VAULT_ID, header_url=header_url)
    response = await client.post(PATH, content=raw, headers=headers)
    assert response.status_code == 200, response.text
    assert len(await rows(clean_db)) == 1


async def test_the_certificate_is_fetched_once_and_kept(
    client: httpx.AsyncClient, vault: tuple[VaultState, str]
) -> None:
    state = vault[0]
    state.calls.clear()
    for n in range(3):
        assert (await send(client, message(vault, [f"V6A00000000100{n}"]))).status_code == 200
    fetched = [c for c in state.calls.calls if "/services/certificate/" in c.path]
    assert len(fetched) == 1  # each test's bridge starts with no certificate


async def test_a_forged_signature_is_refused(
    client: httpx.AsyncClient, clean_db: AsyncEngine, vault: tuple[VaultState, str], forger: SigningKey
) -> None:
    response = await send(client, message(vault, ["V6A000000001001"]), key=forger)
    problem(response, 401, "SIGNATURE_INVALID")
    assert await rows(clean_db) == []


async def test_a_tampered_body_or_signed_header_is_refused(
    client: httpx.AsyncClient, clean_db: AsyncEngine, vault: tuple[VaultState, str]
) -> None:
    raw = orjson.dumps(message(vault, ["V6A000000001001"]))
    headers = signed_spark_headers(raw, URL, vault_id=VAULT_ID)
    tampered = raw.replace(b"V6A000000001001", b"V6A000000009999")
    problem(await client.post(PATH, content=tampered, headers=headers), 401, "SIGNATURE_INVALID")
    moved = {**headers, "X-VaultAPISignature-RequestNotAfter": "2099-01-01T00:00:00.000Z"}
    problem(await client.post(PATH, content=raw, headers=moved), 401, "SIGNATURE_INVALID")
    garbled = {**headers, "X-VaultAPI-SignatureV2": "not base64!"}
    problem(await client.post(PATH, content=raw, headers=garbled), 401, "SIGNATURE_INVALID")
    assert await rows(clean_db) == []


async def test_a_message_outside_its_validity_window_is_refused(
    client: httpx.AsyncClient, clean_db: AsyncEngine, vault: tuple[VaultState, str]
) -> None:
    now = datetime.now(UTC)
    old = await send(client, message(vault, ["V6A000000001001"]), now=now - timedelta(minutes=10))
    problem(old, 401, "MESSAGE_EXPIRED")
    early = await send(client, message(vault, ["V6A000000001001"]), now=now + timedelta(minutes=10))
    problem(early, 401, "MESSAGE_NOT_YET_VALID")
    assert await rows(clean_db) == []


async def test_a_message_for_another_url_vault_or_kind_is_refused(
    client: httpx.AsyncClient, clean_db: AsyncEngine, vault: tuple[VaultState, str]
) -> None:
    sent = message(vault, ["V6A000000001001"])
    problem(await send(client, sent, url="https://elsewhere.example.com/hook"), 401, "SIGNATURE_INVALID")
    problem(await send(client, sent, vault_id=9999), 401, "VAULT_MISMATCH")
    raw = orjson.dumps(sent)
    headers = signed_spark_headers(raw, URL, vault_id=VAULT_ID)
    other = {**headers, "X-VaultAPISignature-RequestType": "job_message"}
    problem(await client.post(PATH, content=raw, headers=other), 401, "NOT_A_SPARK_MESSAGE")
    problem(await send(client, sent, certificate_id="99999"), 401, "CERTIFICATE_UNKNOWN")
    problem(await send(client, sent, certificate_id="../../auth"), 401, "CERTIFICATE_UNKNOWN")
    unsigned = await client.post(PATH, content=raw, headers={"content-type": "application/json"})
    problem(unsigned, 401, "SIGNATURE_MISSING")
    assert await rows(clean_db) == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda m: m["message"]["attributes"].pop("event"), "MESSAGE_INVALID"),
        (lambda m: m["message"]["attributes"].update(event="merge"), "MESSAGE_INVALID"),
        (lambda m: m["message"]["attributes"].update(object="Robert'); DROP TABLE"), "MESSAGE_INVALID"),
        (lambda m: m["message"].update(items=[f"V6A{n:012d}" for n in range(501)]), "MESSAGE_INVALID"),
        (lambda m: m["message"].update(items=["V6A0000\u0000001"]), "MESSAGE_INVALID"),
        (lambda m: m.pop("message_id"), "MESSAGE_INVALID"),
    ],
)
async def test_a_signed_but_unusable_message_gets_a_precise_422(
    client: httpx.AsyncClient, clean_db: AsyncEngine, vault: tuple[VaultState, str], change: Any, code: str
) -> None:
    sent = message(vault, ["V6A000000001001"])
    change(sent)
    problem(await send(client, sent), 422, code)
    assert await rows(clean_db) == []


async def test_a_signed_body_that_is_not_json_is_a_415(
    client: httpx.AsyncClient, clean_db: AsyncEngine
) -> None:
    problem(await send(client, b"{not json"), 415, "BODY_NOT_JSON")
    assert await rows(clean_db) == []


async def test_without_bridge_vault_id_no_message_is_taken(
    clean_db: AsyncEngine, pg_url: str, redis_url: str, vault: tuple[VaultState, str]
) -> None:
    """Every vault signs with the same Veeva certificate: the vault id is what makes a message this vault's."""
    settings = make_settings(pg_url, redis_url=redis_url, vault_url=vault[1], vault_id=None)
    async with running_app(create_app(settings)) as client:
        body = problem(await send(client, message(vault, ["V6A000000001001"])), 503, "CTMS_NOT_CONFIGURED")
        assert "BRIDGE_VAULT_ID" in body["detail"]
    assert await rows(clean_db) == []


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00.000+01:00", "9999-12-31T23:59:59.000-01:00"])
async def test_a_timestamp_out_of_range_is_refused_not_a_server_error(
    client: httpx.AsyncClient, clean_db: AsyncEngine, vault: tuple[VaultState, str], stamp: str
) -> None:
    raw = orjson.dumps(message(vault, ["V6A000000001001"]))
    headers = {
        **signed_spark_headers(raw, URL, vault_id=VAULT_ID),
        "X-VaultAPISignature-RequestNotAfter": stamp,
    }
    problem(await client.post(PATH, content=raw, headers=headers), 401, "SIGNATURE_INVALID")
    queued = message(vault, ["V6A000000001001"])
    queued["enter_queue_timestamp"] = stamp
    problem(await send(client, queued), 422, "MESSAGE_INVALID")
    assert await rows(clean_db) == []


async def test_forged_messages_naming_new_certificate_ids_cost_the_vault_a_few_calls_at_most(
    client: httpx.AsyncClient, vault: tuple[VaultState, str], forger: SigningKey
) -> None:
    state = vault[0]
    assert (
        await send(client, message(vault, ["V6A000000001001"]))
    ).status_code == 200  # its certificate is kept
    state.calls.clear()
    answers = []
    for n in range(30):
        forged = await send(
            client, message(vault, ["V6A000000001001"]), key=forger, certificate_id=f"9{n:04d}"
        )
        answers.append((forged.status_code, forged.json()["code"]))
    asked = [c for c in state.calls.calls if "/services/certificate/" in c.path]
    assert len(asked) == MAX_MISSES_PER_MINUTE
    assert answers[:MAX_MISSES_PER_MINUTE] == [(401, "CERTIFICATE_UNKNOWN")] * MAX_MISSES_PER_MINUTE
    assert set(answers[MAX_MISSES_PER_MINUTE:]) == {(503, "CERTIFICATE_UNAVAILABLE")}  # "later", not asked
    assert (
        await send(client, message(vault, ["V6A000000001002"]))
    ).status_code == 200  # the real one still works


async def test_an_unreachable_vault_is_a_503_that_makes_vault_retry(
    clean_db: AsyncEngine, pg_url: str, redis_url: str, vault: tuple[VaultState, str]
) -> None:
    settings = make_settings(
        pg_url, redis_url=redis_url, vault_url="http://127.0.0.1:9", vault_id=str(VAULT_ID)
    )
    async with running_app(create_app(settings)) as client:
        body = problem(
            await send(client, message(vault, ["V6A000000001001"])), 503, "CERTIFICATE_UNAVAILABLE"
        )
        assert "127.0.0.1" not in body["detail"]
    assert await rows(clean_db) == []

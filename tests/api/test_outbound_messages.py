"""Issue 15: Salesforce Outbound Messages at /webhooks/crm/{connection_id}/outbound-messages/{token}. Each
Notification of a call is stored once, then acked; a wrong token or org, hostile or malformed XML, and an
unreachable org each get a SOAP fault (no Ack, so Salesforce retries) and store nothing.

The org is our Salesforce simulator over a real socket: the bridge signs in to it to learn its org id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.api.webhooks.outbound_messages import outbound_message_path
from app.main import create_app
from app.signing import generate_secret
from app.simulators.common.server import ServerThread
from app.simulators.salesforce.app import create_salesforce_app
from app.simulators.salesforce.outbound import new_notification_id, notifications_body
from app.simulators.salesforce.state import ORG_ID, SalesforceState
from tests.api.test_webhooks import rows
from tests.conftest import make_settings, running_app
from tests.factories import add_connection

ADMIN_KEY = "test-bootstrap-admin-key-outbound-0123456789"
CLIENT_ID, CLIENT_SECRET = "bridge-client", "bridge-client-secret-0123456789"
SOAP = {"content-type": "text/xml; charset=utf-8", "SOAPAction": '""'}
CALL = {
    "Id": "a0B5g00000XyZ12EAF",
    "Account_vod__c": "0015g00000AbCdEAAV",
    "Call_Date_vod__c": "2026-11-19",
    "Call_Channel_vod__c": "Video_vod",
    "Status_vod__c": "Submitted_vod",
    "Subject_vod__c": "Protocol Q&A <urgent>",
    "CreatedById": "0055g00000SimUAAS",
    "LastModifiedDate": "2026-11-20T10:14:59.000Z",
}


@pytest.fixture(scope="module")
def org_url() -> Iterator[str]:
    org = SalesforceState()
    org.register_client(CLIENT_ID, CLIENT_SECRET)
    with ServerThread(create_salesforce_app(org)) as server:
        yield server.url


@pytest.fixture
async def client(clean_db: AsyncEngine, pg_url: str, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(pg_url, redis_url=redis_url, admin_api_key=ADMIN_KEY)
    async with running_app(create_app(settings)) as client:
        yield client


async def connection(engine: AsyncEngine, login_url: str, **kw: Any) -> tuple[str, str]:
    crm = {"login_url": login_url, "client_id": CLIENT_ID, "api_version": "v62.0"}
    async with AsyncSession(engine, expire_on_commit=False) as session:
        made, [secret] = await add_connection(
            session, crm=crm, credentials={"client_secret": CLIENT_SECRET}, **kw
        )
        await session.commit()
    return made.id, secret


def message(
    *calls: dict[str, Any], org_id: str = ORG_ID, object_name: str = "Call2_vod__c"
) -> tuple[bytes, list[str]]:
    ids = [new_notification_id() for _ in calls]
    return notifications_body(
        org_id, "https://sim.my.salesforce.com", object_name, list(zip(ids, calls, strict=True))
    ), ids


def fault(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert "<soapenv:Fault>" in response.text
    assert f"<faultstring>{code}:" in response.text
    assert "<Ack>" not in response.text


async def test_each_call_notification_is_stored_once_then_acked(
    client: httpx.AsyncClient, clean_db: AsyncEngine, org_url: str
) -> None:
    connection_id, secret = await connection(clean_db, org_url)
    second = {**CALL, "Id": "a0B5g00000XyZ13EAF"}
    body, notification_ids = message(CALL, second)
    path = outbound_message_path(connection_id, secret)
    response = await client.post(path, content=body, headers=SOAP)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert "<Ack>true</Ack>" in response.text
    stored = await rows(clean_db)
    assert [(r["sender"], r["source"], r["type"], r["object"], r["record_id"]) for r in stored] == [
        (connection_id, "crm", "crm.call.sent_to_vault", "Call2_vod__c", c["Id"]) for c in (CALL, second)
    ]
    assert [r["webhook_id"] for r in stored] == [f"outbound:{n}" for n in notification_ids]
    data = stored[0]["payload"]["data"]
    assert data["thin"] is True  # the worker reads the call, its account and its creator from the org
    assert data["record"]["Subject_vod__c"] == "Protocol Q&A <urgent>"  # XML-escaped on the wire
    assert data["record"]["attributes"] == {"type": "Call2_vod__c"}

    again = await client.post(path, content=body, headers=SOAP)  # Salesforce's retry: the same notifications
    assert "<Ack>true</Ack>" in again.text
    assert len(await rows(clean_db)) == 2


async def test_a_wrong_token_or_another_connections_token_is_refused(
    client: httpx.AsyncClient, clean_db: AsyncEngine, org_url: str
) -> None:
    connection_id, _ = await connection(clean_db, org_url)
    other_id, other_secret = await connection(clean_db, org_url)
    body, _ = message(CALL)
    fault(
        await client.post(
            f"/webhooks/crm/{connection_id}/outbound-messages/guess", content=body, headers=SOAP
        ),
        401,
        "TOKEN_INVALID",
    )
    borrowed = outbound_message_path(other_id, other_secret).rsplit("/", 1)[1]
    fault(
        await client.post(
            f"/webhooks/crm/{connection_id}/outbound-messages/{borrowed}", content=body, headers=SOAP
        ),
        401,
        "TOKEN_INVALID",
    )
    assert await rows(clean_db) == []


async def test_a_token_that_is_not_ascii_is_refused_not_a_server_error(
    client: httpx.AsyncClient, clean_db: AsyncEngine, org_url: str
) -> None:
    connection_id, _ = await connection(clean_db, org_url)
    body, _ = message(CALL)
    path = f"/webhooks/crm/{connection_id}/outbound-messages/%C3%A9t%C3%A9"
    fault(await client.post(path, content=body, headers=SOAP), 401, "TOKEN_INVALID")


async def test_another_orgs_message_is_refused(
    client: httpx.AsyncClient, clean_db: AsyncEngine, org_url: str
) -> None:
    connection_id, secret = await connection(clean_db, org_url)
    body, _ = message(CALL, org_id="00D5g000009OthrEAC")
    fault(
        await client.post(outbound_message_path(connection_id, secret), content=body, headers=SOAP),
        403,
        "ORGANIZATION_MISMATCH",
    )
    short, _ = message(CALL, org_id=ORG_ID[:15])  # the same org by its 15-character id is the org
    ok = await client.post(outbound_message_path(connection_id, secret), content=short, headers=SOAP)
    assert "<Ack>true</Ack>" in ok.text
    assert len(await rows(clean_db)) == 1


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&lol3;</soapenv:Body></soapenv:Envelope>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&xxe;</soapenv:Body></soapenv:Envelope>"""


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (BILLION_LAUGHS, "XML_FORBIDDEN"),
        (EXTERNAL_ENTITY, "XML_FORBIDDEN"),
        (b"<soapenv:Envelope", "XML_INVALID"),
        (b'<?xml version="1.0" encoding="no-such-encoding"?><a/>', "XML_INVALID"),
        (b"<html><body>hello</body></html>", "NOT_A_SOAP_ENVELOPE"),
        (
            b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>',
            "NOT_AN_OUTBOUND_MESSAGE",
        ),
        (message({**CALL, "Id": None})[0], "MESSAGE_INVALID"),
        (message(CALL, object_name="Account")[0], "OBJECT_NOT_SUPPORTED"),
        (message(CALL, org_id="not-an-org")[0], "MESSAGE_INVALID"),
    ],
)
async def test_hostile_or_malformed_xml_is_a_client_fault(
    client: httpx.AsyncClient, clean_db: AsyncEngine, org_url: str, body: bytes, code: str
) -> None:
    connection_id, secret = await connection(clean_db, org_url)
    fault(
        await client.post(outbound_message_path(connection_id, secret), content=body, headers=SOAP), 400, code
    )
    assert await rows(clean_db) == []


async def test_unknown_connection_wrong_media_type_and_unreachable_org(
    client: httpx.AsyncClient, clean_db: AsyncEngine, org_url: str
) -> None:
    body, _ = message(CALL)
    fault(
        await client.post(
            outbound_message_path("conn_nonexistent", generate_secret()), content=body, headers=SOAP
        ),
        404,
        "CONNECTION_NOT_FOUND",
    )
    vault_id, vault_secret = await connection(clean_db, org_url, platform="vault")
    fault(
        await client.post(outbound_message_path(vault_id, vault_secret), content=body, headers=SOAP),
        404,
        "CONNECTION_NOT_FOUND",
    )
    connection_id, secret = await connection(clean_db, org_url)
    as_json = await client.post(
        outbound_message_path(connection_id, secret),
        content=body,
        headers={"content-type": "application/json"},
    )
    fault(as_json, 415, "UNSUPPORTED_MEDIA_TYPE")
    down_id, down_secret = await connection(clean_db, "http://127.0.0.1:9")
    unreachable = await client.post(outbound_message_path(down_id, down_secret), content=body, headers=SOAP)
    fault(unreachable, 503, "ORG_UNAVAILABLE")
    assert unreachable.headers["retry-after"]
    assert await rows(clean_db) == []


async def test_admins_read_the_paths_and_a_rotated_secret_gives_a_new_one_that_works(
    client: httpx.AsyncClient, clean_db: AsyncEngine, org_url: str
) -> None:
    connection_id, secret = await connection(clean_db, org_url)
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    url = f"/api/v1/connections/{connection_id}/outbound-message-urls"
    first = (await client.get(url, headers=admin)).json()["paths"]
    assert first == [outbound_message_path(connection_id, secret)]
    rotated = await client.post(f"/api/v1/connections/{connection_id}/webhook-secrets", headers=admin)
    assert rotated.status_code == 201, rotated.text
    old, new = (await client.get(url, headers=admin)).json()["paths"]
    assert old == first[0]
    assert new != old
    for path in (old, new):  # both work until the previous secret is retired
        body, _ = message(CALL)
        assert "<Ack>true</Ack>" in (await client.post(path, content=body, headers=SOAP)).text
    await client.delete(f"/api/v1/connections/{connection_id}/webhook-secrets/previous", headers=admin)
    fault(await client.post(old, content=message(CALL)[0], headers=SOAP), 401, "TOKEN_INVALID")
    viewer = await client.post("/api/v1/api-keys", json={"name": "v", "role": "viewer"}, headers=admin)
    refused = await client.get(url, headers={"Authorization": f"Bearer {viewer.json()['key']}"})
    assert refused.status_code == 403

"""Builders for test data, through the same code paths the product uses where one exists."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook

from app.crypto import SecretBox
from app.models import Connection
from app.signing import generate_secret
from tests.conftest import TEST_SECRET_KEY


async def add_connection(
    session: AsyncSession,
    *,
    platform: str = "salesforce",
    active: bool = True,
    webhook_secrets: list[str] | None = None,
    crm: dict[str, Any] | None = None,
    credentials: dict[str, Any] | None = None,
    account_match: dict[str, str] | None = None,
    name: str | None = None,
    sync_studies_and_sites: bool = True,
) -> tuple[Connection, list[str]]:
    box = SecretBox(TEST_SECRET_KEY)
    secrets = webhook_secrets or [generate_secret()]
    connection = Connection(
        id=f"conn_{uuid.uuid4().hex[:12]}",
        name=name or f"CRM {uuid.uuid4().hex[:6]}",
        platform=platform,
        crm=crm or {},
        secrets_encrypted=box.seal(credentials or {}),
        webhook_secrets_encrypted=box.seal(secrets),
        account_match=account_match,
        sync_studies_and_sites=sync_studies_and_sites,
        active=active,
    )
    session.add(connection)
    await session.flush()
    return connection, secrets


def signed(
    secret: str, body: bytes | dict[str, Any], *, msg_id: str | None = None, at: datetime | None = None
) -> tuple[bytes, dict[str, str]]:
    """Headers signed by the reference implementation (standardwebhooks), not by our own code."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, at, raw.decode())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
    return raw, headers


def ctms_event(
    object_: str = "crm_activity__v",
    record_id: str | None = None,
    type_: str = "ctms.record.updated",
    record: dict[str, Any] | None = None,
    modified: str = "2026-11-20T10:14:58Z",
) -> dict[str, Any]:
    record_id = record_id or f"V6A{uuid.uuid4().int % 10**12:012d}"
    data: dict[str, Any] = {"object": object_, "id": record_id, "modified_date__v": modified}
    if record is not None:
        data["record"] = {"id": record_id, **record}
    return {"type": type_, "timestamp": "2026-11-20T10:15:00Z", "data": data}


def crm_call_event(call_id: str | None = None, **fields: Any) -> dict[str, Any]:
    call_id = call_id or f"a0B{uuid.uuid4().hex[:15]}"
    record = {
        "attributes": {"type": "Call2_vod__c"},
        "Id": call_id,
        "Call_Date_vod__c": "2026-11-19",
        "Call_Channel_vod__c": "Video_vod",
        "Status_vod__c": "Submitted_vod",
        "Subject_vod__c": "Protocol Q&A",
        "Account_vod__c": "0015g00000AbCdEAAV",
        "Account": {"Id": "0015g00000AbCdEAAV", "External_ID_vod__c": "HCP-000123"},
        "CreatedBy": {"FirstName": "Ana", "LastName": "Silva", "Email": "ana.silva@example.com"},
        "LastModifiedDate": "2026-11-20T10:14:59.000+0000",
        **fields,
    }
    return {"type": "crm.call.sent_to_vault", "timestamp": "2026-11-20T10:15:00Z", "data": {"record": record}}


def minutes_ago(n: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=n)


def unix_now() -> int:
    return int(time.time())

"""Vault Spark messages: the signature's string to verify, its validity window, the body, and the thin events
each message stands for (pure: no I/O; the endpoint fetches the certificate and stores the events).

Facts from Veeva's developer docs ("Spark message signing and verification", "Message format"): the string
to verify is every ``X-VaultAPISignature-*`` header as ``lowercase(name):trimmed value\\n`` sorted by name,
then the raw body, ``\\n`` and the full URL the message was sent to; the signature (``X-VaultAPI-SignatureV2``)
is SHA256withRSA, base64; header names may arrive in any case.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import BaseModel, ConfigDict, Field

from app.domain.envelopes import VAULT_NAME, StoredFields, parse_timestamp
from app.domain.refusals import Refused

HEADER_PREFIX = "x-vaultapisignature-"
SIGNATURE_HEADER = "x-vaultapi-signaturev2"
MAX_ITEMS = 500  # Vault's limit per message
CLOCK_SKEW = timedelta(seconds=30)  # allowed beyond the sender's own window, for clocks slightly apart
# What a vault-side trigger puts in the message's attributes (README "Connecting a real Vault").
OBJECT_ATTRIBUTE = "object"
EVENT_ATTRIBUTE = "event"
VAULT_NAME_RE = re.compile(VAULT_NAME)
RECORD_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CERTIFICATE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
EVENT_TYPES = {
    "insert": "ctms.record.created",
    "create": "ctms.record.created",
    "update": "ctms.record.updated",
    "delete": "ctms.record.deleted",
}


SparkRefused = Refused  # a Spark message refused; the name callers and tests use


def signature_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The ``X-VaultAPISignature-*`` headers by lower-case name (Starlette's headers already are)."""
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith(HEADER_PREFIX)}


def string_to_verify(signed: Mapping[str, str], body: bytes, url: str) -> bytes:
    lines = "".join(f"{name}:{signed[name].strip()}\n" for name in sorted(signed))
    return lines.encode() + body + b"\n" + url.encode()


def _header(signed: Mapping[str, str], name: str) -> str:
    value = signed.get(HEADER_PREFIX + name.lower(), "").strip()
    if not value:
        raise SparkRefused(401, "SIGNATURE_MISSING", f"the X-VaultAPISignature-{name} header is missing")
    return value


def check_envelope(signed: Mapping[str, str], now: datetime, request_path: str, vault_id: str) -> str:
    """Check the signed headers that say what the message is, where it was sent, from which vault and when
    it is valid; returns the URL Vault says it signed for. Every vault signs with the same Veeva
    certificate, so the vault id is what tells this vault's messages from any other's."""
    if _header(signed, "RequestType") != "spark_message":
        raise SparkRefused(401, "NOT_A_SPARK_MESSAGE", "X-VaultAPISignature-RequestType is not spark_message")
    url = _header(signed, "URL")
    if urlsplit(unquote(url)).path.rstrip("/") != request_path.rstrip("/"):
        raise SparkRefused(401, "SIGNATURE_INVALID", "the message was signed for another URL")
    if _header(signed, "VaultId") != vault_id:
        raise SparkRefused(401, "VAULT_MISMATCH", "the message comes from another vault than BRIDGE_VAULT_ID")
    try:
        not_before = parse_timestamp(_header(signed, "RequestNotBefore"))
        not_after = parse_timestamp(_header(signed, "RequestNotAfter"))
    except ValueError:
        raise SparkRefused(401, "SIGNATURE_INVALID", "the validity headers are not timestamps") from None
    if now + CLOCK_SKEW < not_before:  # the skew is added to now: never to a date at the end of the range
        raise SparkRefused(401, "MESSAGE_NOT_YET_VALID", "the message's validity window has not begun")
    if now - CLOCK_SKEW > not_after:
        raise SparkRefused(401, "MESSAGE_EXPIRED", "the message's validity window has passed")
    return url


def urls_to_verify(signed_url: str, received_url: str) -> list[str]:
    """The URL as Vault says it sent it, then as it reached us (the docs ask for "the full URL as received";
    a proxy in front may change the scheme or host, and Vault may send the header percent-encoded)."""
    candidates = [signed_url, unquote(signed_url), received_url]
    return list(dict.fromkeys(candidates))


def certificate_id(signed: Mapping[str, str]) -> str:
    value = _header(signed, "CertificateId")
    if not CERTIFICATE_ID_RE.match(value):
        raise SparkRefused(401, "CERTIFICATE_UNKNOWN", "X-VaultAPISignature-CertificateId is not an id")
    return value


def verify(certificate_pem: bytes, signature_b64: str, data: bytes | list[bytes]) -> None:
    """Pass when the signature matches ``data`` (or any of several strings to verify)."""
    try:
        signature = base64.b64decode(signature_b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SparkRefused(401, "SIGNATURE_INVALID", "X-VaultAPI-SignatureV2 is not base64") from None
    key = rsa_key(certificate_pem)
    if key is None:
        raise SparkRefused(503, "CERTIFICATE_UNAVAILABLE", "the vault's certificate holds no RSA key")
    for candidate in data if isinstance(data, list) else [data]:
        try:
            key.verify(signature, candidate, padding.PKCS1v15(), hashes.SHA256())
            return
        except InvalidSignature:
            continue
    raise SparkRefused(401, "SIGNATURE_INVALID", "the signature does not match the message")


def rsa_key(certificate_pem: bytes) -> rsa.RSAPublicKey | None:
    """The RSA public key of a PEM certificate; None when it is not one."""
    try:
        key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    except ValueError:
        return None
    return key if isinstance(key, rsa.RSAPublicKey) else None


class SparkBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    items: list[str] = Field(default_factory=list, max_length=MAX_ITEMS)
    attributes: dict[str, Any] = Field(default_factory=dict)


class SparkMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    vault_name: str | None = None
    vault_host_name: str | None = None
    queue_name: str = Field(min_length=1, max_length=255)
    message_id: str = Field(min_length=1, max_length=128)
    send_attempt: int | None = None
    enter_queue_timestamp: str | None = None
    send_message_timestamp: str | None = None
    message: SparkBody


class ThinEvent(BaseModel):
    webhook_id: str
    fields: StoredFields
    document: dict[str, Any]


def thin_events(message: SparkMessage) -> list[ThinEvent]:
    """One CTMS event per item (record id), as a thin webhook would carry it: the record is read from the
    vault when delivered. ``enter_queue_timestamp`` stands for the change's time: Vault queued the message
    after the change, and the record is read later still, so the read holds every change up to it."""
    attributes = message.message.attributes
    obj, event = attributes.get(OBJECT_ATTRIBUTE), attributes.get(EVENT_ATTRIBUTE)
    if not isinstance(obj, str) or not VAULT_NAME_RE.match(obj):
        raise SparkRefused(422, "MESSAGE_INVALID", "message.attributes.object must name a Vault object")
    type_ = EVENT_TYPES.get(str(event).lower()) if isinstance(event, str) else None
    if type_ is None:
        raise SparkRefused(
            422, "MESSAGE_INVALID", "message.attributes.event must be insert, update or delete"
        )
    stamp = message.enter_queue_timestamp or message.send_message_timestamp
    try:
        queued = parse_timestamp(stamp) if stamp else datetime.now(UTC)
    except ValueError:
        raise SparkRefused(422, "MESSAGE_INVALID", "enter_queue_timestamp is not a timestamp") from None
    spark = {"queue_name": message.queue_name, "message_id": message.message_id}
    events: list[ThinEvent] = []
    for item in dict.fromkeys(message.message.items):  # a record named twice is one change
        if not RECORD_ID_RE.match(item):
            raise SparkRefused(
                422, "MESSAGE_INVALID", "each item must be a record id (1 to 64 letters or digits)"
            )
        events.append(
            ThinEvent(
                webhook_id=f"spark:{message.message_id}:{item}",
                fields=StoredFields(type=type_, object=obj, record_id=item, source_modified_at=queued),
                document={
                    "type": type_,
                    "timestamp": queued.isoformat().replace("+00:00", "Z"),
                    "data": {"object": obj, "id": item},
                    "spark": spark,
                },
            )
        )
    return events

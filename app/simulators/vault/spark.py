"""Spark messages, as a CTMS vault sends them to an external connection's URL.

Each record change becomes one message on the queue (a vault-side trigger's choice: ``object`` and
``event`` attributes, the record id as the one item), signed with the simulator's RSA key: the
``X-VaultAPISignature-*`` headers, then ``X-VaultAPI-SignatureV2`` = base64 SHA256withRSA of the string to
verify (Veeva: "Spark message signing and verification"). A failed delivery is sent again, with the same
``message_id``, ``send_attempt`` one higher and a fresh signature. ``certificates`` serves the certificate.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from app.domain.spark import signature_headers, string_to_verify
from app.simulators.vault import responses as r

if TYPE_CHECKING:
    from app.simulators.vault.state import VaultState

SPARK_PATH = "/webhooks/ctms/spark"
CERTIFICATE_ID = "00001"
QUEUE_NAME = "bridge_ctms_changes__c"
EVENTS = {"created": "insert", "updated": "update", "deleted": "delete"}


@dataclass(frozen=True)
class SigningKey:
    key: rsa.RSAPrivateKey
    certificate_pem: bytes


def new_signing_key(name: str = "vault.sim.example.com") -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return SigningKey(key, certificate.public_bytes(serialization.Encoding.PEM))


@cache
def simulator_key() -> SigningKey:
    """One key per process: RSA key generation is slow, and every simulated vault may share it."""
    return new_signing_key()


def _stamp(moment: datetime) -> str:
    return r.iso_millis(moment)


def signed_spark_headers(
    body: bytes,
    url: str,
    *,
    vault_id: int | str,
    key: SigningKey | None = None,
    certificate_id: str = CERTIFICATE_ID,
    now: datetime | None = None,
    header_url: str | None = None,
) -> dict[str, str]:
    """The headers Vault sends with a Spark message (valid from a minute before to five minutes after),
    signed over ``url``; ``header_url`` (tests) puts another form of it in ``X-VaultAPISignature-URL``."""
    key = key or simulator_key()
    now = now or datetime.now(UTC)
    headers = {
        "X-VaultAPISignature-CertificateId": certificate_id,
        "X-VaultAPISignature-ExecutionId": str(uuid.uuid4()),
        "X-VaultAPISignature-RequestId": uuid.uuid4().hex,
        "X-VaultAPISignature-RequestDateTime": _stamp(now),
        "X-VaultAPISignature-RequestNotBefore": _stamp(now - timedelta(minutes=1)),
        "X-VaultAPISignature-RequestNotAfter": _stamp(now + timedelta(minutes=5)),
        "X-VaultAPISignature-RequestType": "spark_message",
        "X-VaultAPISignature-URL": header_url or url,
        "X-VaultAPISignature-VaultId": str(vault_id),
    }
    data = string_to_verify(signature_headers(headers), body, url)
    signature = key.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return {
        **headers,
        "X-VaultAPI-SignatureV2": base64.b64encode(signature).decode(),
        "Content-Type": "application/json",
        "User-Agent": "Veeva Vault Spark Message Agent",
    }


def spark_message(
    state: VaultState,
    object_name: str,
    event: str,
    items: list[str],
    *,
    message_id: str | None = None,
    send_attempt: int = 1,
    queued: datetime | None = None,
) -> dict[str, Any]:
    queued = queued or datetime.now(UTC)
    return {
        "vault_name": state.config.vault_name,
        "vault_host_name": "sim.veevavault.com",
        "queue_name": QUEUE_NAME,
        "enter_queue_timestamp": _stamp(queued),
        "send_message_timestamp": _stamp(datetime.now(UTC)),
        "send_attempt": send_attempt,
        "message_id": message_id or str(uuid.uuid4()),
        "message": {"attributes": {"object": object_name, "event": event}, "items": items},
    }


def _change_time(state: VaultState, object_name: str, record_id: str) -> datetime:
    """When the change entered the queue: as the vault stamps the change itself (the record's
    modification), so the message and the record tell the same time; now for a deleted record."""
    record = state.get(object_name, record_id) or {}
    try:
        return r.parse_instant(str(record["modified_date__v"]))
    except (KeyError, ValueError):
        return datetime.now(UTC)


def send_change(state: VaultState, object_name: str, kind: str, record_id: str) -> None:
    """Queue one change as a Spark message to the bridge (in the background, retried like Vault does)."""
    target = state.emitter.target
    if not state.emitter.enabled or target is None:
        return
    url = target.url.rstrip("/") + SPARK_PATH
    message_id, queued = str(uuid.uuid4()), _change_time(state, object_name, record_id)

    def request(attempt: int) -> tuple[bytes, dict[str, str]]:
        message = spark_message(
            state,
            object_name,
            EVENTS[kind],
            [record_id],
            message_id=message_id,
            send_attempt=attempt,
            queued=queued,
        )
        body = orjson.dumps(message)
        return body, signed_spark_headers(body, url, vault_id=state.config.vault_id)

    state.emitter.post(url, f"spark.{EVENTS[kind]}", message_id, request)

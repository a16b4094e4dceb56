"""Standard Webhooks signatures (https://www.standardwebhooks.com): sign and verify, no I/O.

The signed content is ``{webhook-id}.{webhook-timestamp}.{raw body}``, HMAC-SHA256 with the base64 key
that follows the ``whsec_`` prefix; the header carries space-separated ``v1,<base64 signature>`` items.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret
DEFAULT_TOLERANCE_SECONDS = 5 * 60


class SignatureError(Exception):
    """The request cannot be trusted; ``code`` is stable and safe to return to the sender."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError as exc:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from exc


def is_valid_secret(secret: str) -> bool:
    try:
        return secret.startswith(SECRET_PREFIX) and len(_key(secret)) >= 16
    except ValueError:
        return False


def _digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one secret."""
    return "v1," + base64.b64encode(_digest(_key(secret), msg_id, timestamp, body)).decode()


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "content-type": "application/json",
    }


@dataclass(frozen=True, slots=True)
class VerifiedHeaders:
    msg_id: str
    timestamp: int


def verify(
    secrets_: Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> VerifiedHeaders:
    """Check the headers against any of the secrets (rotation); raise SignatureError otherwise."""
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    header = headers.get("webhook-signature")
    if not msg_id or not stamp or not header:
        raise SignatureError(
            "SIGNATURE_HEADERS_MISSING", "webhook-id, webhook-timestamp and webhook-signature are required"
        )
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureError("TIMESTAMP_INVALID", "webhook-timestamp must be Unix seconds") from None
    if abs(now - timestamp) > tolerance:
        raise SignatureError(
            "TIMESTAMP_OUT_OF_TOLERANCE", f"webhook-timestamp is more than {tolerance}s from now"
        )
    offered: list[bytes] = []
    for item in header.split():
        version, _, value = item.partition(",")
        if version != "v1":
            continue
        try:
            offered.append(base64.b64decode(value, validate=True))
        except ValueError:
            continue
    if offered:
        for secret in secrets_:
            expected = _digest(_key(secret), msg_id, timestamp, body)
            # compare against every offered signature so timing does not say which one matched
            if any(hmac.compare_digest(expected, sig) for sig in offered):
                return VerifiedHeaders(msg_id=msg_id, timestamp=timestamp)
    raise SignatureError("SIGNATURE_INVALID", "no webhook-signature matches the body with a known secret")


def path_token(secret: str, purpose: str) -> str:
    """A URL-safe token derived from a webhook secret, for senders that cannot sign (Salesforce Outbound
    Messages): it proves the sender was given the URL, and it changes when the secret is rotated."""
    digest = hmac.new(_key(secret), purpose.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:32]


def matches_path_token(secrets: Iterable[str], purpose: str, token: str) -> bool:
    if not token.isascii():  # compare_digest takes ASCII text only; no token of ours is anything else
        return False
    return any(
        hmac.compare_digest(path_token(s, purpose).encode(), token.encode())
        for s in secrets
        if is_valid_secret(s)
    )

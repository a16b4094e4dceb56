"""The JWT bearer grant as Salesforce checks it ("OAuth 2.0 JWT Bearer Flow for Server-to-Server
Integration"): the assertion is an RS256 JWS signed by the key whose certificate is uploaded to the
connected app (``iss`` its consumer key), for ``aud`` the login server, with ``exp`` still ahead and
``sub`` a user pre-authorized for the app. Refusals carry the platform's OAuth error and description.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True)
class JwtClient:
    """A connected app with "Use digital signatures": its certificate, and the usernames an admin
    pre-authorized (Permitted Users: admin approved users are pre-authorized)."""

    public_key: rsa.RSAPublicKey
    usernames: frozenset[str]


class Refused(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def public_key_of(pem: str) -> rsa.RSAPublicKey:
    """The RSA public key of an X.509 certificate (what Setup uploads) or of a bare public key, PEM."""
    data = pem.encode()
    key: Any
    try:
        key = x509.load_pem_x509_certificate(data).public_key()
    except ValueError:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the certificate must hold an RSA key")
    return key


def _part(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _decode(assertion: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    try:
        header_b64, claims_b64, signature_b64 = assertion.split(".")
        header, claims = orjson.loads(_part(header_b64)), orjson.loads(_part(claims_b64))
        signature = _part(signature_b64)
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise Refused("invalid_grant", "invalid assertion") from None
    if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") != "RS256":
        raise Refused("invalid_grant", "invalid assertion")
    return header, claims, f"{header_b64}.{claims_b64}".encode(), signature


def verify(
    assertion: str, clients: dict[str, JwtClient], *, audiences: set[str], now: float
) -> tuple[str, str]:
    """(client_id, username) of a valid assertion, else ``Refused``."""
    if not assertion:
        raise Refused("invalid_request", "assertion is missing")
    _, claims, signed, signature = _decode(assertion)
    client_id = str(claims.get("iss") or "")
    client = clients.get(client_id)
    if client is None:
        raise Refused("invalid_client_id", "client identifier invalid")
    try:
        client.public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise Refused("invalid_grant", "invalid assertion") from None
    aud = claims.get("aud")
    given = set(aud) if isinstance(aud, list) else {aud}
    if not {str(a).rstrip("/") for a in given if a} & audiences:
        raise Refused("invalid_grant", "audience is invalid")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= now:
        raise Refused("invalid_grant", "expired authorization code")
    username = str(claims.get("sub") or "")
    if username not in client.usernames:
        raise Refused("invalid_grant", "user hasn't approved this consumer")
    return client_id, username

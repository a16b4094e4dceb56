"""RS256 JSON Web Tokens for the OAuth 2.0 JWT bearer flow (RFC 7523), built with ``cryptography``.

Salesforce's "OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration": the client signs a JWT with the
private key whose certificate is uploaded to the connected app, with ``iss`` the consumer key, ``sub`` the
username, ``aud`` the authorization server (``https://login.salesforce.com``, or ``https://test.salesforce.com``
for a sandbox) and ``exp`` a few minutes ahead, and posts it as ``assertion`` with ``grant_type``
``urn:ietf:params:oauth:grant-type:jwt-bearer``. Errors never carry the key.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import orjson
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LIFETIME_SECONDS = 170  # Salesforce wants exp within 3 minutes; a little less allows for clock skew
PRODUCTION_AUDIENCE = "https://login.salesforce.com"
SANDBOX_AUDIENCE = "https://test.salesforce.com"


class PrivateKeyError(ValueError):
    """The private key cannot sign: not PEM, encrypted, or not RSA. The message never quotes the key."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except TypeError:
        raise PrivateKeyError("the private key is encrypted; give it without a passphrase") from None
    except (ValueError, UnsupportedAlgorithm):
        raise PrivateKeyError("not a PEM private key (-----BEGIN PRIVATE KEY----- …)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PrivateKeyError("not an RSA private key: Salesforce verifies RS256 signatures")
    return key


def sign_rs256(private_key_pem: str, claims: dict[str, Any]) -> str:
    """A compact JWS: base64url(header).base64url(claims).base64url(RSASSA-PKCS1-v1_5 SHA-256 signature)."""
    key = load_private_key(private_key_pem)
    header = b64url(orjson.dumps({"alg": "RS256", "typ": "JWT"}))
    payload = b64url(orjson.dumps(claims))
    signing_input = f"{header}.{payload}".encode()
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{b64url(signature)}"


def bearer_assertion(
    private_key_pem: str, *, client_id: str, username: str, audience: str, now: float
) -> str:
    claims = {"iss": client_id, "sub": username, "aud": audience, "exp": int(now) + LIFETIME_SECONDS}
    return sign_rs256(private_key_pem, claims)


def default_audience(login_url: str) -> str:
    """Salesforce's audience for a token endpoint: test.salesforce.com for sandboxes (also reached through
    their ``*.sandbox.my.salesforce.com`` My Domain), else login.salesforce.com."""
    host = (urlsplit(login_url).hostname or "").lower()
    if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
        return SANDBOX_AUDIENCE
    return PRODUCTION_AUDIENCE

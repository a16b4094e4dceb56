"""RSA key pairs and self-signed certificates for the JWT bearer flow, as `openssl req -x509` makes them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives import serialization

from app.simulators.vault.spark import new_signing_key


@dataclass(frozen=True)
class KeyPair:
    private_key: str  # PKCS#8 PEM, unencrypted: what the bridge is given
    certificate: str  # X.509 PEM: what the connected app holds


@cache
def key_pair(name: str = "bridge") -> KeyPair:
    """One pair per name for the test run (RSA key generation is slow)."""
    signing = new_signing_key(f"{name}.example.com")
    key, certificate = signing.key, signing.certificate_pem
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return KeyPair(private.decode(), certificate.decode())

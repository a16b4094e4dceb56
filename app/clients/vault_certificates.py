"""The vault's Spark signing certificates, fetched by id from the configured vault and kept.

``GET /api/{version}/services/certificate/{id}`` needs no session (Veeva: "Retrieve Signing Certificate")
and answers the PEM. A certificate id the vault does not know is remembered for a while too, so a flood of
forged messages naming random ids costs the vault one call per id, not one per message.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import httpx

from app.clients.errors import PermanentError, TransientError

PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"
UNKNOWN_FOR_SECONDS = 300.0
MAX_KEPT = 64


class CertificateCache:
    def __init__(self, http: httpx.AsyncClient, vault_url: str, api_version: str) -> None:
        self._http = http
        self._base = vault_url.rstrip("/") + f"/api/{api_version}/services/certificate/"
        self._known: OrderedDict[str, bytes] = OrderedDict()
        self._unknown: dict[str, float] = {}

    async def get(self, certificate_id: str) -> bytes:
        """The PEM; PermanentError when the vault does not know the id, TransientError when it cannot say."""
        if pem := self._known.get(certificate_id):
            return pem
        if self._unknown.get(certificate_id, 0.0) > time.monotonic():
            raise PermanentError("CERTIFICATE_UNKNOWN", "the vault has no certificate with this id")
        try:
            response = await self._http.get(self._base + certificate_id)
        except httpx.HTTPError as exc:
            raise TransientError(
                "CERTIFICATE_UNAVAILABLE", f"the vault could not be reached: {exc}"
            ) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError("CERTIFICATE_UNAVAILABLE", f"the vault answered {response.status_code}")
        pem = response.content.strip()
        if response.status_code != 200 or not pem.startswith(PEM_BEGIN):
            self._unknown[certificate_id] = time.monotonic() + UNKNOWN_FOR_SECONDS
            raise PermanentError("CERTIFICATE_UNKNOWN", "the vault has no certificate with this id")
        self._known[certificate_id] = pem
        while len(self._known) > MAX_KEPT:
            self._known.popitem(last=False)
        return pem

"""The vault's Spark signing certificates, fetched by id from the configured vault and kept.

``GET /api/{version}/services/certificate/{id}`` needs no session (Veeva: "Retrieve Signing Certificate")
and answers the PEM. The fetch happens before a signature can be checked, so forged messages must not
turn into calls to the vault: an id the vault does not know is remembered for a while, one fetch per id
runs at a time, and at most ``MAX_MISSES_PER_MINUTE`` unknown ids are asked about a minute (then a new id
is answered "try later" without asking; a certificate already kept is unaffected).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict

import httpx

from app.clients.errors import PermanentError, TransientError
from app.domain.spark import rsa_key

PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"
UNKNOWN_FOR_SECONDS = 300.0
MAX_KEPT = 64
MAX_MISSES_PER_MINUTE = 10


class CertificateCache:
    def __init__(self, http: httpx.AsyncClient, vault_url: str, api_version: str) -> None:
        self._http = http
        self._base = vault_url.rstrip("/") + f"/api/{api_version}/services/certificate/"
        self._known: OrderedDict[str, bytes] = OrderedDict()
        self._unknown: OrderedDict[str, float] = OrderedDict()  # id -> until when it is known to be unknown
        self._fetching: dict[str, asyncio.Lock] = {}
        self._misses: list[float] = []

    async def get(self, certificate_id: str) -> bytes:
        """The PEM; PermanentError when the vault does not know the id, TransientError when it cannot say."""
        if pem := self._known.get(certificate_id):
            return pem
        lock = self._fetching.setdefault(certificate_id, asyncio.Lock())
        async with lock:  # one fetch per id at a time: the others wait for its answer
            try:
                return await self._get_once(certificate_id)
            finally:
                if not lock._waiters:
                    self._fetching.pop(certificate_id, None)

    async def _get_once(self, certificate_id: str) -> bytes:
        if pem := self._known.get(certificate_id):
            return pem
        now = time.monotonic()
        if self._unknown.get(certificate_id, 0.0) > now:
            raise _unknown()
        self._misses = [t for t in self._misses if t > now - 60.0]
        if len(self._misses) >= MAX_MISSES_PER_MINUTE:  # a flood of new ids: not asked about, and a real
            # message caught in it is answered "later" (Vault sends it again), never refused for good
            raise TransientError(
                "CERTIFICATE_UNAVAILABLE", "too many unknown certificate ids; try again later"
            )
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
            self._misses.append(now)
            self._unknown[certificate_id] = now + UNKNOWN_FOR_SECONDS
            while len(self._unknown) > MAX_KEPT:
                self._unknown.popitem(last=False)
            raise _unknown()
        if rsa_key(pem) is None:  # kept only once it is a certificate with a key: else asked again later
            raise TransientError(
                "CERTIFICATE_UNAVAILABLE", "the vault answered a certificate that cannot be read"
            )
        self._known[certificate_id] = pem
        while len(self._known) > MAX_KEPT:
            self._known.popitem(last=False)
        return pem


def _unknown() -> PermanentError:
    return PermanentError("CERTIFICATE_UNKNOWN", "the vault has no certificate with this id")

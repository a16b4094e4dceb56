"""One client per target per process, so sessions and tokens are reused across jobs.

A connection's client is rebuilt when the connection changes (its ``updated_at`` moves), so new credentials
take effect without a restart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from app.clients.crm import CrmGateway, SalesforceGateway, VaultCrmGateway
from app.clients.errors import PermanentError
from app.clients.salesforce import CLIENT_CREDENTIALS, SalesforceClient, SalesforceCredentials
from app.clients.throttle import LocalGate, ThrottleGate, crm_target, ctms_target
from app.clients.vault import VaultClient, VaultCredentials
from app.clients.vault_certificates import CertificateCache
from app.config import Settings
from app.crypto import SecretBox


class ClientRegistry:
    def __init__(self, http: httpx.AsyncClient, settings: Settings, gate: ThrottleGate | None = None) -> None:
        self._http = http
        self._settings = settings
        self.gate: ThrottleGate = gate or LocalGate()  # one per process: every client shares its pauses
        self._ctms: VaultClient | None = None
        self._crm: dict[str, tuple[datetime, CrmGateway]] = {}
        self._certificates: CertificateCache | None = None

    def ctms(self) -> VaultClient:
        if self._ctms is None:
            s = self._settings
            if not (s.vault_url and s.vault_username and s.vault_password):
                raise PermanentError(
                    "CTMS_NOT_CONFIGURED",
                    "set BRIDGE_VAULT_URL, BRIDGE_VAULT_USERNAME and BRIDGE_VAULT_PASSWORD",
                )
            creds = VaultCredentials(
                s.vault_url,
                s.vault_username,
                s.vault_password.get_secret_value(),
                s.vault_id,
                s.vault_api_version,
            )
            self._ctms = VaultClient(self._http, creds, target=ctms_target(), gate=self.gate)
        return self._ctms

    def spark_certificates(self) -> CertificateCache:
        """The CTMS vault's Spark signing certificates (no sign-in needed to fetch them)."""
        if self._certificates is None:
            s = self._settings
            if not s.vault_url:
                raise PermanentError("CTMS_NOT_CONFIGURED", "set BRIDGE_VAULT_URL to receive Spark messages")
            self._certificates = CertificateCache(self._http, s.vault_url, s.vault_api_version)
        return self._certificates

    def crm(self, connection: Any) -> CrmGateway:
        """The gateway for a Connection row (duck-typed to keep clients free of model imports)."""
        cached = self._crm.get(connection.id)
        if cached and cached[0] == connection.updated_at:
            return cached[1]
        gateway = build_gateway(self._http, self._settings, connection, self.gate)
        self._crm[connection.id] = (connection.updated_at, gateway)
        return gateway


def build_gateway(
    http: httpx.AsyncClient, settings: Settings, connection: Any, gate: ThrottleGate | None = None
) -> CrmGateway:
    crm: dict[str, Any] = dict(connection.crm or {})
    secrets: dict[str, Any] = SecretBox(settings.encryption_key).open(connection.secrets_encrypted) or {}
    target = crm_target(connection.id)
    if connection.platform == "salesforce":
        creds = SalesforceCredentials(
            login_url=str(crm.get("login_url", "https://login.salesforce.com")),
            client_id=str(crm.get("client_id", "")),
            client_secret=str(secrets.get("client_secret", "")),
            api_version=str(crm.get("api_version", "v62.0")),
            auth=str(crm.get("auth", CLIENT_CREDENTIALS)),
            username=str(crm.get("username", "")),
            private_key=str(secrets.get("private_key", "")),
            audience=str(crm.get("audience") or ""),
        )
        return SalesforceGateway(SalesforceClient(http, creds, target=target, gate=gate))
    if connection.platform == "vault":
        vault = VaultCredentials(
            url=str(crm.get("vault_url", "")),
            username=str(crm.get("username", "")),
            password=str(secrets.get("password", "")),
            vault_id=crm.get("vault_id"),
            api_version=str(crm.get("api_version", "v25.2")),
        )
        return VaultCrmGateway(VaultClient(http, vault, target=target, gate=gate))
    raise PermanentError(
        "UNKNOWN_PLATFORM", f"connection platform {connection.platform!r} is not salesforce or vault"
    )

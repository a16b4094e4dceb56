"""A connection's settings as operators give them: CRM credentials per platform, checked and split.

Credentials arrive as one ``crm`` document; the secret keys (``client_secret``, ``password``) are sealed
into ``Connection.secrets_encrypted`` and the rest stays readable in ``Connection.crm``. Views built here
are what the API answers and the audit log keeps: they never hold a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.crypto import SecretBox
from app.domain.errors import InvalidConfig
from app.domain.mapping.accounts import AccountMatch
from app.domain.names import CrmNames, CtmsNames
from app.domain.vocabulary import Platform
from app.models import Connection
from app.services.operator_errors import Invalid

SECRET_KEYS: dict[str, frozenset[str]] = {
    "salesforce": frozenset({"client_secret"}),
    "vault": frozenset({"password"}),
}


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL such as https://login.salesforce.com")
    return value.rstrip("/")


class SalesforceCrm(BaseModel):
    """Veeva CRM on Salesforce: OAuth 2.0 client credentials (``client_secret`` is write-only)."""

    model_config = ConfigDict(extra="forbid")

    login_url: str = Field(examples=["https://login.salesforce.com"])
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: str = Field(min_length=1, max_length=1024, description="write-only")
    api_version: str = Field("v62.0", pattern=r"^v\d+\.\d+$")

    _url = field_validator("login_url")(_http_url)


class VaultCrm(BaseModel):
    """Vault CRM: a Vault integration user (``password`` is write-only)."""

    model_config = ConfigDict(extra="forbid")

    vault_url: str = Field(examples=["https://mycrm.veevavault.com"])
    username: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1, max_length=1024, description="write-only")
    vault_id: str | None = Field(None, max_length=32, description="the vaultId login must return")
    api_version: str = Field("v25.2", pattern=r"^v\d+\.\d+$")

    _url = field_validator("vault_url")(_http_url)


CRM_MODELS: dict[str, type[SalesforceCrm] | type[VaultCrm]] = {"salesforce": SalesforceCrm, "vault": VaultCrm}


def check_crm(platform: str, document: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate a full ``crm`` document; returns (readable settings, secrets)."""
    try:
        crm = CRM_MODELS[platform].model_validate(dict(document))
    except ValidationError as exc:
        problems = [(".".join(["crm", *map(str, e["loc"])]), e["msg"]) for e in exc.errors()]
        raise Invalid(
            "CRM_SETTINGS_INVALID", f"crm settings for a {platform} connection are invalid", problems
        ) from None
    values = crm.model_dump()
    secret_keys = SECRET_KEYS[platform]
    public = {k: v for k, v in values.items() if k not in secret_keys}
    secrets = {k: v for k, v in values.items() if k in secret_keys}
    return public, secrets


def check_object_names(platform: Platform, object_names: Mapping[str, Any]) -> dict[str, Any]:
    """The overrides as given, after the domain checked every key and value (``INVALID_OBJECT_NAMES``)."""
    try:
        CrmNames.with_overrides(platform, object_names)
    except InvalidConfig as exc:
        raise Invalid(exc.code, exc.message, exc.problems) from None
    return dict(object_names)


def check_ctms_names(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The CTMS overrides as given, after the domain checked every key and value (``INVALID_OBJECT_NAMES``)."""
    try:
        CtmsNames.with_overrides(overrides)
    except InvalidConfig as exc:
        raise Invalid(exc.code, exc.message, exc.problems) from None
    return dict(overrides)


def check_account_match(
    raw: Mapping[str, Any] | None, setting: str = "account_match"
) -> dict[str, Any] | None:
    """The identifier pair, or None for "use the global pair" (``INVALID_ACCOUNT_MATCH``)."""
    try:
        pair = AccountMatch.from_config(raw, setting=setting)
    except InvalidConfig as exc:
        raise Invalid(exc.code, exc.message, exc.problems) from None
    return pair.model_dump() if pair is not None else None


def webhook_secrets(box: SecretBox, connection: Connection) -> list[str]:
    return [str(s) for s in box.open(connection.webhook_secrets_encrypted) or []]


def view(connection: Connection, box: SecretBox) -> dict[str, Any]:
    """The connection without its secrets: what the API returns and the audit log records."""
    credentials = box.open(connection.secrets_encrypted) or {}
    return {
        "id": connection.id,
        "name": connection.name,
        "platform": connection.platform,
        "crm": dict(connection.crm),
        "credentials_set": sorted(k for k, v in credentials.items() if v),
        "webhook_secret_count": len(webhook_secrets(box, connection)),
        "account_match": connection.account_match or None,
        "sync_studies_and_sites": connection.sync_studies_and_sites,
        "object_names": dict(connection.object_names),
        "active": connection.active,
        "created_at": connection.created_at.isoformat(),
        "updated_at": connection.updated_at.isoformat(),
    }

"""A connection's settings as operators give them: CRM credentials per platform, checked and split.

Credentials arrive as one ``crm`` document; the secret keys (``client_secret``, ``private_key``,
``password``) are sealed into ``Connection.secrets_encrypted`` and the rest stays readable in
``Connection.crm``. Views built here are what the API answers and the audit log keeps: they never hold a
secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails

from app.clients.jwt_bearer import PrivateKeyError, load_private_key
from app.crypto import SecretBox
from app.domain.errors import InvalidConfig
from app.domain.mapping.accounts import AccountMatch
from app.domain.names import CrmNames, CtmsNames
from app.domain.vocabulary import Platform
from app.models import Connection
from app.services.operator_errors import Invalid

SECRET_KEYS: dict[str, frozenset[str]] = {
    "salesforce": frozenset({"client_secret", "private_key"}),
    "vault": frozenset({"password"}),
}


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL such as https://mycompany.my.salesforce.com")
    return value.rstrip("/")


class SalesforceCrm(BaseModel):
    """Veeva CRM on Salesforce, signing in with an OAuth 2.0 flow of a connected app (``auth``):
    ``client_credentials`` (``client_id`` and ``client_secret``, at the org's My Domain URL) or
    ``jwt_bearer`` (``client_id`` the consumer key, ``username`` the integration user, ``private_key``
    the PEM of the RSA key whose certificate the connected app holds). Secrets are write-only."""

    model_config = ConfigDict(extra="forbid")

    login_url: str = Field(examples=["https://mycompany.my.salesforce.com"])
    auth: Literal["client_credentials", "jwt_bearer"] = "client_credentials"
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: str | None = Field(None, min_length=1, max_length=1024, description="write-only")
    username: str | None = Field(None, min_length=1, max_length=255, description="jwt_bearer: the `sub`")
    private_key: str | None = Field(
        None, min_length=1, max_length=16384, description="jwt_bearer: RSA private key, PEM; write-only"
    )
    audience: str | None = Field(
        None,
        description="jwt_bearer: the `aud`; default https://login.salesforce.com "
        "(https://test.salesforce.com for a sandbox login URL)",
    )
    api_version: str = Field("v62.0", pattern=r"^v\d+\.\d+$")

    _url = field_validator("login_url")(_http_url)

    @field_validator("audience")
    @classmethod
    def _audience_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    def for_flow(self) -> SalesforceCrm:
        """Only the keys this flow uses: switching flow drops the other flow's credentials."""
        other = "jwt_bearer" if self.auth == "client_credentials" else "client_credentials"
        return self.model_copy(update=dict.fromkeys(FLOW_KEYS[other]))

    @field_validator("private_key")
    @classmethod
    def _signs(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                load_private_key(value)
            except PrivateKeyError as exc:
                raise ValueError(str(exc)) from None  # the message never quotes the key
        return value

    @model_validator(mode="after")
    def _flow_credentials(self) -> SalesforceCrm:
        missing = sorted(k for k in FLOW_KEYS[self.auth] - {"audience"} if not getattr(self, k))
        if missing:  # "Field required" on each key, as if the flow's keys were declared required
            details = [InitErrorDetails(type="missing", loc=(k,), input=None) for k in missing]
            raise ValidationError.from_exception_data(type(self).__name__, details)
        return self


FLOW_KEYS: dict[str, frozenset[str]] = {
    "client_credentials": frozenset({"client_secret"}),
    "jwt_bearer": frozenset({"username", "private_key", "audience"}),
}
# Salesforce's shared login hosts: the client credentials flow is refused there (it needs My Domain).
SHARED_LOGIN_HOSTS = frozenset({"login.salesforce.com", "test.salesforce.com"})


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
    if isinstance(crm, SalesforceCrm):
        crm = _check_salesforce(crm.for_flow())
        values = crm.model_dump(exclude_none=True)
    else:
        values = crm.model_dump()
    secret_keys = SECRET_KEYS[platform]
    public = {k: v for k, v in values.items() if k not in secret_keys}
    secrets = {k: v for k, v in values.items() if k in secret_keys}
    return public, secrets


def _check_salesforce(crm: SalesforceCrm) -> SalesforceCrm:
    host = (urlsplit(crm.login_url).hostname or "").lower()
    if crm.auth == "client_credentials" and host in SHARED_LOGIN_HOSTS:
        raise Invalid(
            "MY_DOMAIN_REQUIRED",
            f"the client credentials flow signs in at the org's My Domain URL "
            f"(https://<mydomain>.my.salesforce.com; a sandbox: https://<mydomain>--<sandbox>.sandbox"
            f".my.salesforce.com), not {host}: set crm.login_url to the URL shown in Setup > My Domain, "
            f"or sign in with auth jwt_bearer",
            [("crm.login_url", f"{host} does not accept the client credentials flow; use the My Domain URL")],
        )
    return crm


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

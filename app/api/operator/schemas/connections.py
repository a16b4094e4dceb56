"""Request and response bodies of /api/v1/connections (CONTRACT.md section 4). Secrets are write-only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from app.services.connection_settings import SalesforceCrm, VaultCrm

# Keys only Vault CRM settings have (``username`` is also Salesforce's, for the JWT bearer flow).
_VAULT_KEYS = frozenset({"vault_url", "password", "vault_id"})


def _crm_kind(value: Any) -> str | None:
    """Which settings ``crm`` holds; None (a 422) when it is not an object at all."""
    if isinstance(value, dict):
        keys = set(value)
    elif isinstance(value, BaseModel):
        keys = set(type(value).model_fields)
    else:
        return None
    return "vault" if keys & _VAULT_KEYS else "salesforce"


CrmSettings = Annotated[
    Annotated[SalesforceCrm, Tag("salesforce")] | Annotated[VaultCrm, Tag("vault")], Discriminator(_crm_kind)
]

ACCOUNT_MATCH_DOC = (
    "the identifier pair this connection matches persons to accounts by; null: the global pair "
    "(GET /api/v1/settings)"
)
OBJECT_NAMES_DOC = "overrides of the default CRM object, field and picklist names; keys are checked"

SALESFORCE_EXAMPLE: dict[str, Any] = {
    "name": "EU Medical CRM",
    "platform": "salesforce",
    "crm": {
        "login_url": "https://mycompany.my.salesforce.com",
        "client_id": "3MVG9…",
        "client_secret": "…",
        "api_version": "v62.0",
    },
    "account_match": {"ctms_person_field": "external_id__v", "crm_account_field": "External_ID_vod__c"},
    "sync_studies_and_sites": True,
    "object_names": {},
    "active": False,
}
VAULT_EXAMPLE: dict[str, Any] = {
    "name": "US Vault CRM",
    "platform": "vault",
    "crm": {
        "vault_url": "https://uscrm.veevavault.com",
        "username": "bridge@uscrm.example",
        "password": "…",
        "vault_id": "4711",
        "api_version": "v25.2",
    },
    "object_names": {"interaction": {"fields": {"subject": "subject_line__c"}}},
}


class ConnectionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [SALESFORCE_EXAMPLE, VAULT_EXAMPLE]},
    )

    name: str = Field(min_length=1, max_length=255)
    platform: Literal["salesforce", "vault"]
    crm: CrmSettings
    webhook_secret: str | None = Field(
        None,
        description="whsec_… secret the CRM signs webhooks with; omit to have one generated (shown once)",
    )
    account_match: dict[str, Any] | None = Field(None, description=ACCOUNT_MATCH_DOC)
    sync_studies_and_sites: bool = True
    object_names: dict[str, Any] = Field(default_factory=dict, description=OBJECT_NAMES_DOC)
    active: bool = False

    @model_validator(mode="after")
    def _crm_fits_platform(self) -> Self:
        if _crm_kind(self.crm) != self.platform:
            raise ValueError(f"crm holds {_crm_kind(self.crm)} settings but platform is {self.platform}")
        return self


class ConnectionUpdate(BaseModel):
    """Only the keys sent change. ``crm`` is merged key by key (send just ``client_secret`` to change it);
    ``webhook_secret`` replaces every webhook secret at once (for a gradual rotation use
    ``POST …/webhook-secrets``); ``account_match: null`` goes back to the global pair."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"crm": {"client_secret": "…"}}, {"account_match": None}]},
    )

    name: str | None = Field(None, min_length=1, max_length=255)
    crm: dict[str, Any] | None = Field(None, description="the crm keys to change, secrets included")
    webhook_secret: str | None = None
    account_match: dict[str, Any] | None = Field(None, description=ACCOUNT_MATCH_DOC)
    sync_studies_and_sites: bool | None = None
    object_names: dict[str, Any] | None = Field(
        None, description=OBJECT_NAMES_DOC + "; replaces the whole document"
    )
    active: bool | None = None


class ConnectionOut(BaseModel):
    id: str = Field(examples=["conn_3f9a1c2b7d4e"])
    name: str
    platform: Literal["salesforce", "vault"]
    crm: dict[str, Any] = Field(
        description="CRM settings without secrets",
        examples=[
            {
                "login_url": "https://mycompany.my.salesforce.com",
                "client_id": "3MVG9…",
                "api_version": "v62.0",
            }
        ],
    )
    credentials_set: list[str] = Field(
        description="which secret keys are stored (never their values)", examples=[["client_secret"]]
    )
    webhook_secret_count: int = Field(description="webhook secrets that verify (2 during a rotation)")
    account_match: dict[str, Any] | None
    sync_studies_and_sites: bool
    object_names: dict[str, Any]
    active: bool
    created_at: datetime
    updated_at: datetime
    throttled_until: datetime | None = Field(
        None,
        description="the org asked us to slow down: no worker calls it before this time (shown by the GET "
        "routes; null when it is not paused)",
    )


class ConnectionCreated(ConnectionOut):
    webhook_secret: str | None = Field(
        description="the generated webhook secret: shown this once, configure it in the CRM now; null when you sent one"
    )


class WebhookSecretAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webhook_secret: str | None = Field(None, description="omit to have one generated (shown once)")


class WebhookSecretAdded(BaseModel):
    connection: ConnectionOut
    webhook_secret: str | None = Field(
        description="the generated secret, shown this once; null when you sent one"
    )


class ForgottenMatches(BaseModel):
    connection_id: str
    dropped: int = Field(
        description="cached person → account matches dropped; each is made again when next needed"
    )


class DeletedConnection(BaseModel):
    id: str
    deleted: Literal[True] = True
    deliveries_discarded: int = Field(description="waiting deliveries of this connection, now discarded")


class CheckOut(BaseModel):
    name: str = Field(examples=["crm.describe.Vault_Clinical_Interaction_vod__c"])
    ok: bool
    detail: str


class ConnectionTestReport(BaseModel):
    ok: bool
    checks: list[CheckOut]


class OutboundMessagePaths(BaseModel):
    """Where a Salesforce Outbound Message of this connection is sent (after the bridge's public URL)."""

    paths: list[str] = Field(
        description="one per current webhook secret, newest last: configure the last one; during a secret "
        "rotation the older ones keep working until the previous secrets are retired",
        examples=[["/webhooks/crm/conn_0123456789ab/outbound-messages/3q2-7wEjvK1bHn8cQx0aYg5sLdT9uFpR"]],
    )

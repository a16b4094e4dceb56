"""Bodies of settings, links, transfer runs, the audit log and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.repositories.audit import AuditFilter


class SettingsOut(BaseModel):
    ctms_person_field: str = Field(
        examples=["external_id__v"], description="Person field holding the shared identifier"
    )
    crm_account_field: str = Field(examples=["External_ID_vod__c"], description="Account field holding it")
    automate_monitoring_events: bool = Field(description="F8: Monitoring Events create Clinical Activities")
    automate_communication_log_items: bool = Field(description="F8: Communication Log Items do too")
    retry_horizon_seconds: int = Field(
        description="how long transient failures are retried before a delivery is dead-lettered"
    )
    unmatched_max_age_seconds: int = Field(description="how long an unmatched person is retried")
    ctms_names: dict[str, Any] = Field(
        description="overrides of the CTMS object, field and picklist names (empty: the defaults)",
        examples=[{"picklists": {"phase": {"phase_2a__c": "phase_2"}}}],
    )
    updated_at: datetime


class SettingsUpdate(BaseModel):
    """Fields left out keep their value. A new identifier pair forgets cached person-account matches of
    every connection that uses the global pair."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"retry_horizon_seconds": 86400, "automate_monitoring_events": True}]
        },
    )

    ctms_person_field: str | None = None
    crm_account_field: str | None = None
    automate_monitoring_events: bool | None = None
    automate_communication_log_items: bool | None = None
    retry_horizon_seconds: int | None = Field(None, ge=60, le=30 * 24 * 3600)
    unmatched_max_age_seconds: int | None = Field(None, ge=60, le=90 * 24 * 3600)
    ctms_names: dict[str, Any] | None = Field(
        None,
        description=(
            "overrides of the CTMS names, replacing the previous overrides (`{}`: back to the defaults); "
            "`GET /api/v1/settings/ctms-names` shows the names in force. 422 `INVALID_OBJECT_NAMES` names "
            "each bad key"
        ),
    )


class LinkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    connection_id: str
    source_system: str = Field(examples=["ctms"])
    source_object: str = Field(examples=["crm_activity__v"])
    source_id: str = Field(examples=["V6A000000001001"])
    target_object: str = Field(examples=["Vault_Clinical_Interaction_vod__c"])
    target_id: str | None = Field(examples=["a1X5g000001AbCdEAK"])
    last_applied_modified_at: datetime | None
    deleted: bool
    updated_at: datetime


class TransferRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    trigger: str = Field(examples=["schedule"])
    status: str = Field(examples=["succeeded"])
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, Any] = Field(
        examples=[{"seen": 12, "created": 3, "updated": 8, "inactivated": 1, "failed": 0}]
    )
    errors: list[Any]


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str = Field(examples=["api-key:key_1a2b3c4d5e6f (ops laptop)"])
    action: str = Field(examples=["delivery.replay"])
    resource_type: str
    resource_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditQuery(BaseModel):
    actor: str | None = None
    action: str | None = Field(None, examples=["connection.update"])
    resource_type: str | None = Field(None, examples=["connection"])
    resource_id: str | None = None
    after: AwareDatetime | None = Field(None, description="inclusive")
    before: AwareDatetime | None = Field(None, description="exclusive")

    def to_filter(self) -> AuditFilter:
        return AuditFilter(
            actor=self.actor,
            action=self.action,
            resource_type=self.resource_type,
            resource_id=self.resource_id,
            after=self.after,
            before=self.before,
        )


RoleName = Literal["viewer", "operator", "admin"]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "ops on-call", "role": "operator"}]}
    )

    name: str = Field(min_length=1, max_length=255)
    role: RoleName


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["key_1a2b3c4d5e6f"])
    name: str
    role: RoleName
    prefix: str = Field(description="the key's first characters, to recognise it", examples=["brk_Xy3kP9aQ"])
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(description="updated at most once a minute")


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="the API key: shown this once, store it now; the bridge keeps only a hash")

"""CRM connections and the bridge-wide settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from app.models.base import JsonType, UTCDateTime, utcnow


class Connection(SQLModel, table=True):
    __tablename__ = "connections"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=255, unique=True)
    platform: str = Field(max_length=16, description="salesforce or vault")
    crm: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JsonType, nullable=False), description="non-secret settings"
    )
    secrets_encrypted: str = Field(default="", description="Fernet token of the CRM credentials")
    webhook_secrets_encrypted: str = Field(default="", description="Fernet token of the whsec_ secrets")
    account_match: dict[str, Any] | None = Field(default=None, sa_column=Column(JsonType, nullable=True))
    sync_studies_and_sites: bool = True
    object_names: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonType, nullable=False))
    active: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class GlobalSettings(SQLModel, table=True):
    """One row (id 1): the settings operators change at run time through the API."""

    __tablename__ = "global_settings"

    id: int = Field(default=1, primary_key=True)
    ctms_person_field: str = Field(default="external_id__v", max_length=128)
    crm_account_field: str = Field(default="External_ID_vod__c", max_length=128)
    automate_monitoring_events: bool = False
    automate_communication_log_items: bool = False
    # transient failures are retried for this long (Salesforce keeps its events 72 h), then dead-lettered
    retry_horizon_seconds: int = 72 * 3600
    unmatched_max_age_seconds: int = 7 * 24 * 3600
    # overrides of the CTMS object, field and picklist names (CtmsNames), checked when saved
    ctms_names: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JsonType, nullable=False, server_default="{}")
    )
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

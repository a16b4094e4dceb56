"""The webhook envelopes of CONTRACT.md section 2, validated per event type (pure: used by the webhook
endpoints and by the Transfer job, which feeds caught-up changes through the same path)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.domain.dates import parse_modified
from app.domain.errors import MappingError


def parse_timestamp(value: str) -> datetime:
    """A timestamp of either platform; a ValueError (a 422 for the sender) when it is not one."""
    try:
        return parse_modified(value)
    except MappingError as exc:
        raise ValueError(exc.message) from None


CTMS_TYPES = ("ctms.record.created", "ctms.record.updated", "ctms.record.deleted")
CRM_TYPES = ("crm.call.sent_to_vault", "crm.call.deleted")
VAULT_NAME = r"^[a-z][a-z0-9_]*__[a-z]+$"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")  # senders may add fields; we keep them in the stored payload


class CtmsData(_Lenient):
    object: str = Field(pattern=VAULT_NAME, max_length=128, examples=["crm_activity__v"])
    id: str = Field(min_length=1, max_length=64, examples=["V6A000000001001"])
    modified_date__v: datetime | None = None
    record: dict[str, Any] | None = None

    @field_validator("modified_date__v", mode="before")
    @classmethod
    def _ts(cls, value: Any) -> Any:
        return parse_timestamp(value) if isinstance(value, str) else value

    @field_validator("record")
    @classmethod
    def _record_id_matches(cls, record: dict[str, Any] | None, info: Any) -> dict[str, Any] | None:
        if record is not None and "id" in record and record["id"] != info.data.get("id"):
            raise ValueError("record.id differs from data.id")
        return record


class CrmCallSent(_Lenient):
    record: dict[str, Any]

    @field_validator("record")
    @classmethod
    def _has_id(cls, record: dict[str, Any]) -> dict[str, Any]:
        record_id = record.get("Id") or record.get("id")
        if not isinstance(record_id, str) or not record_id:
            raise ValueError("record needs its CRM id (Id on Salesforce, id on Vault CRM)")
        return record


class CrmCallDeleted(_Lenient):
    Id: str = Field(min_length=1, max_length=64)
    deleted_at: datetime

    @field_validator("deleted_at", mode="before")
    @classmethod
    def _ts(cls, value: Any) -> Any:
        return parse_timestamp(value) if isinstance(value, str) else value


class Envelope(BaseModel):
    type: str
    timestamp: datetime
    data: dict[str, Any]

    @field_validator("timestamp", mode="before")
    @classmethod
    def _ts(cls, value: Any) -> Any:
        return parse_timestamp(value) if isinstance(value, str) else value


class CtmsEnvelope(Envelope):
    type: Literal["ctms.record.created", "ctms.record.updated", "ctms.record.deleted"]


class CrmEnvelope(Envelope):
    type: Literal["crm.call.sent_to_vault", "crm.call.deleted"]


@dataclass(frozen=True, slots=True)
class StoredFields:
    """What the inbox row keeps besides the payload: enough to order and find events."""

    type: str
    object: str | None
    record_id: str | None
    source_modified_at: datetime | None


def validate_ctms(body: Any) -> StoredFields:
    envelope = CtmsEnvelope.model_validate(body)
    data = CtmsData.model_validate(envelope.data)
    return StoredFields(
        type=envelope.type, object=data.object, record_id=data.id, source_modified_at=data.modified_date__v
    )


def validate_crm(body: Any) -> StoredFields:
    envelope = CrmEnvelope.model_validate(body)
    if envelope.type == "crm.call.deleted":
        deleted = CrmCallDeleted.model_validate(envelope.data)
        return StoredFields(
            type=envelope.type, object="call", record_id=deleted.Id, source_modified_at=deleted.deleted_at
        )
    sent = CrmCallSent.model_validate(envelope.data)
    record = sent.record
    modified = record.get("LastModifiedDate") or record.get("modified_date__v")
    attributes = record.get("attributes")
    object_name = attributes.get("type") if isinstance(attributes, dict) else None
    return StoredFields(
        type=envelope.type,
        object=object_name or "call",
        record_id=str(record.get("Id") or record.get("id")),
        source_modified_at=parse_timestamp(modified) if isinstance(modified, str) else datetime.now(UTC),
    )


__all__ = ["CRM_TYPES", "CTMS_TYPES", "StoredFields", "ValidationError", "validate_crm", "validate_ctms"]

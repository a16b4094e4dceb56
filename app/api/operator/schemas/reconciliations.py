"""Bodies of reconciliation runs, their drifts, and repairs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DriftKind = Literal[
    "missing_in_target",
    "changed_in_target",
    "changed_in_source",
    "deleted_in_source",
    "in_target_without_source",
    "unmatched_person",
]


class ReconciliationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str = Field(examples=["succeeded"], description="queued, running, succeeded or failed")
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    checked: int = Field(description="links compared", examples=[100000])
    counts: dict[str, int] = Field(description="drifts by kind", examples=[{"changed_in_target": 3}])
    calls: dict[str, int] = Field(
        description="API calls made, per system (ctms, or a connection id)",
        examples=[{"ctms": 100, "conn_1": 500}],
    )
    errors: list[Any]


class DriftOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    connection_id: str
    kind: str = Field(examples=["changed_in_target"])
    source_system: str = Field(examples=["ctms"])
    source_object: str = Field(examples=["crm_activity__v"])
    source_id: str
    target_object: str = Field(examples=["Vault_Clinical_Interaction_vod__c"])
    target_id: str | None
    fields: list[dict[str, Any]] = Field(
        description="changed_in_target: each field the bridge wrote and what the target has now",
        examples=[[{"field": "Subject_vod__c", "bridge_wrote": "Protocol Q&A", "target_has": "edited"}]],
    )
    repaired_at: datetime | None


class RepairIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: bool = Field(default=True, description="only say what would be done (the default)")
    kinds: list[DriftKind] | None = Field(default=None, description="only drifts of these kinds")
    source_ids: list[str] | None = Field(default=None, max_length=10_000, description="only these records")
    connection_id: str | None = Field(default=None, max_length=64)


class RepairOut(BaseModel):
    dry_run: bool
    events: int = Field(description="events stored (or that would be) to carry the repairs")
    actions: list[dict[str, Any]] = Field(description="per drift: what is sent (resend or mark_deleted)")
    skipped: list[dict[str, Any]] = Field(description="drifts a re-send cannot fix, with the reason")


FieldName = Annotated[
    str, Field(max_length=128, pattern=r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$")
]
FieldValue = Annotated[str, Field(max_length=256)] | int | float | bool


class ResyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(max_length=64)
    source_system: Literal["ctms", "crm"] = Field(examples=["ctms"])
    source_object: str = Field(
        max_length=128, pattern=r"^[A-Za-z][A-Za-z0-9_]*$", examples=["crm_activity__v"]
    )
    source_ids: list[Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]] | None = (
        Field(default=None, min_length=1, max_length=10_000, description="these records (or give `where`)")
    )
    where: dict[FieldName, FieldValue] | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description=(
            "every record of the source whose fields equal these values (or give `source_ids`), as the "
            "source answers now, at most 10,000; a field may name a parent's, e.g. study__vr.name__v"
        ),
        examples=[{"study__v": "V0S000000001001"}],
    )

    @model_validator(mode="after")
    def _ids_or_filter(self) -> ResyncIn:
        if (self.source_ids is None) == (self.where is None):
            raise ValueError("give either source_ids or where, not both")
        return self


class ResyncOut(BaseModel):
    events: int = Field(
        description="thin events stored: delivery reads and writes each record's current version"
    )

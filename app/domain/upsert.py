"""The platform-neutral write every mapping produces, and a stable hash of its content."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date

from pydantic import BaseModel, ConfigDict

FieldValue = str | bool | int | float | None
"""JSON-ready: dates are ISO strings, yes/no fields JSON booleans, an absent value null (clears it)."""


class TargetUpsert(BaseModel):
    """One record to create or update in a target system, keyed by an external id.

    ``fields`` uses the target's API names (after overrides) and does **not** contain ``id_field``;
    ``record()`` adds it, which is what a Vault upsert body and a Salesforce collection upsert need. A
    field left out of ``fields`` is left as it is in the target; a field set to None is cleared.
    ``allow_create`` False marks a partial update of a record that must already exist (deletion marks,
    inactivation): the engine sends it only where the record exists and never creates one from it.
    """

    model_config = ConfigDict(frozen=True)

    object: str
    id_field: str
    id_value: str
    fields: dict[str, FieldValue]
    allow_create: bool = True

    def record(self) -> dict[str, FieldValue]:
        return {self.id_field: self.id_value, **self.fields}

    def content_hash(self) -> str:
        return content_hash({"object": self.object, **self.record()})


def _json_default(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"content_hash cannot encode a {type(value).__name__}")


def content_hash(fields: Mapping[str, object]) -> str:
    """SHA-256 of the canonical JSON of ``fields``: equal content gives an equal hash, whatever the key order."""
    canonical = json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )
    return hashlib.sha256(canonical.encode()).hexdigest()

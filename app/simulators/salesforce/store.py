"""In-memory records of the simulated org: live records, the recycle bin and the delete log.

Values are stored in their JSON wire form (dates ``YYYY-MM-DD``, datetimes ``...000+0000``), so reads need
no conversion. Validation lives in ``writes``; this module only stores and finds. Lookups by field keep an
index (built on first use) so upserting into a large org stays fast, and a journal lets a collection call
undo exactly what it changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.simulators.salesforce.formats import IdFactory, format_datetime, normalize_id
from app.simulators.salesforce.schema import TEXT_TYPES, FieldDef, ObjectDef, Schema

Record = dict[str, Any]


@dataclass(frozen=True)
class Deletion:
    object_name: str
    id: str
    deleted_at: datetime


@dataclass
class Journal:
    """What a collection call changed, to undo it (``allOrNone``, or a request-level error)."""

    autonumbers: dict[str, int]
    created: list[tuple[str, str]] = field(default_factory=list)
    previous: dict[tuple[str, str], Record] = field(default_factory=dict)


def text_key(value: Any) -> Any:
    """External ids and SOQL text comparisons ignore case, as in the platform."""
    return value.casefold() if isinstance(value, str) else value


def _lookup_key(field_def: FieldDef, value: Any) -> Any:
    return text_key(value) if field_def.type in TEXT_TYPES else value


@dataclass
class RecordStore:
    schema: Schema
    ids: IdFactory = field(default_factory=IdFactory)
    live: dict[str, dict[str, Record]] = field(default_factory=dict)
    recycle_bin: dict[str, dict[str, Record]] = field(default_factory=dict)
    deletions: list[Deletion] = field(default_factory=list)
    autonumbers: dict[str, int] = field(default_factory=dict)
    journal: Journal | None = None
    _index: dict[tuple[str, str], dict[Any, set[str]]] = field(default_factory=dict)

    def get(self, object_name: str, record_id: str) -> Record | None:
        full = normalize_id(record_id)
        return None if full is None else self.live.get(object_name, {}).get(full)

    def get_deleted(self, object_name: str, record_id: str) -> Record | None:
        full = normalize_id(record_id)
        return None if full is None else self.recycle_bin.get(object_name, {}).get(full)

    def all(self, object_name: str, *, include_deleted: bool = False) -> list[Record]:
        records = list(self.live.get(object_name, {}).values())
        if include_deleted:
            records += list(self.recycle_bin.get(object_name, {}).values())
        return records

    def find(self, object_name: str, field_def: FieldDef, value: Any) -> list[Record]:
        """Live records whose ``field_def`` equals ``value`` (text ignoring case), oldest first."""
        key = (object_name, field_def.name)
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = {}
            for record in self.live.get(object_name, {}).values():
                self._add_to(index, field_def, record)
        ids = index.get(_lookup_key(field_def, value), set())
        records = self.live.get(object_name, {})
        return sorted((records[i] for i in ids), key=lambda r: r["Id"])

    @staticmethod
    def _add_to(index: dict[Any, set[str]], field_def: FieldDef, record: Record) -> None:
        value = record.get(field_def.name)
        if value is not None:
            index.setdefault(_lookup_key(field_def, value), set()).add(record["Id"])

    def _reindex(self, object_name: str, old: Record | None, new: Record | None) -> None:
        obj = self.schema.get(object_name)
        for (indexed_object, field_name), index in self._index.items():
            field_def = obj.fields.get(field_name) if obj is not None else None
            if indexed_object != object_name or field_def is None:
                continue
            if old is not None and old.get(field_name) is not None:
                index.get(_lookup_key(field_def, old[field_name]), set()).discard(old["Id"])
            if new is not None:
                self._add_to(index, field_def, new)

    def insert(self, obj: ObjectDef, values: Record, *, user_id: str, now: datetime) -> Record:
        record: Record = dict.fromkeys(obj.fields)
        record.update({f.name: False for f in obj.fields.values() if f.type == "boolean"})
        record.update(values)
        record_id = self.ids.new(obj.key_prefix)
        stamp = format_datetime(now)
        record.update(
            Id=record_id,
            IsDeleted=False,
            CreatedDate=stamp,
            CreatedById=user_id,
            LastModifiedDate=stamp,
            LastModifiedById=user_id,
            SystemModstamp=stamp,
        )
        if "OwnerId" in obj.fields and record.get("OwnerId") is None:
            record["OwnerId"] = user_id
        name_field = obj.fields.get("Name")
        if name_field is not None and name_field.auto_number_prefix:
            number = self.autonumbers.get(obj.name, 0) + 1
            self.autonumbers[obj.name] = number
            record["Name"] = f"{name_field.auto_number_prefix}{number:07d}"
        elif name_field is not None and record.get("Name") is None and obj.custom:
            record["Name"] = record_id  # the platform names an unnamed custom record after its id
        self.live.setdefault(obj.name, {})[record_id] = record
        self._reindex(obj.name, None, record)
        if self.journal is not None:
            self.journal.created.append((obj.name, record_id))
        return record

    def update(
        self, obj: ObjectDef, record_id: str, values: Record, *, user_id: str, now: datetime
    ) -> Record:
        record = self.live[obj.name][record_id]
        before = dict(record)
        if self.journal is not None:
            self.journal.previous.setdefault((obj.name, record_id), before)
        record.update(values)
        stamp = format_datetime(now)
        record.update(LastModifiedDate=stamp, LastModifiedById=user_id, SystemModstamp=stamp)
        self._reindex(obj.name, before, record)
        return record

    def delete(self, obj: ObjectDef, record_id: str, *, user_id: str, now: datetime) -> Record:
        record = self.live[obj.name].pop(record_id)
        self._reindex(obj.name, record, None)
        stamp = format_datetime(now)
        record.update(IsDeleted=True, LastModifiedDate=stamp, LastModifiedById=user_id, SystemModstamp=stamp)
        self.recycle_bin.setdefault(obj.name, {})[record_id] = record
        self.deletions.append(Deletion(obj.name, record_id, now))
        return record

    def begin(self) -> None:
        self.journal = Journal(autonumbers=dict(self.autonumbers))

    def commit(self) -> None:
        self.journal = None

    def rollback(self) -> None:
        """Undo every insert and update since ``begin``; ids handed out stay used, as in the platform."""
        journal, self.journal = self.journal, None
        if journal is None:
            return
        created = set(journal.created)
        for object_name, record_id in reversed(journal.created):
            record = self.live[object_name].pop(record_id)
            self._reindex(object_name, record, None)
        for (object_name, record_id), before in journal.previous.items():
            if (object_name, record_id) in created:
                continue
            current = self.live[object_name][record_id]
            self._reindex(object_name, current, before)
            self.live[object_name][record_id] = before
        self.autonumbers = journal.autonumbers

    def clear(self) -> None:
        self.live.clear()
        self.recycle_bin.clear()
        self.deletions.clear()
        self.autonumbers.clear()
        self._index.clear()
        self.journal = None

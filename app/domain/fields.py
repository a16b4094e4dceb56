"""Reading fields of raw API records (Vault ``data`` objects, Salesforce sObjects) with typed errors.

Both APIs hand back loosely typed JSON: Vault returns picklists as one-element lists and user ids as
numbers; Salesforce nests relationship fields in sub-objects (``Account``, ``CreatedBy``) while a Vault
VQL result flattens them (``account__vr.external_id__v``). These readers accept each of those shapes
and reject anything else with an error that names the record and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from app.domain.dates import parse_date, parse_datetime
from app.domain.errors import InvalidField, MissingField

RawRecord = Mapping[str, object]


@dataclass(frozen=True)
class RecordReader:
    """One raw record with its object name and id, so every error can say where it happened."""

    object_name: str
    raw: RawRecord
    record_id: str | None = None

    @classmethod
    def of(cls, object_name: str, raw: object, id_field: str) -> RecordReader:
        if not isinstance(raw, Mapping):
            raise InvalidField(object_name, None, "(record)", "a JSON object", raw)
        reader = cls(object_name, raw)
        return cls(object_name, raw, reader.identifier(id_field))

    def _invalid(self, field: str, expected: str) -> InvalidField:
        return InvalidField(self.object_name, self.record_id, field, expected, self.raw.get(field))

    def missing(self, field: str) -> MissingField:
        return MissingField(self.object_name, self.record_id, field)

    def text(self, field: str) -> str | None:
        """A text field; absent, null and empty all read as None."""
        value = self.raw.get(field)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return value
        raise self._invalid(field, "text")

    def identifier(self, field: str) -> str | None:
        """A record id or reference; Vault user ids arrive as JSON numbers."""
        value = self.raw.get(field)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise self._invalid(field, "a record id")

    def required_identifier(self, field: str) -> str:
        value = self.identifier(field)
        if value is None:
            raise self.missing(field)
        return value

    def picklist(self, field: str) -> str | None:
        """One picklist value, given as a string or (Vault) as a list holding one string."""
        value = self.raw.get(field)
        if isinstance(value, list):
            if not value:
                return None
            if len(value) == 1 and isinstance(value[0], str):
                value = value[0]
            else:
                raise self._invalid(field, "a single picklist value")
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return value
        raise self._invalid(field, "a picklist value")

    def required_picklist(self, field: str) -> str:
        value = self.picklist(field)
        if value is None:
            raise self.missing(field)
        return value

    def boolean(self, field: str) -> bool | None:
        """A yes/no field: JSON true/false; absent or null read as None. Strings are not guessed at."""
        value = self.raw.get(field)
        if value is None or isinstance(value, bool):
            return value
        raise self._invalid(field, "true or false")

    def date_field(self, field: str) -> date | None:
        value = self.raw.get(field)
        if value is None or value == "":
            return None
        return parse_date(value, object_name=self.object_name, record_id=self.record_id, field=field)

    def datetime_field(self, field: str) -> datetime | None:
        value = self.raw.get(field)
        if value is None or value == "":
            return None
        return parse_datetime(value, object_name=self.object_name, record_id=self.record_id, field=field)

    def related(self, relationship: str) -> dict[str, object] | None:
        """A relationship's fields, nested (``{"Account": {...}}``) or flattened (``"account__vr.x": ...``)."""
        nested = self.raw.get(relationship)
        if nested is not None and not isinstance(nested, Mapping):
            raise self._invalid(relationship, "a related record")
        found: dict[str, object] = dict(nested) if isinstance(nested, Mapping) else {}
        prefix = relationship + "."
        for key, value in self.raw.items():
            if key.startswith(prefix):
                found.setdefault(key[len(prefix) :], value)
        return found or None

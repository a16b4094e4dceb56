"""Run a parsed VQL query against the simulator's records: filter, sort, project.

Comparisons follow the field's type: datetimes as instants, references and ids as text, picklists match
when the value is one of the record's values. Relationship fields follow one outbound reference.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, overload

from app.simulators.vault import responses as r
from app.simulators.vault.schema import FieldDef, FieldType, ObjectSchema
from app.simulators.vault.vql import Condition, Junction, Membership, Query

if TYPE_CHECKING:
    from app.simulators.vault.state import VaultState

_ORDERED_OPS = {"<", "<=", ">", ">="}


@dataclass(frozen=True)
class FieldPath:
    """A selected or filtered field: on the target itself, or one reference away (``site__vr.name__v``)."""

    text: str
    field: FieldDef
    via: FieldDef | None  # the reference field followed, if any

    def value(self, state: VaultState, record: dict[str, Any]) -> Any:
        if self.via is None:
            return record.get(self.field.name)
        ref = record.get(self.via.name)
        target = state.get(self.via.target or "", ref) if ref is not None else None
        return target.get(self.field.name) if target else None


def resolve(state: VaultState, schema: ObjectSchema, text: str) -> FieldPath:
    if "." in text:
        relationship, _, name = text.partition(".")
        via = schema.relationship(relationship)
        target = state.object_schema(via.target) if via and via.target else None
        field = target.field(name) if target else None
        if via is None or field is None:
            raise r.VaultError(r.INVALID_DATA, f"Invalid field [{text}] for query target [{schema.name}]")
        return FieldPath(text, field, via)
    field = schema.field(text)
    if field is None:
        raise r.VaultError(r.INVALID_DATA, f"Invalid field [{text}] for query target [{schema.name}]")
    return FieldPath(text, field, None)


def _comparable(field: FieldDef, value: Any, *, literal: bool) -> Any:
    """Bring a stored value or a query literal to a form that compares correctly for the field's type."""
    if value is None:
        return None
    if field.type is FieldType.DATETIME:
        try:
            return _instant(str(value))
        except ValueError:
            raise r.VaultError(
                r.INVALID_DATA, f"Invalid datetime [{value}] for field [{field.name}]"
            ) from None
    if field.type in (FieldType.ID, FieldType.OBJECT):
        return str(value)
    if (
        literal
        and field.type is FieldType.NUMBER
        and (isinstance(value, bool) or not isinstance(value, int | float))
    ):
        raise r.VaultError(r.INVALID_DATA, f"Invalid number [{value}] for field [{field.name}]")
    if literal and field.type is FieldType.BOOLEAN and not isinstance(value, bool):
        raise r.VaultError(r.INVALID_DATA, f"Invalid boolean [{value}] for field [{field.name}]")
    return value


@functools.lru_cache(maxsize=65_536)
def _instant(text: str) -> datetime:
    """A stored datetime parsed once, not once per record per query (a sort compares each many times)."""
    return r.parse_instant(text)


Predicate = Callable[[dict[str, Any]], bool]


class _Matcher:
    def __init__(self, state: VaultState, schema: ObjectSchema, condition: Condition) -> None:
        self.state, self.schema = state, schema
        self.check = self._compile(condition)

    def _compile(self, cond: Condition) -> Predicate:
        if isinstance(cond, Junction):
            parts = [self._compile(p) for p in cond.parts]
            if cond.op == "and":
                return lambda rec: all(p(rec) for p in parts)
            return lambda rec: any(p(rec) for p in parts)
        path = resolve(self.state, self.schema, cond.field)
        if isinstance(cond, Membership):
            wanted = [_comparable(path.field, v, literal=True) for v in cond.values]
            return lambda rec: any(self._equal(path, rec, w) for w in wanted) != cond.negated
        if cond.op in _ORDERED_OPS and path.field.type in (FieldType.PICKLIST, FieldType.BOOLEAN):
            raise r.VaultError(r.INVALID_DATA, f"Operator {cond.op} cannot be used with field [{cond.field}]")
        literal = _comparable(path.field, cond.value, literal=True)
        if cond.op == "=":
            return lambda rec: self._equal(path, rec, literal)
        if cond.op == "!=":
            return lambda rec: not self._equal(path, rec, literal)
        if literal is None:
            raise r.VaultError(r.INVALID_DATA, f"null cannot be compared with {cond.op}")
        return lambda rec: self._ordered(path, rec, cond.op, literal)

    def _equal(self, path: FieldPath, record: dict[str, Any], literal: Any) -> bool:
        stored = path.value(self.state, record)
        if literal is None:
            return stored is None or stored == []
        if isinstance(stored, list):  # picklist: matches when the value is one of the record's values
            return literal in stored
        return bool(_comparable(path.field, stored, literal=False) == literal)

    def _ordered(self, path: FieldPath, record: dict[str, Any], op: str, literal: Any) -> bool:
        stored = _comparable(path.field, path.value(self.state, record), literal=False)
        if stored is None:
            return False
        try:
            if op == "<":
                return bool(stored < literal)
            if op == "<=":
                return bool(stored <= literal)
            if op == ">":
                return bool(stored > literal)
            return bool(stored >= literal)
        except TypeError:
            raise r.VaultError(r.INVALID_DATA, f"Invalid value [{literal}] for field [{path.text}]") from None


def run(state: VaultState, query: Query) -> Sequence[dict[str, Any]]:
    """Every matching record, sorted and projected to the selected fields (paging is the caller's job)."""
    schema = state.object_schema(query.target)
    if schema is None:
        raise r.VaultError(r.INVALID_DATA, f"Invalid query target [{query.target}]")
    selected = [resolve(state, schema, f) for f in query.fields]
    records = _by_ids(state, schema.name, query.where)
    if records is None:
        records = state.records_of(schema.name)
    if query.where is not None:
        matcher = _Matcher(state, schema, query.where)
        records = [rec for rec in records if matcher.check(rec)]
    for text, descending in reversed(query.order):  # stable sorts, last key first
        records.sort(
            key=functools.partial(_sort_key, state, resolve(state, schema, text)), reverse=descending
        )
    return ProjectedRows(state, selected, [dict(rec) for rec in records])


class ProjectedRows(Sequence[dict[str, Any]]):
    """A result set as the vault caches it: the records as they were when the query ran (copies), each
    projected to the selected fields only when a page of it is served."""

    def __init__(self, state: VaultState, selected: list[FieldPath], records: list[dict[str, Any]]) -> None:
        self._state, self._selected, self._records = state, selected, records

    def __len__(self) -> int:
        return len(self._records)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self._project(rec) for rec in self._records[index]]
        return self._project(self._records[index])

    def _project(self, record: dict[str, Any]) -> dict[str, Any]:
        return {p.text: _render(self._state, p, p.value(self._state, record)) for p in self._selected}


def _by_ids(state: VaultState, object_name: str, where: Any) -> list[dict[str, Any]] | None:
    """``id CONTAINS (…)`` (alone or ANDed): the records by id, as Vault's index finds them, instead of a
    scan of the whole object; the WHERE is still checked on each. None: no such condition."""
    parts = where.parts if isinstance(where, Junction) and where.op == "and" else (where,)
    for part in parts:
        if isinstance(part, Membership) and part.field == "id" and not part.negated:
            found = (state.get(object_name, str(v)) for v in dict.fromkeys(part.values))
            return [record for record in found if record is not None]
    return None


def _sort_key(state: VaultState, path: FieldPath, record: dict[str, Any]) -> tuple[bool, Any]:
    value = path.value(state, record)
    if isinstance(value, list):
        value = value[0] if value else None
    value = _comparable(path.field, value, literal=False)
    if isinstance(value, datetime):
        value = value.timestamp()
    return value is None, value if value is not None else 0


def _render(state: VaultState, path: FieldPath, value: Any) -> Any:
    if isinstance(value, list):
        return list(value) if state.config.picklists_as_lists else ",".join(value)
    return value

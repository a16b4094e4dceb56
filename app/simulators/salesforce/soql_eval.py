"""Run a parsed SOQL query against the store, with the platform's typing rules and its result shape.

Text comparisons ignore case; ``!=`` also matches nulls; a date or datetime field must be compared with an
unquoted literal of its own type; an Id compared with something that is not an id is an error.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from app.simulators.salesforce.errors import ApiError
from app.simulators.salesforce.formats import normalize_id, parse_date, parse_datetime
from app.simulators.salesforce.schema import ID_TYPES, TEXT_TYPES, FieldDef, FieldType, ObjectDef, Schema
from app.simulators.salesforce.soql import Condition, Group, Literal, Negation, Node, Query
from app.simulators.salesforce.store import Record, RecordStore

_LITERAL_FOR = {
    FieldType.DATE: ("date", "date", False),
    FieldType.DATETIME: ("datetime", "dateTime", False),
    FieldType.BOOLEAN: ("boolean", "boolean", False),
    FieldType.DOUBLE: ("number", "double", False),
}


@dataclass(frozen=True)
class Path:
    """A field path resolved against the schema: the references to follow, then the field."""

    hops: tuple[FieldDef, ...]
    field: FieldDef


def record_url(version: str, object_name: str, record_id: str) -> str:
    return f"/services/data/{version}/sobjects/{object_name}/{record_id}"


def unsupported_object(name: str) -> ApiError:
    return ApiError(
        400,
        "INVALID_TYPE",
        f"sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure to "
        "append the '__c' after the entity name. Please reference your WSDL or the describe call for the "
        "appropriate names.",
    )


def resolve(schema: Schema, obj: ObjectDef, parts: tuple[str, ...]) -> Path:
    hops: list[FieldDef] = []
    current = obj
    for part in parts[:-1]:
        ref = current.relationship(part)
        target = schema.get(ref.reference_to or "") if ref is not None else None
        if ref is None or target is None:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"Didn't understand relationship '{part}' in field path. If you are attempting to use a custom "
                "relationship, be sure to append the '__r' after the custom relationship name. Please reference "
                "your WSDL or the describe call for the appropriate names.",
            )
        hops.append(ref)
        current = target
    field_def = current.field(parts[-1])
    if field_def is None:
        raise ApiError(
            400,
            "INVALID_FIELD",
            f"No such column '{parts[-1]}' on entity '{current.name}'. If you are attempting to use a custom "
            "field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the "
            "describe call for the appropriate names.",
        )
    return Path(tuple(hops), field_def)


def _check_literal(field_def: FieldDef, op: str, literal: Literal) -> None:
    if literal.kind == "null":
        if op not in ("=", "!=", "IN", "NOT IN"):
            raise ApiError(400, "INVALID_FIELD", f"invalid operator on null for field '{field_def.name}'")
        return
    expected = _LITERAL_FOR.get(field_def.type, ("string", "string", True))
    if literal.kind != expected[0]:
        quoted = "should be enclosed in quotes" if expected[2] else "should not be enclosed in quotes"
        raise ApiError(
            400,
            "INVALID_FIELD",
            f"value of filter criterion for field '{field_def.name}' must be of type {expected[1]} and {quoted}",
        )
    if field_def.type in ID_TYPES and normalize_id(literal.value) is None:
        raise ApiError(400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {literal.value}")
    if op == "LIKE" and field_def.type not in TEXT_TYPES:
        raise ApiError(400, "INVALID_FIELD", f"invalid operator on field '{field_def.name}': LIKE")


def _sort_key(field_def: FieldDef, value: Any) -> Any:
    if value is None:
        return None
    if field_def.type == FieldType.DATETIME:
        return parse_datetime(value) if isinstance(value, str) else value
    if field_def.type == FieldType.DATE:
        return parse_date(value) if isinstance(value, str) else value
    if field_def.type in ID_TYPES:
        return normalize_id(value) or value
    if field_def.type in TEXT_TYPES:
        return str(value).casefold()
    return value


def _compare(op: str, stored: Any, wanted: Any) -> bool:
    if op == "=":
        return bool(stored == wanted)
    if op == "!=":
        return bool(stored != wanted)
    if stored is None or wanted is None:
        return False
    if op == "LIKE":
        pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in wanted)
        return re.fullmatch(pattern, stored, re.DOTALL) is not None
    ordered: dict[str, bool] = {
        "<": stored < wanted,
        "<=": stored <= wanted,
        ">": stored > wanted,
        ">=": stored >= wanted,
    }
    return ordered[op]


class Evaluator:
    def __init__(self, store: RecordStore, query: Query, version: str) -> None:
        self.store = store
        self.query = query
        self.version = version
        obj = store.schema.get(query.object_name)
        if obj is None:
            raise unsupported_object(query.object_name)
        self.obj = obj
        self.select = [resolve(store.schema, obj, parts) for parts in query.fields]
        self.order = [(resolve(store.schema, obj, item.path), item) for item in query.order_by]
        if query.where is not None:
            self._bind(query.where)

    def _bind(self, node: Node) -> None:
        if isinstance(node, Condition):
            field_def = resolve(self.store.schema, self.obj, node.path).field
            for literal in node.values:
                _check_literal(field_def, node.op, literal)
        elif isinstance(node, Group):
            for item in node.items:
                self._bind(item)
        else:
            self._bind(node.item)

    def value(self, record: Record, path: Path) -> Any:
        current: Record | None = record
        for ref in path.hops:
            parent_id = current.get(ref.name) if current is not None else None
            target = self.store.schema.get(ref.reference_to or "")
            if parent_id is None or target is None:
                return None
            current = self.store.get(target.name, parent_id) or self.store.get_deleted(target.name, parent_id)
        return None if current is None else current.get(path.field.name)

    def matches(self, record: Record, node: Node) -> bool:
        if isinstance(node, Group):
            results = (self.matches(record, item) for item in node.items)
            return all(results) if node.op == "AND" else any(results)
        if isinstance(node, Negation):
            return not self.matches(record, node.item)
        path = resolve(self.store.schema, self.obj, node.path)
        stored = _sort_key(path.field, self.value(record, path))
        wanted = [_sort_key(path.field, lit.value) for lit in node.values]
        if node.op in ("IN", "NOT IN"):
            hit = stored in wanted
            return hit if node.op == "IN" else not hit
        return _compare(node.op, stored, wanted[0])

    def run(self, *, include_deleted: bool) -> tuple[int, list[dict[str, Any]]]:
        """``(totalSize, records)``; records are rendered in the result shape."""
        where = self.query.where
        candidates = self._by_ids(where, include_deleted)
        if candidates is None:
            candidates = self.store.all(self.obj.name, include_deleted=include_deleted)
        found = [r for r in candidates if where is None or self.matches(r, where)]
        if self.order:
            found.sort(key=functools.cmp_to_key(self._order_cmp))
        start = self.query.offset or 0
        stop = None if self.query.limit is None else start + self.query.limit
        found = found[start:stop]
        if self.query.count_only:
            return len(found), []
        return len(found), [self.render(r) for r in found]

    def _by_ids(self, where: Any, include_deleted: bool) -> list[Record] | None:
        """``Id IN (…)`` (alone or ANDed): the records by id, as the platform's index finds them, instead of
        a scan of the whole object; the WHERE is still checked on each. None: no such condition."""
        items = where.items if isinstance(where, Group) and where.op == "AND" else (where,)
        for item in items:
            if isinstance(item, Condition) and item.path == ("Id",) and item.op == "IN":
                ids = [str(lit.value) for lit in item.values]
                if any(len(i) != 18 for i in ids):
                    return None  # a 15-character id: the scan compares it the platform's way
                found = []
                for record_id in dict.fromkeys(ids):
                    record = self.store.get(self.obj.name, record_id)
                    if record is None and include_deleted:
                        record = self.store.get_deleted(self.obj.name, record_id)
                    if record is not None:
                        found.append(record)
                return found
        return None

    def _order_cmp(self, left: Record, right: Record) -> int:
        for path, item in self.order:
            a = _sort_key(path.field, self.value(left, path))
            b = _sort_key(path.field, self.value(right, path))
            if a == b:
                continue
            if a is None or b is None:
                return (1 if a is None else -1) * (1 if item.nulls_last else -1)
            result = -1 if a < b else 1
            return -result if item.descending else result
        return 0

    def render(self, record: Record) -> dict[str, Any]:
        out = self._attributes(self.obj.name, record["Id"])
        for path in self.select:
            self._put(out, record, list(path.hops), path.field)
        return out

    def _attributes(self, object_name: str, record_id: str) -> dict[str, Any]:
        return {"attributes": {"type": object_name, "url": record_url(self.version, object_name, record_id)}}

    def _put(self, out: dict[str, Any], record: Record, hops: list[FieldDef], field_def: FieldDef) -> None:
        if not hops:
            out[field_def.name] = record.get(field_def.name)
            return
        ref, rest = hops[0], hops[1:]
        key = ref.relationship_name or ref.name
        target = self.store.schema.get(ref.reference_to or "")
        parent_id = record.get(ref.name)
        parent = None
        if parent_id is not None and target is not None:
            parent = self.store.get(target.name, parent_id) or self.store.get_deleted(target.name, parent_id)
        if parent is None or target is None:
            out.setdefault(key, None)
            return
        nested = out.get(key) or self._attributes(target.name, parent["Id"])
        out[key] = nested
        self._put(nested, parent, rest, field_def)

"""Salesforce's two error shapes.

A request that fails as a whole answers ``[{"message", "errorCode", "fields"}]`` with a 4xx/5xx status.
One record that fails inside a collection call answers ``{"statusCode", "message", "fields"}`` in its
result, and the call itself is HTTP 200.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NOT_FOUND_MESSAGE = "The requested resource does not exist"
ROLLED_BACK_MESSAGE = (
    "Record rolled back because not all records were valid and the request was using AllOrNone header"
)


@dataclass(frozen=True)
class SaveError:
    status_code: str
    message: str
    fields: tuple[str, ...] = ()

    def as_result(self) -> dict[str, Any]:
        return {"statusCode": self.status_code, "message": self.message, "fields": list(self.fields)}

    def as_api(self) -> dict[str, Any]:
        return {"message": self.message, "errorCode": self.status_code, "fields": list(self.fields)}


class ApiError(Exception):
    """The whole request fails; rendered as an error array with ``status``."""

    def __init__(self, status: int, code: str, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.errors = [SaveError(code, message, fields)]

    def body(self) -> list[dict[str, Any]]:
        return [e.as_api() for e in self.errors]


class RecordError(Exception):
    """One record cannot be saved; collections report it per record, single-record calls as a 400."""

    def __init__(self, *errors: SaveError) -> None:
        super().__init__("; ".join(f"{e.status_code}: {e.message}" for e in errors))
        self.errors = list(errors)


class MultipleMatches(Exception):
    """An external id value matches several records (HTTP 300 for a single upsert)."""

    def __init__(self, object_name: str, field_name: str, value: str, ids: list[str]) -> None:
        super().__init__(f"{field_name} = {value} matches {len(ids)} {object_name} records")
        self.object_name = object_name
        self.field_name = field_name
        self.value = value
        self.ids = ids


def not_found(message: str = NOT_FOUND_MESSAGE) -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


def bad_external_id_field(field_name: str) -> ApiError:
    return not_found(f"Provided external ID field does not exist or is not accessible: {field_name}")


def no_such_column(field_name: str, object_name: str) -> ApiError:
    return ApiError(400, "INVALID_FIELD", f"No such column '{field_name}' on sobject of type {object_name}")


def json_parser_error(message: str) -> ApiError:
    return ApiError(400, "JSON_PARSER_ERROR", message)


def entity_is_deleted() -> ApiError:
    return ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")


def rolled_back() -> SaveError:
    return SaveError("ALL_OR_NONE_OPERATION_ROLLED_BACK", ROLLED_BACK_MESSAGE)

"""Typed mapping errors: one class per rule that can fail, each with a stable ``code``.

The delivery engine dead-letters a delivery with ``error.code`` and ``error.message``. Messages are
written for an operator: they name the object, the record id and the field, and say what to fix. They
never carry personal data: no names, emails or subjects, only ids, API names and picklist-shaped values
(see ``shown``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from typing import ClassVar


class ErrorCode(StrEnum):
    MISSING_FIELD = "MISSING_FIELD"
    INVALID_FIELD = "INVALID_FIELD"
    INVALID_DATE = "INVALID_DATE"
    INVALID_DATETIME = "INVALID_DATETIME"
    UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
    UNKNOWN_STATUS = "UNKNOWN_STATUS"
    UNKNOWN_RECORD_STATUS = "UNKNOWN_RECORD_STATUS"
    UNKNOWN_PHASE = "UNKNOWN_PHASE"
    UNKNOWN_VISIT_METHOD = "UNKNOWN_VISIT_METHOD"
    UNKNOWN_COMMUNICATION_METHOD = "UNKNOWN_COMMUNICATION_METHOD"
    WRONG_OBJECT_TYPE = "WRONG_OBJECT_TYPE"
    PERSON_MISSING = "PERSON_MISSING"
    ACTIVITY_LEVEL_MISSING = "ACTIVITY_LEVEL_MISSING"
    REFERENCE_UNRESOLVED = "REFERENCE_UNRESOLVED"
    PERSON_IDENTIFIER_MISSING = "PERSON_IDENTIFIER_MISSING"
    ACCOUNT_IDENTIFIER_MISSING = "ACCOUNT_IDENTIFIER_MISSING"
    AMBIGUOUS_ACCOUNT = "AMBIGUOUS_ACCOUNT"
    AMBIGUOUS_PERSON = "AMBIGUOUS_PERSON"
    PERSON_NOT_MATCHED = "PERSON_NOT_MATCHED"
    INVALID_OBJECT_NAMES = "INVALID_OBJECT_NAMES"
    INVALID_ACCOUNT_MATCH = "INVALID_ACCOUNT_MATCH"


# A value is echoed in a message only when it has the shape of an API name or picklist value
# (``Fax_vod``, ``hybrid__v``) or of a date; anything else could be free text typed by a person.
_API_SHAPED = re.compile(r"^[A-Za-z0-9]+(?:_+[A-Za-z0-9]+)+$")
_DATE_SHAPED = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[T ][0-9:.]*)?(?:Z|[+-][0-9:]*)?$")
_MAX_SHOWN = 60


def shown(value: object) -> str:
    """The value as an operator may see it: quoted when safe to show, else only its type and size."""
    if isinstance(value, str):
        if len(value) <= _MAX_SHOWN and (_API_SHAPED.match(value) or _DATE_SHAPED.match(value)):
            return f"'{value}'"
        return f"a text of {len(value)} characters (not shown)"
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    return f"a value of type {type(value).__name__} (not shown)"


def record_label(object_name: str, record_id: str | None) -> str:
    return f"{object_name} {record_id}" if record_id else f"a {object_name} record without id"


class MappingError(Exception):
    """A rule could not be applied. ``code`` is stable (dead-letter reason); ``message`` is for people."""

    code: ClassVar[ErrorCode]

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class MissingField(MappingError):
    code = ErrorCode.MISSING_FIELD

    def __init__(self, object_name: str, record_id: str | None, field: str) -> None:
        self.field = field
        super().__init__(
            f"{record_label(object_name, record_id)} has no value in field {field}, which the mapping needs; fill it in the source system, or fix the field name in the connection's object_names."
        )


class InvalidField(MappingError):
    code = ErrorCode.INVALID_FIELD

    def __init__(
        self, object_name: str, record_id: str | None, field: str, expected: str, value: object
    ) -> None:
        self.field = field
        super().__init__(
            f"{record_label(object_name, record_id)}: field {field} should hold {expected}, got {shown(value)}."
        )


class InvalidDate(MappingError):
    code = ErrorCode.INVALID_DATE

    def __init__(self, object_name: str, record_id: str | None, field: str, value: object) -> None:
        self.field = field
        super().__init__(
            f"{record_label(object_name, record_id)}: field {field} should hold a date as YYYY-MM-DD, got {shown(value)}."
        )


class InvalidDatetime(MappingError):
    code = ErrorCode.INVALID_DATETIME

    def __init__(self, object_name: str, record_id: str | None, field: str, value: object) -> None:
        self.field = field
        super().__init__(
            f"{record_label(object_name, record_id)}: field {field} should hold an ISO-8601 date and time with a UTC offset (e.g. 2026-11-20T10:14:58.000Z), got {shown(value)}."
        )


class UnknownValue(MappingError):
    """A picklist value that no table maps: we never guess, the table must be extended."""

    noun: ClassVar[str]
    remedy: ClassVar[str] = "add it to the picklist table of the connection's object_names"

    def __init__(
        self, object_name: str, record_id: str | None, field: str, value: object, system: str
    ) -> None:
        self.field = field
        super().__init__(
            f"{record_label(object_name, record_id)}: {self.noun} {shown(value)} in field {field} is not a known {system} value; {self.remedy}."
        )


class UnknownChannel(UnknownValue):
    code = ErrorCode.UNKNOWN_CHANNEL
    noun = "channel"


class UnknownStatus(UnknownValue):
    code = ErrorCode.UNKNOWN_STATUS
    noun = "call status"


class UnknownRecordStatus(UnknownValue):
    code = ErrorCode.UNKNOWN_RECORD_STATUS
    noun = "status"
    remedy = "add it to picklists.record_status of the CTMS names (bridge settings set --ctms-names)"


class UnknownPhase(UnknownValue):
    code = ErrorCode.UNKNOWN_PHASE
    noun = "phase"
    remedy = "add it to picklists.phase of the CTMS names (bridge settings set --ctms-names)"


class UnknownVisitMethod(UnknownValue):
    code = ErrorCode.UNKNOWN_VISIT_METHOD
    noun = "monitoring visit method"
    remedy = "add it to picklists.visit_method of the CTMS names (bridge settings set --ctms-names)"


class UnknownCommunicationMethod(UnknownValue):
    code = ErrorCode.UNKNOWN_COMMUNICATION_METHOD
    noun = "communication method"
    remedy = "add it to picklists.communication_method of the CTMS names (bridge settings set --ctms-names)"


class WrongObjectType(MappingError):
    code = ErrorCode.WRONG_OBJECT_TYPE

    def __init__(self, object_name: str, record_id: str | None, found: object, expected: str) -> None:
        super().__init__(
            f"{record_label(object_name, record_id)} has object type {shown(found)}; only {expected} records are mapped here."
        )


class PersonMissing(MappingError):
    code = ErrorCode.PERSON_MISSING

    def __init__(self, object_name: str, record_id: str | None) -> None:
        super().__init__(
            f"{record_label(object_name, record_id)} references no Person; every Clinical Activity must name the person the interaction was with."
        )


class ActivityLevelMissing(MappingError):
    code = ErrorCode.ACTIVITY_LEVEL_MISSING

    def __init__(self, object_name: str, record_id: str | None) -> None:
        super().__init__(
            f"{record_label(object_name, record_id)} is logged against no Study, Study Country, Study Site or Study Person; set at least one of them."
        )


class ReferenceUnresolved(MappingError):
    code = ErrorCode.REFERENCE_UNRESOLVED

    def __init__(self, record: str, target: str, source_id: str | None) -> None:
        source = f" for CTMS record {source_id}" if source_id else ""
        super().__init__(
            f"{record} needs the CRM {target} id{source}, but none was given; push the parent record first (parents before children)."
        )


class PersonIdentifierMissing(MappingError):
    code = ErrorCode.PERSON_IDENTIFIER_MISSING

    def __init__(self, person_id: str | None, field: str) -> None:
        super().__init__(
            f"{record_label('person__sys', person_id)} has no value in its identifier field {field}, so it cannot be matched to a CRM account."
        )


class AccountIdentifierMissing(MappingError):
    code = ErrorCode.ACCOUNT_IDENTIFIER_MISSING

    def __init__(self, object_name: str, account_id: str | None, field: str) -> None:
        super().__init__(
            f"{record_label(object_name, account_id)} has no value in its identifier field {field}, so it cannot be matched to a CTMS person."
        )


class AmbiguousAccount(MappingError):
    code = ErrorCode.AMBIGUOUS_ACCOUNT

    def __init__(self, field: str, account_ids: Iterable[str]) -> None:
        self.account_ids = tuple(account_ids)
        super().__init__(
            f"{len(self.account_ids)} CRM accounts share the same value in {field} ({', '.join(self.account_ids)}); make the identifier unique in the CRM."
        )


class AmbiguousPerson(MappingError):
    code = ErrorCode.AMBIGUOUS_PERSON

    def __init__(self, field: str, person_ids: Iterable[str]) -> None:
        self.person_ids = tuple(person_ids)
        super().__init__(
            f"{len(self.person_ids)} CTMS persons share the same value in {field} ({', '.join(self.person_ids)}); make the identifier unique in the CTMS."
        )


class PersonNotMatched(MappingError):
    """Raised by the engine, not by a rule here: the retry window for an unmatched person ran out."""

    code = ErrorCode.PERSON_NOT_MATCHED

    def __init__(self, person_id: str, connection_id: str, days: int) -> None:
        super().__init__(
            f"person__sys {person_id} matched no account in connection {connection_id} for {days} days; create the account in the CRM or fix the identifier, then replay."
        )


class InvalidConfig(MappingError):
    """A configuration document (object names, account match) is wrong; ``problems`` name each bad key."""

    def __init__(self, setting: str, problems: Iterable[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        listed = "; ".join(f"{path}: {problem}" for path, problem in self.problems)
        super().__init__(f"{setting} is invalid: {listed}")


class InvalidObjectNames(InvalidConfig):
    code = ErrorCode.INVALID_OBJECT_NAMES


class InvalidAccountMatch(InvalidConfig):
    code = ErrorCode.INVALID_ACCOUNT_MATCH

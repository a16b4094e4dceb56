"""Field values: check what a caller sends against the field's type and bring it to one stored form.

Stored forms: strings, numbers, booleans, ``YYYY-MM-DD`` dates, millisecond ``Z`` datetimes, picklists as
lists of value names (the form Vault returns them in), references as the target record's id.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from typing import Any

from app.simulators.vault.responses import iso_millis, parse_instant
from app.simulators.vault.schema import FieldDef, FieldType

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class InvalidValue(ValueError):
    """The value does not fit the field; the message is safe to return to the caller."""


def normalize(
    field: FieldDef, value: Any, *, numeric_target: bool = False, inactive: Collection[str] = ()
) -> Any:
    """The stored form of ``value`` for ``field``, or InvalidValue. ``None`` clears a field.

    ``inactive``: picklist values an admin has inactivated; Vault refuses them on new writes."""
    if value is None:
        return None
    if field.type is FieldType.PICKLIST:
        return _picklist(field, value, inactive)
    handler = _HANDLERS[field.type]
    return handler(field, value, numeric_target)


def _string(field: FieldDef, value: Any, _numeric: bool) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"Invalid value for field [{field.name}]: expected text")
    if field.max_length is not None and len(value) > field.max_length:
        raise InvalidValue(f"Value for field [{field.name}] exceeds the maximum length of {field.max_length}")
    return value


def _number(field: FieldDef, value: Any, _numeric: bool) -> int | float:
    if isinstance(value, bool):
        raise InvalidValue(f"Invalid value for field [{field.name}]: expected a number")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            return int(number) if number.is_integer() else number
    raise InvalidValue(f"Invalid value for field [{field.name}]: expected a number")


def _boolean(field: FieldDef, value: Any, _numeric: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    raise InvalidValue(f"Invalid value for field [{field.name}]: expected true or false")


def _date(field: FieldDef, value: Any, _numeric: bool) -> str:
    if isinstance(value, str) and _DATE.match(value):
        try:
            datetime.strptime(value, "%Y-%m-%d")
        except ValueError:
            pass
        else:
            return value
    raise InvalidValue(f"Invalid value for field [{field.name}]: expected a date as YYYY-MM-DD")


def _datetime(field: FieldDef, value: Any, _numeric: bool) -> str:
    if isinstance(value, str) and not _DATE.match(value):
        try:
            return iso_millis(parse_instant(value))
        except ValueError:
            pass
    raise InvalidValue(
        f"Invalid value for field [{field.name}]: expected a datetime as YYYY-MM-DDTHH:MM:SS.sssZ"
    )


def _picklist(field: FieldDef, value: Any, inactive: Collection[str]) -> list[str] | None:
    if isinstance(value, str):
        names = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        names = [v.strip() for v in value]
    else:
        raise InvalidValue(f"Invalid value for picklist field [{field.name}]")
    names = list(dict.fromkeys(names))
    if not names:
        return None
    if len(names) > 1 and not field.multi_value:
        raise InvalidValue(f"Field [{field.name}] accepts a single picklist value")
    active = [v for v in field.picklist if v not in inactive]
    unknown = [n for n in names if n not in active]
    if unknown:
        # Vault names the value and field; the valid names are added so a person knows what to send.
        state = "inactive in picklist" if unknown[0] in field.picklist else "not a value of picklist"
        raise InvalidValue(
            f"Invalid picklist value [{unknown[0]}] for field [{field.name}]: {state} "
            f"[{field.picklist_ref}]; valid values: {', '.join(active)}"
        )
    return names


def _reference(field: FieldDef, value: Any, numeric: bool) -> str | int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidValue(f"Invalid value for field [{field.name}]: expected a record id")
    if numeric:
        try:
            return int(value)
        except ValueError:
            raise InvalidValue(f"Invalid value for field [{field.name}]: expected a user id") from None
    return str(value)


def _not_settable(field: FieldDef, _value: Any, _numeric: bool) -> Any:
    raise InvalidValue(f"Field [{field.name}] is not editable")


_HANDLERS = {
    FieldType.ID: _not_settable,
    FieldType.STRING: _string,
    FieldType.NUMBER: _number,
    FieldType.BOOLEAN: _boolean,
    FieldType.DATE: _date,
    FieldType.DATETIME: _datetime,
    FieldType.OBJECT: _reference,
}

"""Layering an operator's overrides on default names, with errors that name the bad key.

Overrides are partial: a key given replaces the default, a key left out keeps it. Keys are checked
against the defaults, so a typo (``"subjct"``) is an error naming ``object_names.interaction.fields.subjct``
instead of a silently ignored setting. Tables listed in ``whole_tables`` (lookup tables whose keys are
source picklist values) are replaced as a whole when given, so an operator can also remove entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from app.domain.errors import InvalidObjectNames

ApiName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,79}$")]
"""An object, field, relationship or picklist value API name (Vault ``x__v``, Salesforce ``X_vod__c``)."""


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


ModelT = TypeVar("ModelT", bound=BaseModel)


def _merge(
    defaults: Mapping[str, Any],
    overrides: object,
    path: str,
    whole_tables: frozenset[str],
    problems: list[tuple[str, str]],
) -> dict[str, Any]:
    merged = dict(defaults)
    if not isinstance(overrides, Mapping):
        problems.append((path, "must be a JSON object"))
        return merged
    for key, value in overrides.items():
        key_path = f"{path}.{key}"
        if key not in defaults:
            problems.append((key_path, f"unknown key; expected one of {', '.join(sorted(defaults))}"))
        elif key_path.split(".", 1)[-1] in whole_tables:
            merged[key] = value  # validated by the model below
        elif isinstance(defaults[key], Mapping):
            merged[key] = _merge(defaults[key], value, key_path, whole_tables, problems)
        else:
            merged[key] = value
    return merged


def build_names(
    model: type[ModelT],
    defaults: Mapping[str, Any],
    overrides: object,
    *,
    setting: str,
    whole_tables: frozenset[str] = frozenset(),
    fixed: Mapping[str, Any] | None = None,
) -> ModelT:
    """Defaults with ``overrides`` layered on, validated into ``model``; ``fixed`` keys cannot be overridden."""
    problems: list[tuple[str, str]] = []
    merged = _merge(defaults, {} if overrides is None else overrides, setting, whole_tables, problems)
    names: ModelT | None = None
    try:
        names = model.model_validate({**merged, **(fixed or {})})
    except ValidationError as exc:
        # Report bad values along with unknown keys, so one round of fixes is enough.
        problems += [
            (".".join([setting, *(str(part) for part in error["loc"])]), error["msg"])
            for error in exc.errors()
        ]
    if problems or names is None:
        raise InvalidObjectNames(setting, problems)
    return names


def reverse_one_to_one(table: Mapping[Any, str], what: str) -> None:
    """Reject a table where two meanings share one value: the reverse lookup would have to guess."""
    seen: dict[str, Any] = {}
    for meaning, value in table.items():
        if value in seen:
            raise ValueError(f"{what}: value {value} is used for both {seen[value]} and {meaning}")
        seen[value] = meaning

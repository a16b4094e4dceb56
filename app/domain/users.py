"""Users who created records, and the "From" text built from them.

"From" is ``First Last (email)`` of the user who created the record in the *source* system (SPEC.md
section 3). It is optional: a part that is missing is left out, and no user data at all gives None.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from app.domain.fields import RecordReader


class UserInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None


UserT = TypeVar("UserT", bound=UserInfo)


class VaultUser(UserInfo):
    """A CTMS ``user__sys`` record."""


class CrmUser(UserInfo):
    """The user who created a CRM call (Salesforce ``CreatedBy``, Vault CRM ``created_by__vr``)."""


def _clean(value: str | None) -> str | None:
    stripped = value.strip() if value else ""
    return stripped or None


def format_from(user: UserInfo | None) -> str | None:
    """``First Last (email)``; ``First Last`` without email; ``email`` without a name; None without data."""
    if user is None:
        return None
    name = " ".join(part for part in (_clean(user.first_name), _clean(user.last_name)) if part)
    email = _clean(user.email)
    if name and email:
        return f"{name} ({email})"
    return name or email


def read_user(
    reader: RecordReader,
    kind: type[UserT],
    *,
    first_name: str,
    last_name: str,
    email: str,
    user_id: str | None = None,
) -> UserT | None:
    """The user fields of a record or relationship; None when none of them is set."""
    user = kind(
        id=reader.identifier(user_id) if user_id else None,
        first_name=reader.text(first_name),
        last_name=reader.text(last_name),
        email=reader.text(email),
    )
    return user if any((user.id, user.first_name, user.last_name, user.email)) else None

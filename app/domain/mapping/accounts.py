"""Persons <-> Accounts by a shared unique identifier (SPEC.md section 4).

A global pair of fields (default ``external_id__v`` on Person, ``External_ID_vod__c`` on Account) serves
every connection that does not set its own pair. Matching is exact, value for value: SOQL compares text
case-insensitively, so candidates a query returns are filtered again here. No match is None (the
delivery waits as ``unmatched``); several matches are an error, never a pick.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from app.domain.crm import CrmCall
from app.domain.errors import (
    AccountIdentifierMissing,
    AmbiguousAccount,
    AmbiguousPerson,
    InvalidAccountMatch,
    PersonIdentifierMissing,
)
from app.domain.fields import RecordReader
from app.domain.names import ApiName, CrmNames, CtmsNames, Frozen

DEFAULT_PERSON_FIELD = "external_id__v"
DEFAULT_ACCOUNT_FIELD = "External_ID_vod__c"


class AccountMatch(Frozen):
    """The pair of fields holding the identifier shared by a CTMS Person and a CRM Account."""

    ctms_person_field: ApiName
    crm_account_field: ApiName

    @classmethod
    def default(cls) -> AccountMatch:
        return cls(ctms_person_field=DEFAULT_PERSON_FIELD, crm_account_field=DEFAULT_ACCOUNT_FIELD)

    @classmethod
    def from_config(
        cls, raw: Mapping[str, Any] | None, *, setting: str = "account_match"
    ) -> AccountMatch | None:
        """A connection's ``account_match`` JSON (None or ``{}``: not set), validated (``INVALID_ACCOUNT_MATCH``)."""
        if not raw:
            return None
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise InvalidAccountMatch(
                setting,
                [(".".join([setting, *map(str, error["loc"])]), error["msg"]) for error in exc.errors()],
            ) from None


SALESFORCE_ACCOUNT_FIELD = "External_ID_vod__c"  # the global default (CONTRACT.md)
# Default, not confirmed by public docs: Vault CRM accounts carry the external id as external_id__v.
VAULT_CRM_ACCOUNT_FIELD = "external_id__v"


def effective_account_match(
    global_pair: AccountMatch, connection_pair: AccountMatch | None, platform: str = "salesforce"
) -> AccountMatch:
    """The connection's own pair when it sets one, else the global one. The global default CRM field is a
    Salesforce field a Vault CRM account does not have: a Vault CRM connection reads external_id__v
    instead (a global field set to anything else applies to every platform, as set)."""
    if connection_pair is not None:
        return connection_pair
    if platform == "vault" and global_pair.crm_account_field == SALESFORCE_ACCOUNT_FIELD:
        return global_pair.model_copy(update={"crm_account_field": VAULT_CRM_ACCOUNT_FIELD})
    return global_pair


def _identifier(reader: RecordReader, field: str) -> str | None:
    value = reader.identifier(field)
    return value if value is not None and value.strip() else None


def person_identifier(
    person_raw: Mapping[str, object], match: AccountMatch, names: CtmsNames | None = None
) -> str:
    """The Person's identifier value (``PERSON_IDENTIFIER_MISSING`` when it has none)."""
    person = (names or CtmsNames.defaults()).person
    reader = RecordReader.of(person.object, person_raw, person.id)
    value = _identifier(reader, match.ctms_person_field)
    if value is None:
        raise PersonIdentifierMissing(reader.record_id, match.ctms_person_field)
    return value


def account_identifier(account_raw: Mapping[str, object], match: AccountMatch, names: CrmNames) -> str:
    """The Account's identifier value (``ACCOUNT_IDENTIFIER_MISSING`` when it has none)."""
    reader = RecordReader.of(names.account.object, account_raw, names.account.id)
    value = _identifier(reader, match.crm_account_field)
    if value is None:
        raise AccountIdentifierMissing(reader.object_name, reader.record_id, match.crm_account_field)
    return value


def call_account_identifier(call: CrmCall, match: AccountMatch) -> str | None:
    """The identifier of the call's account if the webhook payload carried it, else None (query it)."""
    return call.account_identifier(match.crm_account_field)


def _matching_ids(
    identifier: str,
    candidates: Iterable[Mapping[str, object]],
    *,
    object_name: str,
    id_field: str,
    field: str,
) -> list[str]:
    ids: list[str] = []
    for candidate in candidates:
        reader = RecordReader.of(object_name, candidate, id_field)
        record_id = reader.required_identifier(id_field)
        if reader.identifier(field) == identifier and record_id not in ids:
            ids.append(record_id)
    return ids


def choose_account(
    identifier: str, candidates: Iterable[Mapping[str, object]], *, match: AccountMatch, names: CrmNames
) -> str | None:
    """The id of the one account whose identifier equals ``identifier``; None when none does."""
    ids = _matching_ids(
        identifier,
        candidates,
        object_name=names.account.object,
        id_field=names.account.id,
        field=match.crm_account_field,
    )
    if len(ids) > 1:
        raise AmbiguousAccount(match.crm_account_field, ids)
    return ids[0] if ids else None


def choose_person(
    identifier: str,
    candidates: Iterable[Mapping[str, object]],
    *,
    match: AccountMatch,
    names: CtmsNames | None = None,
) -> str | None:
    """The id of the one Person whose identifier equals ``identifier``; None when none does."""
    person = (names or CtmsNames.defaults()).person
    ids = _matching_ids(
        identifier, candidates, object_name=person.object, id_field=person.id, field=match.ctms_person_field
    )
    if len(ids) > 1:
        raise AmbiguousPerson(match.ctms_person_field, ids)
    return ids[0] if ids else None

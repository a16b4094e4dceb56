"""CRM calls, normalized from either platform's record shape.

A Salesforce call is an sObject (``attributes``, ``Id``, ``Call2_vod__c`` fields, relationship
sub-objects ``Account`` and ``CreatedBy``); a Vault CRM call is a ``call2__v`` record whose relationships,
when present, arrive nested (``account__vr``) or flattened (``account__vr.external_id__v``). Both become
one ``CrmCall``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from app.domain.dates import utc_date
from app.domain.errors import MissingField
from app.domain.fields import RecordReader
from app.domain.names import CrmNames
from app.domain.users import CrmUser, read_user
from app.domain.values import Origin, crm_call_status, crm_channel, is_complete
from app.domain.vocabulary import CallStatus, Channel, Platform


class CrmCall(BaseModel):
    """A call ("Send to Vault Clinical"), platform-neutral. ``account_fields`` holds the scalar fields of
    the account relationship when the payload carries it, so the identifier can be read without a query."""

    model_config = ConfigDict(frozen=True)

    platform: Platform
    object_name: str
    id: str
    call_date: date
    channel: Channel
    status: CallStatus
    subject: str | None
    account_id: str
    account_fields: dict[str, str | int | float | bool | None]
    created_by_id: str | None
    created_by: CrmUser | None
    last_modified: datetime | None

    @property
    def complete(self) -> bool:
        return is_complete(self.status)

    def account_identifier(self, field: str) -> str | None:
        """The account's identifier value if the payload carried it; None means "look the account up"."""
        value = self.account_fields.get(field)
        if isinstance(value, bool) or value is None or value == "":
            return None
        return str(value)


def crm_object_name(raw: Mapping[str, object]) -> str | None:
    """The object a raw CRM record belongs to, when it says so (Salesforce ``attributes.type``)."""
    attributes = raw.get("attributes")
    if isinstance(attributes, Mapping) and isinstance(attributes.get("type"), str):
        return str(attributes["type"])
    return None


def _call_date(reader: RecordReader, names: CrmNames) -> date:
    """The call's date; a call with only a datetime gets that moment's date in UTC."""
    fields = names.call.fields
    day = reader.date_field(fields.date)
    if day is not None:
        return day
    moment = reader.datetime_field(fields.datetime)
    if moment is not None:
        return utc_date(moment)
    raise MissingField(reader.object_name, reader.record_id, fields.date)


def parse_crm_call(raw: Mapping[str, object], platform: Platform, names: CrmNames) -> CrmCall:
    """A CRM webhook ``record`` or API read of a call, normalized (errors name the bad field)."""
    if names.platform != platform:
        raise ValueError(f"names are for {names.platform}, the call is from {platform}")
    fields = names.call.fields
    reader = RecordReader.of(names.call.object, raw, fields.id)
    call_id = reader.required_identifier(fields.id)

    def origin(field: str) -> Origin:
        return Origin(reader.object_name, call_id, field)

    account = reader.related(fields.account_relationship) or {}
    account_id = reader.identifier(fields.account) or RecordReader("account", account).identifier(
        names.account.id
    )
    if account_id is None:
        raise MissingField(reader.object_name, call_id, fields.account)
    creator = reader.related(fields.created_by_relationship)
    return CrmCall(
        platform=platform,
        object_name=reader.object_name,
        id=call_id,
        call_date=_call_date(reader, names),
        channel=crm_channel(reader.required_picklist(fields.channel), names, origin(fields.channel)),
        status=crm_call_status(reader.required_picklist(fields.status), names, origin(fields.status)),
        subject=reader.text(fields.subject),
        account_id=account_id,
        account_fields={
            key: value
            for key, value in account.items()
            if value is None or isinstance(value, str | int | float | bool)
        },
        created_by_id=reader.identifier(fields.created_by),
        created_by=read_user(
            RecordReader(f"{reader.object_name}.{fields.created_by_relationship}", creator, call_id),
            CrmUser,
            first_name=names.user.first_name,
            last_name=names.user.last_name,
            email=names.user.email,
        )
        if creator
        else None,
        last_modified=reader.datetime_field(fields.last_modified),
    )

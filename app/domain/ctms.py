"""CTMS records as the mapping sees them, parsed from raw Vault records (``GET /vobjects/...`` ``data``).

Parsing checks shape and translates picklists (an unknown value fails here, with the field named);
business rules that decide whether a record may flow (a Person, a level) live in ``mapping``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from app.domain.errors import MissingField
from app.domain.fields import RecordReader
from app.domain.names import CtmsNames
from app.domain.users import VaultUser, read_user
from app.domain.values import (
    Origin,
    communication_method_channel,
    ctms_channel,
    ctms_phase,
    ctms_record_status,
    visit_method_channel,
)
from app.domain.vocabulary import Channel, Phase, RecordStatus

ValueT = TypeVar("ValueT")


class CtmsRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    object_name: str
    id: str
    modified: datetime | None = None


class CtmsActivity(CtmsRecord):
    """An Activity (``crm_activity__v``). ``kind`` is ``clinical_activity``, ``medical_activity`` or None
    when the object type is neither; ``object_type`` keeps the raw value for messages."""

    kind: str | None
    object_type: str | None
    person_id: str | None
    activity_date: date
    channel: Channel
    complete: bool
    subject: str | None = None
    sender: str | None = None
    study_id: str | None = None
    study_country_id: str | None = None
    site_id: str | None = None
    study_person_id: str | None = None
    monitoring_event_id: str | None = None
    communication_log_id: str | None = None
    status: str | None = None
    external_id: str | None = None
    created_by_id: str | None = None

    @property
    def logged_against_a_level(self) -> bool:
        return any((self.study_id, self.study_country_id, self.site_id, self.study_person_id))


class CtmsStudy(CtmsRecord):
    name: str
    status: RecordStatus | None
    phase: Phase | None


class CtmsSite(CtmsRecord):
    name: str
    study_id: str
    study_country_id: str | None
    status: RecordStatus | None


class MonitoringEvent(CtmsRecord):
    name: str | None
    person_id: str | None
    study_id: str | None
    study_country_id: str | None
    site_id: str | None
    channel: Channel
    actual_start: date | None
    planned_start: date | None
    activity_update_required: bool


class CommunicationLogItem(CtmsRecord):
    subject: str | None
    study_id: str | None
    study_country_id: str | None
    site_id: str | None
    person_id: str | None
    communication_date: date
    channel: Channel
    activity_update_required: bool


def _present(reader: RecordReader, value: ValueT | None, field: str) -> ValueT:
    if value is None:
        raise MissingField(reader.object_name, reader.record_id, field)
    return value


def type_name_field(field: str = "object_type__v") -> str:
    """The VQL column that answers an object type's API name: ``object_type__vr.api_name__v``."""
    return field.removesuffix("__v") + "__vr.api_name__v"


def object_type_of(raw: Mapping[str, object], field: str = "object_type__v") -> str | None:
    """The object type's API name: from ``object_type__vr.api_name__v`` when the record carries it (a
    real Vault answers ``object_type__v`` with the type's id), else from ``object_type__v`` itself."""
    reader = RecordReader("record", raw)
    related = reader.related(field.removesuffix("__v") + "__vr")
    if related and isinstance(related.get("api_name__v"), str):
        return str(related["api_name__v"])
    return reader.picklist(field)


def parse_ctms_activity(raw: Mapping[str, object], names: CtmsNames) -> CtmsActivity:
    fields = names.activity.fields
    reader = RecordReader.of(names.activity.object, raw, fields.id)
    record_id = reader.required_identifier(fields.id)
    object_type = object_type_of(raw, fields.object_type)
    kinds = {value: kind for kind, value in names.picklists.object_type.items()}
    activity_date = _present(reader, reader.date_field(fields.date), fields.date)
    channel_value = reader.required_picklist(fields.channel)
    return CtmsActivity(
        object_name=reader.object_name,
        id=record_id,
        modified=reader.datetime_field(fields.modified),
        kind=kinds.get(object_type) if object_type else None,
        object_type=object_type,
        person_id=reader.identifier(fields.person),
        activity_date=activity_date,
        channel=ctms_channel(channel_value, names, Origin(reader.object_name, record_id, fields.channel)),
        complete=reader.boolean(fields.complete) is True,
        subject=reader.text(fields.subject),
        sender=reader.text(fields.sender),
        study_id=reader.identifier(fields.study),
        study_country_id=reader.identifier(fields.study_country),
        site_id=reader.identifier(fields.site),
        study_person_id=reader.identifier(fields.study_person),
        monitoring_event_id=reader.identifier(fields.monitoring_event),
        communication_log_id=reader.identifier(fields.communication_log),
        status=reader.picklist(fields.status),
        external_id=reader.text(fields.external_id),
        created_by_id=reader.identifier(fields.created_by),
    )


def parse_vault_user(raw: Mapping[str, object], names: CtmsNames) -> VaultUser | None:
    """A ``user__sys`` record (the creator of a Clinical Activity); None when it has no name or email."""
    user = names.user
    reader = RecordReader.of(user.object, raw, user.id)
    return read_user(
        reader,
        VaultUser,
        first_name=user.first_name,
        last_name=user.last_name,
        email=user.email,
        user_id=user.id,
    )


def _record_status(reader: RecordReader, field: str, names: CtmsNames) -> RecordStatus | None:
    value = reader.picklist(field)
    if value is None:
        return None
    return ctms_record_status(value, names, Origin(reader.object_name, reader.record_id, field))


def parse_ctms_study(raw: Mapping[str, object], names: CtmsNames) -> CtmsStudy:
    fields = names.study.fields
    reader = RecordReader.of(names.study.object, raw, fields.id)
    phase = reader.picklist(fields.phase)
    return CtmsStudy(
        object_name=reader.object_name,
        id=reader.required_identifier(fields.id),
        modified=reader.datetime_field(fields.modified),
        name=_present(reader, reader.text(fields.name), fields.name),
        status=_record_status(reader, fields.status, names),
        phase=ctms_phase(phase, names, Origin(reader.object_name, reader.record_id, fields.phase))
        if phase
        else None,
    )


def parse_ctms_site(raw: Mapping[str, object], names: CtmsNames) -> CtmsSite:
    fields = names.site.fields
    reader = RecordReader.of(names.site.object, raw, fields.id)
    return CtmsSite(
        object_name=reader.object_name,
        id=reader.required_identifier(fields.id),
        modified=reader.datetime_field(fields.modified),
        name=_present(reader, reader.text(fields.name), fields.name),
        study_id=reader.required_identifier(fields.study),
        study_country_id=reader.identifier(fields.study_country),
        status=_record_status(reader, fields.status, names),
    )


def parse_monitoring_event(raw: Mapping[str, object], names: CtmsNames) -> MonitoringEvent:
    """A Monitoring Event; it needs a visit method and at least a planned visit start date."""
    fields = names.monitoring_event.fields
    reader = RecordReader.of(names.monitoring_event.object, raw, fields.id)
    record_id = reader.required_identifier(fields.id)
    method = reader.required_picklist(fields.visit_method)
    actual_start = reader.date_field(fields.actual_start)
    planned_start = reader.date_field(fields.planned_start)
    if actual_start is None and planned_start is None:
        raise MissingField(reader.object_name, record_id, fields.planned_start)
    return MonitoringEvent(
        object_name=reader.object_name,
        id=record_id,
        modified=reader.datetime_field(fields.modified),
        name=reader.text(fields.name),
        person_id=reader.identifier(fields.person),
        study_id=reader.identifier(fields.study),
        study_country_id=reader.identifier(fields.study_country),
        site_id=reader.identifier(fields.site),
        channel=visit_method_channel(
            method, names, Origin(reader.object_name, record_id, fields.visit_method)
        ),
        actual_start=actual_start,
        planned_start=planned_start,
        activity_update_required=reader.boolean(fields.activity_update_required) is True,
    )


def parse_communication_log_item(raw: Mapping[str, object], names: CtmsNames) -> CommunicationLogItem:
    """A Study Communication Log Item; it needs a communication date and method."""
    fields = names.communication_log.fields
    reader = RecordReader.of(names.communication_log.object, raw, fields.id)
    record_id = reader.required_identifier(fields.id)
    method = reader.required_picklist(fields.method)
    return CommunicationLogItem(
        object_name=reader.object_name,
        id=record_id,
        modified=reader.datetime_field(fields.modified),
        subject=reader.text(fields.subject),
        person_id=reader.identifier(fields.person),
        study_id=reader.identifier(fields.study),
        study_country_id=reader.identifier(fields.study_country),
        site_id=reader.identifier(fields.site),
        communication_date=_present(reader, reader.date_field(fields.date), fields.date),
        channel=communication_method_channel(
            method, names, Origin(reader.object_name, record_id, fields.method)
        ),
        activity_update_required=reader.boolean(fields.activity_update_required) is True,
    )

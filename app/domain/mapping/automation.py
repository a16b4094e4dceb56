"""Automated Clinical Activities (F8): a Monitoring Event or Study Communication Log Item gets a related
Clinical Activity in the CTMS, keyed by the source record's id (``external_id__v``), which then flows
to the CRM by F1.

Rules (defaults where SPEC.md is silent, documented here):
- a new source record creates its activity; an updated one updates it only while its
  ``activity_update_required__v`` is true; a deleted one changes nothing;
- the activity's Person is the one the engine names, else the source record's own ``person__v``;
- a monitoring visit's date is its actual start date, else its planned one, and the activity is
  complete once the visit has an actual start date; a communication log item records a communication
  that took place, so its activity is complete;
- the channel comes from the visit or communication method table (unknown method: an error).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from app.domain.ctms import CommunicationLogItem, CtmsRecord, MonitoringEvent
from app.domain.dates import format_date
from app.domain.errors import ActivityLevelMissing, PersonMissing
from app.domain.fields import RecordReader
from app.domain.names import CtmsNames
from app.domain.upsert import FieldValue, TargetUpsert
from app.domain.values import ctms_channel_value

SourceChange = Literal["created", "updated", "deleted"]

ACTIVITY_UPDATE_REQUIRED = "activity_update_required__v"


def activity_update_required(
    source_raw: Mapping[str, object],
    field: str = ACTIVITY_UPDATE_REQUIRED,
    *,
    object_name: str = "source record",
) -> bool:
    """Whether an updated source record asks for its activity to be updated (absent or null: no)."""
    return RecordReader.of(object_name, source_raw, "id").boolean(field) is True


def should_sync_automated_activity(
    change: SourceChange, source_raw: Mapping[str, object], field: str = ACTIVITY_UPDATE_REQUIRED
) -> bool:
    """F8's trigger: always on creation, on update only when the source asks for it, never on deletion."""
    if change == "created":
        return True
    if change == "updated":
        return activity_update_required(source_raw, field)
    return False


def _activity(
    source: CtmsRecord,
    *,
    person_id: str | None,
    levels: tuple[str | None, str | None, str | None],
    values: dict[str, FieldValue],
    ctms_names: CtmsNames,
) -> TargetUpsert:
    if not person_id:
        raise PersonMissing(source.object_name, source.id)
    if not any(levels):
        raise ActivityLevelMissing(source.object_name, source.id)
    fields = ctms_names.activity.fields
    study, study_country, site = levels
    common: dict[str, FieldValue] = {
        fields.object_type: ctms_names.picklists.clinical_activity,
        fields.status: ctms_names.picklists.active,
        fields.person: person_id,
        fields.study: study,
        fields.study_country: study_country,
        fields.site: site,
    }
    return TargetUpsert(
        object=ctms_names.activity.object,
        id_field=fields.external_id,
        id_value=source.id,
        fields=common | values,
    )


def monitoring_event_to_activity(
    event: MonitoringEvent, *, person_id: str | None = None, ctms_names: CtmsNames
) -> TargetUpsert:
    fields = ctms_names.activity.fields
    visit_date = event.actual_start or event.planned_start
    if visit_date is None:  # parse_monitoring_event guarantees one; a hand-built event may not
        raise ValueError("a monitoring event needs an actual or planned visit start date")
    return _activity(
        event,
        person_id=person_id or event.person_id,
        levels=(event.study_id, event.study_country_id, event.site_id),
        values={
            fields.date: format_date(visit_date),
            fields.channel: ctms_channel_value(event.channel, ctms_names),
            fields.complete: event.actual_start is not None,
            fields.subject: event.name,
            fields.monitoring_event: event.id,
        },
        ctms_names=ctms_names,
    )


def comm_log_item_to_activity(
    item: CommunicationLogItem, *, person_id: str | None = None, ctms_names: CtmsNames
) -> TargetUpsert:
    fields = ctms_names.activity.fields
    return _activity(
        item,
        person_id=person_id or item.person_id,
        levels=(item.study_id, item.study_country_id, item.site_id),
        values={
            fields.date: format_date(item.communication_date),
            fields.channel: ctms_channel_value(item.channel, ctms_names),
            fields.complete: True,
            fields.subject: item.subject,
            fields.communication_log: item.id,
        },
        ctms_names=ctms_names,
    )


def clear_activity_update_required(
    object_name: str, record_id: str, field: str = ACTIVITY_UPDATE_REQUIRED
) -> TargetUpsert:
    """After the activity is updated, the source's flag goes back to false (an update by record id), so
    the next unrelated edit of the source does not update the activity again."""
    return TargetUpsert(
        object=object_name, id_field="id", id_value=record_id, fields={field: False}, allow_create=False
    )

"""F8: automated Clinical Activities, table-driven from payloads/automation.json."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.ctms import parse_communication_log_item, parse_monitoring_event
from app.domain.errors import MappingError
from app.domain.mapping.automation import (
    clear_activity_update_required,
    comm_log_item_to_activity,
    monitoring_event_to_activity,
    should_sync_automated_activity,
)
from app.domain.names import CtmsNames
from app.domain.upsert import TargetUpsert
from tests.domain.tables import assert_error, assert_upsert, rows

CTMS = CtmsNames.defaults()


def _from_event(row: dict[str, Any]) -> TargetUpsert:
    event = parse_monitoring_event(row["record"], CTMS)
    return monitoring_event_to_activity(event, person_id=row["person_id"], ctms_names=CTMS)


def _from_log_item(row: dict[str, Any]) -> TargetUpsert:
    item = parse_communication_log_item(row["record"], CTMS)
    return comm_log_item_to_activity(item, person_id=row["person_id"], ctms_names=CTMS)


@pytest.mark.parametrize("row", rows("automation.json", "monitoring_events"))
def test_monitoring_event_to_activity(row: dict[str, Any]) -> None:
    if "error" in row:
        with pytest.raises(MappingError) as caught:
            _from_event(row)
        assert_error(caught.value, row["error"], row)
    else:
        assert_upsert(_from_event(row), row["expect"])


@pytest.mark.parametrize("row", rows("automation.json", "comm_log_items"))
def test_comm_log_item_to_activity(row: dict[str, Any]) -> None:
    if "error" in row:
        with pytest.raises(MappingError) as caught:
            _from_log_item(row)
        assert_error(caught.value, row["error"], row)
    else:
        assert_upsert(_from_log_item(row), row["expect"])


@pytest.mark.parametrize("row", rows("automation.json", "update_rule"))
def test_activity_update_rule(row: dict[str, Any]) -> None:
    if "error" in row:
        with pytest.raises(MappingError) as caught:
            should_sync_automated_activity(row["change"], row["record"])
        assert_error(caught.value, row["error"], row)
    else:
        assert should_sync_automated_activity(row["change"], row["record"]) is row["expected"]


def test_visit_method_table_can_be_replaced_by_the_operator() -> None:
    names = CtmsNames.with_overrides({"picklists": {"visit_method": {"hybrid__c": "video"}}})
    row = rows("automation.json", "monitoring_events")[0].values[0]
    record = row["record"] | {"monitoring_visit_method__v": ["hybrid__c"]}
    upsert = monitoring_event_to_activity(
        parse_monitoring_event(record, names), person_id="V0P1", ctms_names=names
    )
    assert upsert.fields["channel__v"] == "video__v"
    with pytest.raises(MappingError) as caught:  # replaced as a whole: on_site__v is gone
        parse_monitoring_event(row["record"], names)
    assert caught.value.code == "UNKNOWN_VISIT_METHOD"


def test_flag_is_cleared_after_the_update() -> None:
    upsert = clear_activity_update_required("monitoring_event__v", "V5M000000000401")
    assert upsert.record() == {"id": "V5M000000000401", "activity_update_required__v": False}
    assert upsert.allow_create is False
    assert should_sync_automated_activity("updated", upsert.record()) is False

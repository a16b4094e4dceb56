"""Lanes are typed values with one string form; a record always lands in the same partition."""

from __future__ import annotations

import pytest

from app.domain.lanes import Lane, LaneKind


@pytest.mark.parametrize(
    ("key", "lane"),
    [
        ("conn_a:interaction:3", Lane(LaneKind.INTERACTION, "conn_a", 3)),
        ("conn_a:study:0", Lane(LaneKind.STUDY, "conn_a", 0)),
        ("ctms:medical:1", Lane(LaneKind.MEDICAL, None, 1)),
        ("ctms:automation:2", Lane(LaneKind.AUTOMATION, None, 2)),
    ],
)
def test_a_lane_and_its_key_round_trip(key: str, lane: Lane) -> None:
    assert Lane.parse(key) == lane
    assert lane.key == key


@pytest.mark.parametrize(
    ("legacy", "lane"),
    [
        ("conn_a:interaction", Lane(LaneKind.INTERACTION, "conn_a", 0)),
        ("conn_a:site", Lane(LaneKind.SITE, "conn_a", 0)),
        ("ctms:crm_activity__v", Lane(LaneKind.MEDICAL, None, 0)),
        ("ctms:automation", Lane(LaneKind.AUTOMATION, None, 0)),
    ],
)
def test_lanes_stored_before_partitions_still_drain_as_partition_0(legacy: str, lane: Lane) -> None:
    assert Lane.parse(legacy) == lane


def test_unknown_kinds_and_misplaced_connections_are_refused() -> None:
    with pytest.raises(ValueError, match="nonsense"):
        Lane.parse("conn_a:nonsense:0")
    with pytest.raises(ValueError, match="needs a connection"):
        Lane(LaneKind.INTERACTION, None)
    with pytest.raises(ValueError, match="has no connection"):
        Lane(LaneKind.MEDICAL, "conn_a")


def test_a_record_always_lands_in_the_same_partition_and_records_spread_over_all() -> None:
    lanes = {Lane.for_record(LaneKind.INTERACTION, "conn_a", f"V{n}", 4) for n in range(200)}
    assert {lane.partition for lane in lanes} == {0, 1, 2, 3}
    again = Lane.for_record(LaneKind.INTERACTION, "conn_a", "V7", 4)
    assert again == Lane.for_record(LaneKind.INTERACTION, "conn_a", "V7", 4)
    assert Lane.for_record(LaneKind.MEDICAL, "conn_a", "conn_a:C1", 4).connection_id is None

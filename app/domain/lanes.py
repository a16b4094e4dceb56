"""Lanes: which deliveries are batched and written together, as a typed value.

A lane is one kind of target record in one target system, split into partitions by a hash of the source
record. One process drains a partition at a time, so the changes of one record (always in the same
partition) leave in order, while the partitions of one connection are drained side by side: that is how
several calls are in flight per target org without two workers ever holding the same record.

The lane is stored as a string (``deliveries.lane``); `Lane.key` and `Lane.parse` are the only places that
know its format.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from enum import StrEnum

CTMS = "ctms"  # the connection part of lanes that write into the CTMS vault


class LaneKind(StrEnum):
    INTERACTION = "interaction"  # F1, F2: Vault Clinical Interactions in one CRM connection
    STUDY = "study"  # F5, F7
    SITE = "site"  # F6, F7
    MEDICAL = "medical"  # F3, F4: Medical Activities in the CTMS, from every connection
    AUTOMATION = "automation"  # F8: activities the bridge derives inside the CTMS

    @property
    def writes_to_ctms(self) -> bool:
        return self in (LaneKind.MEDICAL, LaneKind.AUTOMATION)


# Lane strings written before partitions existed still drain, as partition 0.
_LEGACY = {"crm_activity__v": LaneKind.MEDICAL}


@dataclass(frozen=True, slots=True)
class Lane:
    kind: LaneKind
    connection_id: str | None  # the CRM connection written to; None when the target is the CTMS
    partition: int = 0

    def __post_init__(self) -> None:
        if self.kind.writes_to_ctms != (self.connection_id is None):
            raise ValueError(
                f"a {self.kind} lane {'has no' if self.kind.writes_to_ctms else 'needs a'} connection"
            )
        if self.partition < 0:
            raise ValueError("a lane partition is not negative")

    @property
    def key(self) -> str:
        return f"{self.connection_id or CTMS}:{self.kind}:{self.partition}"

    @classmethod
    def parse(cls, key: str) -> Lane:
        head, _, tail = key.rpartition(":")
        partition = 0
        if tail.isdigit() and ":" in head:
            partition, (head, _, tail) = int(tail), head.rpartition(":")
        kind = _LEGACY.get(tail) or LaneKind(tail)
        return cls(kind, None if kind.writes_to_ctms else head, partition)

    @classmethod
    def for_record(cls, kind: LaneKind, connection_id: str | None, record_key: str, partitions: int) -> Lane:
        """The partition a record always lands in (a stable hash, the same in every process)."""
        partition = zlib.crc32(record_key.encode()) % max(1, partitions)
        return cls(kind, None if kind.writes_to_ctms else connection_id, partition)

    def __str__(self) -> str:
        return self.key

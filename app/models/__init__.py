"""SQLModel tables only. Importing this package registers every table on ``metadata``."""

from app.models.base import metadata, utcnow
from app.models.connections import Connection, GlobalSettings
from app.models.deliveries import OPEN_STATUSES, Delivery, DeliveryAttempt, DeliveryStatus, Operation
from app.models.events import EventStatus, InboxEvent
from app.models.links import AccountMatch, RecordLink
from app.models.loads import InitialLoad
from app.models.operations import (
    ApiKey,
    AuditEntry,
    ThrottleGate,
    TransferRun,
    Watermark,
    WorkerHeartbeat,
)
from app.models.reconciliations import Drift, Reconciliation

__all__ = [
    "OPEN_STATUSES",
    "AccountMatch",
    "ApiKey",
    "AuditEntry",
    "Connection",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryStatus",
    "Drift",
    "EventStatus",
    "GlobalSettings",
    "InboxEvent",
    "InitialLoad",
    "Operation",
    "Reconciliation",
    "RecordLink",
    "ThrottleGate",
    "TransferRun",
    "Watermark",
    "WorkerHeartbeat",
    "metadata",
    "utcnow",
]

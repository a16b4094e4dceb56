"""Realistic CTMS events: a ``ctms.record.updated`` of one Clinical Activity (``crm_activity__v``), with the
record as the vault sends it (its fields plus Vault's system fields), about 1 KB of JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from app.signing import signed_headers

SUBJECTS = (
    "Protocol Q&A: inclusion criterion 4b, dose titration in week 2 and the eDiary reminder schedule",
    "Site initiation follow-up: pharmacy storage log, temperature excursions and IP accountability",
    "Safety question on concomitant medication (CYP3A4 inhibitors) raised by the sub-investigator",
)


def activity_record(
    n: int,
    *,
    person_id: str = "V0P000000001001",
    study_id: str = "0ST000000001001",
    site_id: str = "0SI000000001001",
    created_by: int = 10002,
    modified: str | None = None,
) -> dict[str, Any]:
    record_id = f"V6A{n:012d}"
    stamp = modified or dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "id": record_id,
        "name__v": f"V6A-{n:06d}",
        "status__v": ["active__v"],
        "object_type__v": "clinical_activity__v",
        "person__v": person_id,
        "activity_date__v": "2026-11-19",
        "channel__v": ["video__v"],
        "complete__v": True,
        "from__v": None,
        "subject__v": SUBJECTS[n % len(SUBJECTS)],
        "study__v": study_id,
        "study_country__v": None,
        "site__v": site_id,
        "study_person__v": None,
        "monitoring_event__v": None,
        "study_communication_log__v": None,
        "external_id__v": None,
        "lifecycle__v": "clinical_activity_lifecycle__c",
        "state__v": "active_state__c",
        "global_id__sys": f"204518#{record_id}",
        "link__sys": f"https://ctms.veevavault.com/ui/#object/crm_activity__v/{record_id}",
        "created_date__v": stamp,
        "modified_date__v": stamp,
        "created_by__v": created_by,
        "modified_by__v": created_by,
    }


def activity_event(n: int, **record: Any) -> dict[str, Any]:
    data = activity_record(n, **record)
    return {
        "type": "ctms.record.updated",
        "timestamp": data["modified_date__v"],
        "data": {
            "object": "crm_activity__v",
            "id": data["id"],
            "modified_date__v": data["modified_date__v"],
            "record": data,
        },
    }


def signed_request(secret: str, n: int, *, run: str, timestamp: int) -> tuple[dict[str, str], bytes]:
    """Headers and body of one validly signed webhook, with a webhook id unique to (run, n)."""
    body = orjson.dumps(activity_event(n))
    return signed_headers(secret, f"msg_{run}_{n:08d}", timestamp, body), body

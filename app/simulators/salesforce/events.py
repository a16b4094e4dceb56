"""The events a Veeva CRM org sends to the bridge (CONTRACT.md section 2), built from stored records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.simulators.salesforce.store import Record, RecordStore

CALL_OBJECT = "Call2_vod__c"
SENT_TO_VAULT = "crm.call.sent_to_vault"
CALL_DELETED = "crm.call.deleted"


def sent_to_vault_data(store: RecordStore, call: Record, account_fields: Sequence[str]) -> dict[str, Any]:
    """``data`` of ``crm.call.sent_to_vault``: the call with its account's identifiers and its creator."""
    record: dict[str, Any] = {
        "attributes": {"type": CALL_OBJECT},
        "Id": call["Id"],
        "Call_Date_vod__c": call.get("Call_Date_vod__c"),
    }
    if call.get("Call_Datetime_vod__c") is not None:
        record["Call_Datetime_vod__c"] = call["Call_Datetime_vod__c"]
    for name in ("Call_Channel_vod__c", "Status_vod__c", "Subject_vod__c", "Account_vod__c"):
        record[name] = call.get(name)
    account = store.get("Account", call["Account_vod__c"]) if call.get("Account_vod__c") else None
    record["Account"] = (
        None if account is None else {"Id": account["Id"], **{f: account.get(f) for f in account_fields}}
    )
    creator = store.get("User", call["CreatedById"]) or store.get_deleted("User", call["CreatedById"])
    record["CreatedBy"] = (
        None if creator is None else {k: creator.get(k) for k in ("FirstName", "LastName", "Email")}
    )
    record["LastModifiedDate"] = call["LastModifiedDate"]
    return {"record": record}


def call_deleted_data(call_id: str, deleted_at: str) -> dict[str, Any]:
    return {"Id": call_id, "deleted_at": deleted_at}

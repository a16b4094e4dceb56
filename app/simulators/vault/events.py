"""Turn record changes into the signed events the bridge receives (CONTRACT.md section 2).

CTMS flavor: every create, update and delete of any object, whether a human made it or the bridge wrote
it through the API (the bridge must recognise its own echoes, e.g. by ``modified_by__v``).
CRM flavor (Vault CRM): only Calls (``call2__v``) changed by people, announced as "sent to Vault
Clinical" or "deleted", to ``/webhooks/crm/{connection_id}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from app.simulators.vault import spark
from app.simulators.vault.writes import Change

if TYPE_CHECKING:
    from app.simulators.vault.state import VaultState

CALL_OBJECT = "call2__v"
CTMS_PATH = "/webhooks/ctms"


def announce(state: VaultState, change: Change, *, via: Literal["api", "user"]) -> None:
    if state.config.flavor == "ctms":
        _announce_ctms(state, change)
    elif via == "user" and change.object == CALL_OBJECT:
        if change.kind == "deleted":
            state.emitter.emit(
                "crm.call.deleted",
                {"Id": change.record["id"], "deleted_at": change.at},
                path_suffix=crm_path(state),
            )
        else:
            send_call_to_vault(state, change.record)


def _announce_ctms(state: VaultState, change: Change) -> None:
    if state.ctms_intake == "spark":
        spark.send_change(state, change.object, change.kind, change.record["id"])
        return
    data: dict[str, Any] = {"object": change.object, "id": change.record["id"], "modified_date__v": change.at}
    if change.kind != "deleted" and not state.emitter.thin:
        data["record"] = state.present(change.object, change.record)
    state.emitter.emit(f"ctms.record.{change.kind}", data, path_suffix=CTMS_PATH)


def call_payload(state: VaultState, call: dict[str, Any]) -> dict[str, Any]:
    """The call as Vault CRM sends it: its fields, its account (with the identifier) and its creator."""
    record = state.present(CALL_OBJECT, call)
    account = state.get("account__v", call.get("account__v") or "")
    record["account__vr"] = state.present("account__v", account) if account else None
    creator = state.get("user__sys", call.get("created_by__v") or "")
    record["created_by__vr"] = (
        {k: creator.get(k) for k in ("id", "first_name__sys", "last_name__sys", "email__sys")}
        if creator
        else None
    )
    return record


def send_call_to_vault(state: VaultState, call: dict[str, Any]) -> None:
    state.emitter.emit(
        "crm.call.sent_to_vault", {"record": call_payload(state, call)}, path_suffix=crm_path(state)
    )


def check_wiring(state: VaultState, object_name: str) -> None:
    """Refuse a change whose event could not be addressed, before the change is made."""
    if state.config.flavor == "crm" and object_name == CALL_OBJECT:
        crm_path(state)


def crm_path(state: VaultState) -> str:
    connection_id = state.config.crm_connection_id
    if connection_id is None and state.emitter.enabled and state.emitter.target is not None:
        raise RuntimeError("crm flavor: set the bridge connection id (configure_webhook(connection_id=...))")
    return f"/webhooks/crm/{connection_id}"

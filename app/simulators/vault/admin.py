"""``/_sim`` routes: drive and inspect the simulator at run time (no auth, not counted as API calls).

Record routes act as a human user of the vault, so their changes emit events like a person's would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from app.simulators.common.calllog import ApiCall
from app.simulators.common.emitter import EmittedEvent
from app.simulators.common.faults import FaultSettings
from app.simulators.vault.auth import StateDep
from app.simulators.vault.state import CtmsIntake, RecordRejected, VaultState

router = APIRouter(prefix="/_sim", tags=["simulator admin"])
T = TypeVar("T")


class WebhookSettings(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"url": "http://127.0.0.1:8000", "secret": "whsec_<base64 of 24 to 64 random bytes>"},
                {"url": "http://127.0.0.1:8000", "secret": "whsec_…", "connection_id": "conn_0123456789ab"},
            ]
        }
    )

    url: str | None = None  # the bridge's base URL; the flavor adds /webhooks/ctms or /webhooks/crm/{id}
    secret: str | None = None
    thin: bool = False
    enabled: bool = True
    connection_id: str | None = None  # crm flavor
    intake: CtmsIntake | None = (
        None  # ctms flavor: "webhooks" (Standard Webhooks) or "spark" (Spark messages)
    )


class WebhookView(BaseModel):
    url: str | None
    has_secret: bool
    thin: bool
    enabled: bool
    connection_id: str | None
    intake: CtmsIntake


@router.get("/faults")
async def get_faults(state: StateDep) -> FaultSettings:
    return state.faults.settings


@router.put("/faults")
async def put_faults(settings: FaultSettings, state: StateDep) -> FaultSettings:
    state.faults.configure(settings)
    return state.faults.settings


@router.post("/sessions/expire")
async def expire_sessions(state: StateDep, user_id: int | None = None) -> dict[str, int]:
    return {"expired": state.expire_sessions(user_id)}


@router.get("/calls")
async def list_calls(state: StateDep) -> list[ApiCall]:
    return state.calls.calls


@router.delete("/calls", status_code=204)
async def clear_calls(state: StateDep) -> Response:
    state.calls.clear()
    return Response(status_code=204)


class PicklistView(BaseModel):
    picklist: str
    used_in: list[str]  # object.field
    values: list[dict[str, Any]]  # {"name", "active"}


def _picklist_view(state: VaultState, picklist: str) -> PicklistView:
    return PicklistView(
        picklist=picklist,
        used_in=[f"{obj.name}.{f.name}" for obj, f in state.registry.picklist_fields(picklist)],
        values=state.picklist_values(picklist),
    )


@router.get("/picklists")
async def list_picklists(state: StateDep) -> list[PicklistView]:
    """Every picklist with its values and whether each is active (what writes accept now)."""
    return [_picklist_view(state, name) for name in state.registry.picklist_names()]


@router.put("/picklists/{object_name}/{field_name}/{value}")
async def activate_picklist_value(
    object_name: str, field_name: str, value: str, state: StateDep
) -> PicklistView:
    """Make ``value`` an active value of the picklist behind the field (added if it is new)."""
    picklist = _user_action(lambda: state.set_picklist_value(object_name, field_name, value, active=True))
    return _picklist_view(state, picklist)


@router.delete("/picklists/{object_name}/{field_name}/{value}")
async def inactivate_picklist_value(
    object_name: str, field_name: str, value: str, state: StateDep
) -> PicklistView:
    """Fault switch: inactivate ``value``, as a vault admin would. Writes with it then fail with
    ``INVALID_DATA``, and Retrieve Picklist Values no longer lists it. Vault picklists are shared, so
    every field using the picklist is affected; ``PUT`` the same path to activate it again."""
    picklist = _user_action(lambda: state.set_picklist_value(object_name, field_name, value, active=False))
    return _picklist_view(state, picklist)


@router.get("/records/{object_name}")
async def list_records(object_name: str, state: StateDep) -> list[dict[str, Any]]:
    if state.object_schema(object_name) is None:
        raise HTTPException(404, f"object {object_name} does not exist")
    return [state.present(object_name, rec) for rec in state.records_of(object_name)]


@router.post("/records/{object_name}", status_code=201)
async def create_record(
    object_name: str, state: StateDep, fields: Annotated[dict[str, Any], Body()], as_user: str | None = None
) -> dict[str, Any]:
    """Create a record as a person in the vault's UI would (``as_user``: a username or user id; default
    the first human user), with the API's validation; the vault then sends its change event."""
    return _user_action(lambda: state.user_create(object_name, fields, as_user=as_user))


@router.patch("/records/{object_name}/{record_id}")
async def update_record(
    object_name: str,
    record_id: str,
    state: StateDep,
    fields: Annotated[dict[str, Any], Body()],
    as_user: str | None = None,
) -> dict[str, Any]:
    return _user_action(lambda: state.user_update(object_name, record_id, fields, as_user=as_user))


@router.delete("/records/{object_name}/{record_id}", status_code=204)
async def delete_record(object_name: str, record_id: str, state: StateDep) -> Response:
    _user_action(lambda: state.user_delete(object_name, record_id))
    return Response(status_code=204)


@router.post("/crm/calls/{call_id}/send-to-vault-clinical", status_code=202)
async def send_to_vault_clinical(call_id: str, state: StateDep) -> dict[str, str]:
    if state.config.flavor != "crm":
        raise HTTPException(409, "send to Vault Clinical is a Vault CRM action (crm flavor)")
    _user_action(lambda: state.send_to_vault_clinical(call_id))
    return {"status": "sent"}


@router.get("/webhook")
async def get_webhook(state: StateDep) -> WebhookView:
    target = state.emitter.target
    return WebhookView(
        url=target.url if target else None,
        has_secret=bool(target and target.secret),
        thin=state.emitter.thin,
        enabled=state.emitter.enabled,
        connection_id=state.config.crm_connection_id,
        intake=state.ctms_intake,
    )


@router.put("/webhook")
async def put_webhook(settings: WebhookSettings, state: StateDep) -> WebhookView:
    _user_action(
        lambda: state.configure_webhook(
            settings.url,
            settings.secret,
            thin=settings.thin,
            enabled=settings.enabled,
            connection_id=settings.connection_id,
            intake=settings.intake,
        )
    )
    return await get_webhook(state)


@router.get("/events")
async def sent_events(state: StateDep) -> list[EmittedEvent]:
    return state.emitter.log


@router.post("/reset", status_code=204)
async def reset(state: StateDep) -> Response:
    state.reset()
    return Response(status_code=204)


def _user_action(action: Callable[[], T]) -> T:
    try:
        return action()
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0]) if exc.args else "not found") from None
    except RecordRejected as exc:
        raise HTTPException(422, {"errors": exc.errors}) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    except RuntimeError as exc:
        raise HTTPException(409, str(exc)) from None

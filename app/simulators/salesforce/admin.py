"""``/_sim``: drive and inspect the simulated org over HTTP (no session, not counted, never faulted).

Records created here are created as a CRM user would create them (``user_id`` query parameter, default the
field user Ana Silva), with the same validation as the API.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field

from app.simulators.common.faults import FaultSettings
from app.simulators.salesforce.schema import FieldDef, FieldType
from app.simulators.salesforce.state import API_USERNAME, SalesforceState
from app.simulators.salesforce.web import StateDep

router = APIRouter(prefix="/_sim", tags=["simulator"])
Fields = Annotated[dict[str, Any], Body()]


class SalesforceFaultSettings(FaultSettings):
    rate_limit_status: Literal[403, 429] = Field(
        403, description="403 REQUEST_LIMIT_EXCEEDED (what the platform sends) or 429"
    )


class WebhookConfig(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "http://127.0.0.1:8000",
                    "secret": "<the connection's webhook secret, whsec_…>",
                    "connection_id": "conn_0123456789ab",
                }
            ]
        }
    )

    url: str
    secret: str
    connection_id: str
    enabled: bool = True


class ClientConfig(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"client_id": "bridge", "client_secret": "a-long-random-secret"}]}
    )

    client_id: str
    client_secret: str


class JwtClientConfig(BaseModel):
    """A connected app for the JWT bearer flow: the certificate (or public key) PEM it verifies
    assertions with, and the usernames pre-authorized for it (default: the integration user)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client_id": "bridge-jwt",
                    "certificate": "-----BEGIN CERTIFICATE-----\nMIIC…\n-----END CERTIFICATE-----\n",
                    "usernames": [API_USERNAME],
                }
            ]
        }
    )

    client_id: str
    certificate: str
    usernames: list[str] = Field(default_factory=lambda: [API_USERNAME])


class LimitsConfig(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"daily_api_limit": 1000, "api_usage": 990}]})

    daily_api_limit: int | None = Field(None, ge=0)
    api_usage: int | None = Field(None, ge=0)
    token_lifetime_seconds: float | None = Field(None, gt=0)


class NewUser(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"first_name": "Rita", "last_name": "Neves", "email": "rita.neves@example.com"}]
        }
    )

    first_name: str
    last_name: str
    email: str


def _faults(state: SalesforceState) -> SalesforceFaultSettings:
    return SalesforceFaultSettings(
        **state.faults.settings.model_dump(), rate_limit_status=403 if state.rate_limit_status == 403 else 429
    )


@router.get("/faults")
async def get_faults(state: StateDep) -> SalesforceFaultSettings:
    return _faults(state)


@router.put("/faults")
async def put_faults(settings: SalesforceFaultSettings, state: StateDep) -> SalesforceFaultSettings:
    base = FaultSettings(**settings.model_dump(exclude={"rate_limit_status"}))
    state.configure_faults(base, rate_limit_status=settings.rate_limit_status)
    return _faults(state)


@router.post("/tokens/expire")
async def expire_tokens(state: StateDep) -> dict[str, int]:
    return {"expired": state.expire_tokens()}


@router.get("/limits")
async def get_limits(state: StateDep) -> dict[str, Any]:
    return {
        "daily_api_limit": state.daily_api_limit,
        "api_usage": state.api_usage,
        "token_lifetime_seconds": state.token_lifetime_seconds,
    }


@router.put("/limits")
async def put_limits(limits: LimitsConfig, state: StateDep) -> dict[str, Any]:
    if limits.daily_api_limit is not None:
        state.daily_api_limit = limits.daily_api_limit
    if limits.api_usage is not None:
        state.api_usage = limits.api_usage
    if limits.token_lifetime_seconds is not None:
        state.token_lifetime_seconds = limits.token_lifetime_seconds
    return await get_limits(state)


@router.get("/calls")
async def get_calls(state: StateDep) -> list[dict[str, Any]]:
    return [call.model_dump() for call in state.calls.calls]


@router.delete("/calls", status_code=status.HTTP_204_NO_CONTENT)
async def clear_calls(state: StateDep) -> None:
    state.calls.clear()


@router.get("/events")
async def get_events(state: StateDep) -> list[dict[str, Any]]:
    return [event.model_dump() for event in state.emitter.log]


@router.post("/users", status_code=status.HTTP_201_CREATED)
async def add_user(user: NewUser, state: StateDep) -> dict[str, str]:
    return {"id": state.add_user(user.first_name, user.last_name, user.email)}


class PicklistView(BaseModel):
    object: str
    field: str
    restricted: bool
    values: list[dict[str, Any]]  # {"value", "active"}


def _picklist(state: SalesforceState, sobject: str, field: str) -> tuple[str, FieldDef]:
    obj = state.object_def(sobject)
    found = obj.field(field)
    if found is None or found.type != FieldType.PICKLIST:
        raise HTTPException(404, f"{obj.name} has no picklist field {field}")
    return obj.name, found


def _picklist_view(state: SalesforceState, sobject: str, field: str) -> PicklistView:
    name, found = _picklist(state, sobject, field)
    return PicklistView(
        object=name,
        field=found.name,
        restricted=found.restricted,
        values=[{"value": v, "active": v not in found.inactive} for v in found.picklist],
    )


@router.get("/picklists/{sobject}/{field}")
async def get_picklist(sobject: str, field: str, state: StateDep) -> PicklistView:
    """A picklist field's values and whether each is active (describe lists only the active ones)."""
    return _picklist_view(state, sobject, field)


@router.put("/picklists/{sobject}/{field}/{value}")
async def activate_picklist_value(sobject: str, field: str, value: str, state: StateDep) -> PicklistView:
    """Activate ``value`` on the field (added if it is new), as an admin editing the field would."""
    name, found = _picklist(state, sobject, field)
    state.schema.add_picklist_values(name, found.name, value)
    return _picklist_view(state, sobject, field)


@router.delete("/picklists/{sobject}/{field}/{value}")
async def deactivate_picklist_value(sobject: str, field: str, value: str, state: StateDep) -> PicklistView:
    """Fault switch: deactivate ``value`` on one object's field. Describe no longer lists it, and on a
    restricted picklist a write with it fails with ``INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST`` ("bad
    value for restricted picklist field"). ``PUT`` the same path to activate it again."""
    name, found = _picklist(state, sobject, field)
    if value not in found.picklist:
        raise HTTPException(
            404, f"{value} is not a value of {name}.{found.name} ({', '.join(found.picklist)})"
        )
    state.schema.deactivate_picklist_value(name, found.name, value)
    return _picklist_view(state, sobject, field)


@router.get("/records/{sobject}")
async def list_records(sobject: str, state: StateDep, include_deleted: bool = False) -> list[dict[str, Any]]:
    return state.list_records(sobject, include_deleted=include_deleted)


@router.post("/records/{sobject}", status_code=status.HTTP_201_CREATED)
async def create_record(
    sobject: str, fields: Fields, state: StateDep, user_id: str | None = None
) -> dict[str, Any]:
    """Create a record as a CRM user would (``user_id``; default the field user Ana Silva), with the
    API's validation and error shape."""
    return state.create_record(sobject, fields, user_id=user_id)


@router.get("/records/{sobject}/{record_id}")
async def get_record(sobject: str, record_id: str, state: StateDep) -> dict[str, Any]:
    return state.live_record(sobject, record_id)[1]


@router.patch("/records/{sobject}/{record_id}")
async def update_record(
    sobject: str, record_id: str, fields: Fields, state: StateDep, user_id: str | None = None
) -> dict[str, Any]:
    return state.update_record(sobject, record_id, fields, user_id=user_id)


@router.delete("/records/{sobject}/{record_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_record(sobject: str, record_id: str, state: StateDep, user_id: str | None = None) -> None:
    state.delete_record(sobject, record_id, user_id=user_id)


@router.post("/calls/{call_id}/send-to-vault", status_code=status.HTTP_202_ACCEPTED)
async def send_to_vault(call_id: str, state: StateDep) -> dict[str, Any]:
    return state.send_call_to_vault(call_id)


@router.put("/webhook")
async def put_webhook(config: WebhookConfig, state: StateDep) -> dict[str, Any]:
    state.configure_webhook(config.url, config.secret, config.connection_id, enabled=config.enabled)
    return config.model_dump(exclude={"secret"})


@router.delete("/webhook", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(state: StateDep) -> None:
    state.emitter.target = None
    state.connection_id = None


class OutboundMessageConfig(BaseModel):
    url: str | None  # the full endpoint URL of the Outbound Message (the bridge's, token included); null: off


@router.put("/outbound-messages")
async def put_outbound_messages(config: OutboundMessageConfig, state: StateDep) -> OutboundMessageConfig:
    """Calls sent to Vault Clinical go as Outbound Messages (SOAP) to ``url`` instead of as webhooks."""
    state.configure_outbound_messages(config.url)
    return config


@router.put("/clients", status_code=status.HTTP_204_NO_CONTENT)
async def put_client(client: ClientConfig, state: StateDep) -> Response:
    state.register_client(client.client_id, client.client_secret)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/jwt-clients", status_code=status.HTTP_204_NO_CONTENT)
async def put_jwt_client(client: JwtClientConfig, state: StateDep) -> Response:
    try:
        state.register_jwt_client(client.client_id, client.certificate, tuple(client.usernames))
    except ValueError as exc:
        raise HTTPException(422, f"certificate: {exc}") from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/reset", status_code=status.HTTP_204_NO_CONTENT)
async def reset(state: StateDep) -> Response:
    state.reset()
    return Response(status_code=status.HTTP_204_NO_CONTENT)

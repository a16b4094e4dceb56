"""/api/v1/connections: configure CRM connections (admin), read them (viewer), test them (operator)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query, Response, status

from app.api.deps import ResourcesDep
from app.api.operator.auth import CallerDep
from app.api.operator.edge import secret_box, transaction
from app.api.operator.pagination import Page, PageDep
from app.api.operator.routing import errors, operator_router
from app.api.operator.schemas.connections import (
    ConnectionCreate,
    ConnectionCreated,
    ConnectionOut,
    ConnectionTestReport,
    ConnectionUpdate,
    DeletedConnection,
    ForgottenMatches,
    OutboundMessagePaths,
    WebhookSecretAdd,
    WebhookSecretAdded,
)
from app.api.problems import Problem
from app.api.webhooks.outbound_messages import outbound_message_path
from app.crypto import SecretBox
from app.models import Connection
from app.repositories import connections
from app.services import connection_test, connections_admin
from app.services.connection_settings import view
from app.services.names import ctms_names_for
from app.services.throttle import throttled_until
from app.services.transfer.initial_load import hand_to_worker, request_load

router = operator_router("connections")
ONE = "/api/v1/connections/{connection_id}"
NOT_FOUND = ("CONNECTION_NOT_FOUND", "no connection with id conn_0123456789ab")
NOT_SALESFORCE = ("NOT_A_SALESFORCE_CONNECTION", "Outbound Messages are a Salesforce feature")
NAME_TAKEN = ("CONNECTION_NAME_TAKEN", "another connection is already named 'EU Medical CRM'")


def _out(connection: Connection, box: SecretBox, paused: dict[str, datetime] | None = None) -> ConnectionOut:
    return ConnectionOut.model_validate(
        {**view(connection, box), "throttled_until": (paused or {}).get(connection.id)}
    )


@router.get("/api/v1/connections", summary="List connections (no secrets)", responses=errors(400, 422))
async def list_connections(resources: ResourcesDep, _caller: CallerDep, page: PageDep) -> Page[ConnectionOut]:
    box = secret_box(resources)
    async with resources.sessionmaker() as session:
        rows = await connections.page(session, after_name=page.str_key(), limit=page.limit + 1)
        paused = await throttled_until(session)
    return page.page(rows, lambda c: [c.name], lambda c: _out(c, box, paused))


@router.post(
    "/api/v1/connections",
    status_code=status.HTTP_201_CREATED,
    summary="Create a connection; a generated webhook secret is shown this once",
    description=(
        "Secrets (`crm.client_secret`, `crm.password`, `webhook_secret`) are stored encrypted and never "
        "returned. Without `webhook_secret`, one is generated and returned in this answer only. "
        "`object_names` and `account_match` are checked key by key (422 `INVALID_OBJECT_NAMES`, "
        "`INVALID_ACCOUNT_MATCH`)."
    ),
    responses=errors(409, 422, conflict=NAME_TAKEN),
)
async def create_connection(
    body: ConnectionCreate, resources: ResourcesDep, caller: CallerDep
) -> ConnectionCreated:
    box = secret_box(resources)
    data = connections_admin.NewConnection(
        name=body.name,
        platform=body.platform,
        crm=body.crm.model_dump(),
        webhook_secret=body.webhook_secret,
        account_match=body.account_match,
        sync_studies_and_sites=body.sync_studies_and_sites,
        object_names=body.object_names,
        active=body.active,
    )
    async with transaction(resources) as session:
        connection, generated = await connections_admin.create(session, box, data, actor=caller.actor)
        out = view(connection, box)
    return ConnectionCreated.model_validate({**out, "webhook_secret": generated})


@router.get(ONE, summary="One connection (no secrets)", responses=errors(404, not_found=NOT_FOUND))
async def get_connection(connection_id: str, resources: ResourcesDep, _caller: CallerDep) -> ConnectionOut:
    async with resources.sessionmaker() as session:
        connection = await connections_admin.get(session, connection_id)
        paused = await throttled_until(session)
    return _out(connection, secret_box(resources), paused)


@router.patch(
    ONE,
    summary="Change a connection (only the keys sent)",
    description=(
        "`crm` is merged key by key; `webhook_secret` replaces all webhook secrets at once (for a "
        "rotation without downtime use `POST …/webhook-secrets`, then `DELETE …/webhook-secrets/previous`). "
        "A changed account identifier pair forgets this connection's cached person-account matches."
    ),
    responses=errors(404, 409, 422, not_found=NOT_FOUND, conflict=NAME_TAKEN),
)
async def update_connection(
    connection_id: str, body: ConnectionUpdate, resources: ResourcesDep, caller: CallerDep
) -> ConnectionOut:
    box = secret_box(resources)
    changes = body.model_dump(exclude_unset=True)
    async with transaction(resources) as session:
        connection = await connections_admin.update(session, box, connection_id, changes, actor=caller.actor)
        return _out(connection, box)


@router.delete(
    ONE,
    summary="Delete an inactive connection",
    description="Deactivate first (409 `CONNECTION_ACTIVE`). Its waiting deliveries are discarded.",
    responses=errors(
        404,
        409,
        not_found=NOT_FOUND,
        conflict=("CONNECTION_ACTIVE", "deactivate the connection before deleting it"),
    ),
)
async def delete_connection(
    connection_id: str, resources: ResourcesDep, caller: CallerDep
) -> DeletedConnection:
    async with transaction(resources) as session:
        discarded = await connections_admin.delete(
            session, secret_box(resources), connection_id, actor=caller.actor
        )
    return DeletedConnection(id=connection_id, deliveries_discarded=discarded)


@router.delete(
    ONE + "/account-matches",
    summary="Forget the connection's cached person → account matches",
    description=(
        "After accounts were re-keyed or merged in the CRM: every person is matched again by its next "
        "delivery. The bridge already drops one match by itself when the CRM answers that its account is "
        "gone (`INVALID_CROSS_REFERENCE_KEY`, `ENTITY_IS_DELETED`)."
    ),
    responses=errors(404, not_found=NOT_FOUND),
)
async def forget_account_matches(
    connection_id: str, resources: ResourcesDep, caller: CallerDep
) -> ForgottenMatches:
    async with transaction(resources) as session:
        dropped = await connections_admin.forget_account_matches(session, connection_id, actor=caller.actor)
    return ForgottenMatches(connection_id=connection_id, dropped=dropped)


async def _set_active(
    resources: ResourcesDep, caller: CallerDep, connection_id: str, active: bool
) -> ConnectionOut:
    box = secret_box(resources)
    async with transaction(resources) as session:
        connection = await connections_admin.set_active(
            session, box, connection_id, active, actor=caller.actor
        )
        return _out(connection, box)


@router.post(
    ONE + "/activate",
    summary="Activate: events flow to and from this CRM, its webhooks are accepted",
    description=(
        "With `?initial_load=true` an initial load starts too (this connection's CRM calls, and every CTMS "
        "study, site and activity): the `Location` header names it. If a load is already in progress the "
        "connection stays as it was (409 `INITIAL_LOAD_IN_PROGRESS`)."
    ),
    responses=errors(404, 409, not_found=NOT_FOUND),
)
async def activate_connection(
    connection_id: str,
    resources: ResourcesDep,
    caller: CallerDep,
    response: Response,
    initial_load: Annotated[bool, Query(description="also load what already exists")] = False,
) -> ConnectionOut:
    if not initial_load:
        return await _set_active(resources, caller, connection_id, True)
    box = secret_box(resources)
    async with transaction(resources) as session:
        connection = await connections_admin.set_active(session, box, connection_id, True, actor=caller.actor)
        load = await request_load(session, caller.actor, connection_id=connection_id, trigger="activation")
        out = _out(connection, box)
    await hand_to_worker(resources.queue, load)
    response.headers["Location"] = f"/api/v1/initial-loads/{load.id}"
    return out


@router.post(
    ONE + "/deactivate",
    summary="Deactivate: no new deliveries, its webhooks answer 404",
    responses=errors(404, not_found=NOT_FOUND),
)
async def deactivate_connection(
    connection_id: str, resources: ResourcesDep, caller: CallerDep
) -> ConnectionOut:
    return await _set_active(resources, caller, connection_id, False)


@router.post(
    ONE + "/webhook-secrets",
    status_code=status.HTTP_201_CREATED,
    summary="Add a webhook secret beside the current ones (rotation step 1)",
    description=(
        "Both the old and the new secret verify until `DELETE …/webhook-secrets/previous`. Without a body "
        "secret one is generated and returned this once. At most 5 secrets (409 `TOO_MANY_WEBHOOK_SECRETS`)."
    ),
    responses=errors(
        404,
        409,
        422,
        not_found=NOT_FOUND,
        conflict=(
            "TOO_MANY_WEBHOOK_SECRETS",
            "a connection holds at most 5 webhook secrets; retire the previous ones first",
        ),
    ),
)
async def add_webhook_secret(
    connection_id: str, resources: ResourcesDep, caller: CallerDep, body: WebhookSecretAdd | None = None
) -> WebhookSecretAdded:
    box = secret_box(resources)
    secret = body.webhook_secret if body is not None else None
    async with transaction(resources) as session:
        connection, generated = await connections_admin.add_webhook_secret(
            session, box, connection_id, secret, actor=caller.actor
        )
        out = _out(connection, box)
    return WebhookSecretAdded(connection=out, webhook_secret=generated)


@router.delete(
    ONE + "/webhook-secrets/previous",
    summary="Keep only the newest webhook secret (rotation step 2)",
    responses=errors(404, not_found=NOT_FOUND),
)
async def retire_previous_webhook_secrets(
    connection_id: str, resources: ResourcesDep, caller: CallerDep
) -> ConnectionOut:
    box = secret_box(resources)
    async with transaction(resources) as session:
        connection = await connections_admin.retire_previous_webhook_secrets(
            session, box, connection_id, actor=caller.actor
        )
        return _out(connection, box)


@router.get(
    ONE + "/outbound-message-urls",
    summary="The URL paths a Salesforce Outbound Message of this connection posts to (secret)",
    description=(
        "Each path carries a token derived from one of the connection's webhook secrets, so it is shown to "
        "admins only, and a secret rotation gives a new path (README: Connecting a real Veeva CRM org)."
    ),
    responses=errors(404, 409, not_found=NOT_FOUND, conflict=NOT_SALESFORCE),
)
async def outbound_message_urls(
    connection_id: str, resources: ResourcesDep, _caller: CallerDep
) -> OutboundMessagePaths:
    box = secret_box(resources)
    async with resources.sessionmaker() as session:
        connection = await connections_admin.get(session, connection_id)
    if connection.platform != "salesforce":
        raise Problem(409, *NOT_SALESFORCE)
    secrets = [str(s) for s in box.open(connection.webhook_secrets_encrypted) or []]
    return OutboundMessagePaths(paths=[outbound_message_path(connection.id, s) for s in secrets])


@router.post(
    ONE + "/test",
    summary="Log in to the CRM and the CTMS and check every object and field the bridge writes",
    description=(
        "Changes nothing. Each check says what is missing (an object, a field, write access). "
        "`ok` is true only when every check passed."
    ),
    responses=errors(404, not_found=NOT_FOUND),
)
async def run_connection_test(
    connection_id: str, resources: ResourcesDep, _caller: CallerDep
) -> ConnectionTestReport:
    async with resources.sessionmaker() as session:
        connection = await connections_admin.get(session, connection_id)
        pair = await connections_admin.account_match_of(session, connection)
        ctms_names = ctms_names_for(await connections.global_settings(session))
    report = await connection_test.run(resources.http, resources.settings, connection, pair, ctms_names)
    return ConnectionTestReport.model_validate(report.as_dict())

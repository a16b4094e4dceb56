"""`bridge connections …`: configure CRM connections through the operator API."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli.http import (
    DEFAULT_API_URL,
    FIELD_FLAGS,
    ApiClient,
    ApiKeyOption,
    ApiUrlOption,
    CursorOption,
    JsonOption,
    LimitOption,
    fail,
    json_document,
    note,
    out,
    page,
    show,
    table,
)

app = typer.Typer(help="Configure CRM connections (admin); list and test them.", no_args_is_help=True)
BASE = "/api/v1/connections"
FIELD_FLAGS["crm"] = (
    "--login-url, --client-id and --client-secret, or --auth jwt_bearer with --username and "
    "--private-key-file (salesforce), or --vault-url, --username, --password and --vault-id (vault)"
)

COLUMNS = [
    ("id", "id"),
    ("name", "name"),
    ("platform", "platform"),
    ("active", "active"),
    ("studies & sites", "sync_studies_and_sites"),
    ("webhook secrets", "webhook_secret_count"),
    ("updated", "updated_at"),
]

# Options shared by create and update; None means "not given".
LoginUrl = Annotated[
    str | None,
    typer.Option(
        help="salesforce: token URL; client credentials need the My Domain URL (https://<mydomain>.my.salesforce.com)"
    ),
]
Auth = Annotated[
    str | None,
    typer.Option(help="salesforce: client_credentials (default) or jwt_bearer", show_default=False),
]
PrivateKeyFile = Annotated[
    typer.FileText | None,
    typer.Option(
        help="salesforce jwt_bearer: PEM file of the RSA private key whose certificate the connected app holds",
        show_default=False,
    ),
]
Audience = Annotated[
    str | None,
    typer.Option(
        help="salesforce jwt_bearer: the JWT aud (default https://login.salesforce.com, or test. for a sandbox)"
    ),
]
ClientId = Annotated[str | None, typer.Option(help="salesforce: connected app client id")]
ClientSecret = Annotated[
    str | None,
    typer.Option(envvar="BRIDGE_CRM_CLIENT_SECRET", help="salesforce: client secret", show_default=False),
]
VaultUrl = Annotated[str | None, typer.Option(help="vault: https://<crm>.veevavault.com")]
Username = Annotated[
    str | None, typer.Option(help="vault: integration user; salesforce jwt_bearer: the user to sign in as")
]
Password = Annotated[
    str | None,
    typer.Option(envvar="BRIDGE_CRM_PASSWORD", help="vault: integration user's password", show_default=False),
]
VaultId = Annotated[str | None, typer.Option(help="vault: the vaultId login must return")]
ApiVersion = Annotated[str | None, typer.Option(help="e.g. v62.0 (salesforce), v25.2 (vault)")]
WebhookSecret = Annotated[
    str | None, typer.Option(help="whsec_… secret; on create, omit to have one generated", show_default=False)
]
PersonField = Annotated[str | None, typer.Option(help="CTMS Person field with the shared identifier")]
AccountField = Annotated[str | None, typer.Option(help="CRM Account field with the shared identifier")]
ObjectNames = Annotated[str | None, typer.Option(help="object_names overrides: JSON, or @file.json")]
SyncStudies = Annotated[
    bool | None, typer.Option("--sync-studies-and-sites/--no-sync-studies-and-sites", show_default=False)
]
Active = Annotated[bool | None, typer.Option("--active/--inactive", show_default=False)]
FromFile = Annotated[
    str | None, typer.Option("--file", help="the request body as JSON (@file.json); options override")
]


def _crm(**values: str | None) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _body(
    file: str | None,
    crm: dict[str, Any],
    webhook_secret: str | None,
    person_field: str | None,
    account_field: str | None,
    object_names: str | None,
    **plain: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = dict(json_document(file, "--file") or {})
    if crm:
        body["crm"] = {**body.get("crm", {}), **crm}
    if webhook_secret is not None:
        body["webhook_secret"] = webhook_secret
    if person_field is not None or account_field is not None:
        if person_field is None or account_field is None:
            fail("give --ctms-person-field and --crm-account-field together", 2)
        body["account_match"] = {"ctms_person_field": person_field, "crm_account_field": account_field}
    if object_names is not None:
        body["object_names"] = json_document(object_names, "--object-names")
    body.update({k: v for k, v in plain.items() if v is not None})
    return body


@app.command("list")
def list_(
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> None:
    """List connections (no secrets)."""
    with ApiClient(api_url, api_key) as api:
        page(api.get(BASE, limit=limit, cursor=cursor), COLUMNS, as_json=as_json, title="Connections")


@app.command("show")
def show_one(
    connection_id: str,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one connection (no secrets)."""
    with ApiClient(api_url, api_key) as api:
        show(api.get(f"{BASE}/{connection_id}"))


@app.command()
def create(
    name: Annotated[str | None, typer.Option(help="unique name")] = None,
    platform: Annotated[str | None, typer.Option(help="salesforce or vault")] = None,
    login_url: LoginUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    auth: Auth = None,
    private_key_file: PrivateKeyFile = None,
    audience: Audience = None,
    vault_url: VaultUrl = None,
    username: Username = None,
    password: Password = None,
    vault_id: VaultId = None,
    api_version: ApiVersion = None,
    webhook_secret: WebhookSecret = None,
    ctms_person_field: PersonField = None,
    crm_account_field: AccountField = None,
    object_names: ObjectNames = None,
    sync_studies_and_sites: SyncStudies = None,
    active: Active = None,
    file: FromFile = None,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a connection. A generated webhook secret is printed once, on stderr (with --json: inside
    the JSON, as `webhook_secret`): configure it in the CRM now."""
    crm = _crm(
        login_url=login_url, client_id=client_id, client_secret=client_secret, vault_url=vault_url,
        username=username, password=password, vault_id=vault_id, api_version=api_version, auth=auth,
        audience=audience, private_key=private_key_file.read() if private_key_file else None,
    )  # fmt: skip
    body = _body(
        file, crm, webhook_secret, ctms_person_field, crm_account_field, object_names,
        name=name, platform=platform, sync_studies_and_sites=sync_studies_and_sites, active=active,
    )  # fmt: skip
    with ApiClient(api_url, api_key) as api:
        created = api.call("POST", BASE, json_body=body)
    if as_json:
        show(created)
        return
    secret = created.pop("webhook_secret", None)
    show(created)
    if secret:
        note(f"webhook secret (shown once): {secret}")


@app.command()
def update(
    connection_id: str,
    name: Annotated[str | None, typer.Option(help="new name")] = None,
    login_url: LoginUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    auth: Auth = None,
    private_key_file: PrivateKeyFile = None,
    audience: Audience = None,
    vault_url: VaultUrl = None,
    username: Username = None,
    password: Password = None,
    vault_id: VaultId = None,
    api_version: ApiVersion = None,
    webhook_secret: Annotated[str | None, typer.Option(help="replaces every webhook secret at once")] = None,
    ctms_person_field: PersonField = None,
    crm_account_field: AccountField = None,
    object_names: ObjectNames = None,
    sync_studies_and_sites: SyncStudies = None,
    active: Active = None,
    file: FromFile = None,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a connection: only the options given change (crm keys are merged)."""
    crm = _crm(
        login_url=login_url, client_id=client_id, client_secret=client_secret, vault_url=vault_url,
        username=username, password=password, vault_id=vault_id, api_version=api_version, auth=auth,
        audience=audience, private_key=private_key_file.read() if private_key_file else None,
    )  # fmt: skip
    body = _body(
        file, crm, webhook_secret, ctms_person_field, crm_account_field, object_names,
        name=name, sync_studies_and_sites=sync_studies_and_sites, active=active,
    )  # fmt: skip
    if not body:
        fail("nothing to change: give at least one option", 2)
    with ApiClient(api_url, api_key) as api:
        show(api.call("PATCH", f"{BASE}/{connection_id}", json_body=body))


@app.command()
def delete(
    connection_id: str,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete an inactive connection; its waiting deliveries are discarded."""
    if not yes:
        typer.confirm(f"delete connection {connection_id}?", abort=True)
    with ApiClient(api_url, api_key) as api:
        show(api.call("DELETE", f"{BASE}/{connection_id}"))


@app.command()
def activate(
    connection_id: str,
    initial_load: Annotated[
        bool, typer.Option("--initial-load", help="also load what already exists (follow: bridge load show)")
    ] = False,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Activate: events flow to and from this CRM."""
    with ApiClient(api_url, api_key) as api:
        params = {"initial_load": "true"} if initial_load else None
        show(api.call("POST", f"{BASE}/{connection_id}/activate", params=params))


@app.command()
def deactivate(
    connection_id: str,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Deactivate: no new deliveries; its webhooks answer 404."""
    with ApiClient(api_url, api_key) as api:
        show(api.call("POST", f"{BASE}/{connection_id}/deactivate"))


@app.command("forget-accounts")
def forget_accounts(
    connection_id: str,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Forget the cached person → account matches (after accounts were re-keyed or merged in the CRM)."""
    with ApiClient(api_url, api_key) as api:
        answer = api.call("DELETE", f"{BASE}/{connection_id}/account-matches")
    if as_json:
        show(answer)
    else:
        out.print(f"{answer['dropped']} cached account matches of {connection_id} forgotten", highlight=False)


@app.command("test")
def run_test(
    connection_id: str,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Log in to the CRM and the CTMS and check every object and field; exit 1 when a check fails."""
    with ApiClient(api_url, api_key) as api:
        report = api.call("POST", f"{BASE}/{connection_id}/test")
    if as_json:
        show(report)
    else:
        columns = [("check", "name"), ("ok", "ok"), ("detail", "detail")]
        table(report["checks"], columns, title="Connection test")
    if not report["ok"]:
        raise typer.Exit(1)


@app.command("add-webhook-secret")
def add_webhook_secret(
    connection_id: str,
    webhook_secret: Annotated[str | None, typer.Option(help="omit to have one generated")] = None,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rotation step 1: add a webhook secret; the old one keeps working until retired. A generated
    secret is printed once, on stderr (with --json: inside the JSON)."""
    body = {"webhook_secret": webhook_secret} if webhook_secret else {}
    with ApiClient(api_url, api_key) as api:
        added = api.call("POST", f"{BASE}/{connection_id}/webhook-secrets", json_body=body)
    if as_json:
        show(added)
        return
    out.print(f"webhook secrets now: {added['connection']['webhook_secret_count']}", highlight=False)
    if added["webhook_secret"]:
        note(f"new webhook secret (shown once): {added['webhook_secret']}")


@app.command("retire-webhook-secrets")
def retire_webhook_secrets(
    connection_id: str,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rotation step 2: keep only the newest webhook secret."""
    with ApiClient(api_url, api_key) as api:
        show(api.call("DELETE", f"{BASE}/{connection_id}/webhook-secrets/previous"))

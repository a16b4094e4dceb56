"""`bridge settings …`: the bridge-wide settings (show: any role; set: admin)."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.http import (
    DEFAULT_API_URL,
    ApiClient,
    ApiKeyOption,
    ApiUrlOption,
    JsonOption,
    fail,
    json_document,
    show,
)

app = typer.Typer(help="Show or change the global settings.", no_args_is_help=True)
BASE = "/api/v1/settings"


@app.command("show")
def show_all(
    api_url: ApiUrlOption = DEFAULT_API_URL, api_key: ApiKeyOption = None, as_json: JsonOption = False
) -> None:
    """Show the global settings."""
    with ApiClient(api_url, api_key) as api:
        show(api.get(BASE))


@app.command("set")
def set_(
    ctms_person_field: Annotated[str | None, typer.Option(help="Person field with the identifier")] = None,
    crm_account_field: Annotated[str | None, typer.Option(help="Account field with the identifier")] = None,
    automate_monitoring_events: Annotated[
        bool | None,
        typer.Option("--automate-monitoring-events/--no-automate-monitoring-events", show_default=False),
    ] = None,
    automate_communication_log_items: Annotated[
        bool | None,
        typer.Option(
            "--automate-communication-log-items/--no-automate-communication-log-items", show_default=False
        ),
    ] = None,
    retry_horizon_seconds: Annotated[
        int | None, typer.Option(help="seconds transient failures are retried before a dead letter")
    ] = None,
    unmatched_max_age_seconds: Annotated[
        int | None, typer.Option(help="how long unmatched persons are retried")
    ] = None,
    ctms_names: Annotated[
        str | None,
        typer.Option(
            help="overrides of the CTMS names as JSON or @file, replacing the previous ones ('{}': defaults)"
        ),
    ] = None,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change the settings given; the others keep their value."""
    values = {
        "ctms_person_field": ctms_person_field, "crm_account_field": crm_account_field,
        "automate_monitoring_events": automate_monitoring_events,
        "automate_communication_log_items": automate_communication_log_items,
        "retry_horizon_seconds": retry_horizon_seconds, "unmatched_max_age_seconds": unmatched_max_age_seconds,
        "ctms_names": json_document(ctms_names, "--ctms-names"),
    }  # fmt: skip
    body = {k: v for k, v in values.items() if v is not None}
    if not body:
        fail("nothing to change: give at least one option", 2)
    with ApiClient(api_url, api_key) as api:
        show(api.call("PUT", BASE, json_body=body))


@app.command("ctms-names")
def ctms_names_in_force(
    api_url: ApiUrlOption = DEFAULT_API_URL, api_key: ApiKeyOption = None, as_json: JsonOption = False
) -> None:
    """Show the CTMS object, field and picklist names in force (defaults with the overrides)."""
    with ApiClient(api_url, api_key) as api:
        show(api.get(f"{BASE}/ctms-names"))

"""`bridge demo` and `bridge simulators`: see the product work, or get simulated systems to point it at."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console


def demo(
    ctms_intake: Annotated[
        str,
        typer.Option(
            help="how the vault's changes reach the bridge: webhooks (Standard Webhooks), spark (Spark messages) "
            "or poll (nothing is sent: the Transfer job finds them)"
        ),
    ] = "webhooks",
    crm_intake: Annotated[
        str,
        typer.Option(
            help="how the CRM org's calls reach the bridge: webhooks (Standard Webhooks), outbound-messages "
            "(Salesforce Outbound Messages) or poll (nothing is sent); without webhooks a deletion waits for the "
            "org's deleted/ feed, up to a minute"
        ),
    ] = "webhooks",
) -> None:
    """Run the bridge on its embedded default with simulated CTMS and CRM, and play every flow."""
    from app.demo.scenario import Demo
    from app.demo.world import demo_world

    if ctms_intake not in ("webhooks", "spark", "poll"):
        raise typer.BadParameter("webhooks, spark or poll", param_hint="--ctms-intake")
    if crm_intake not in ("webhooks", "outbound-messages", "poll"):
        raise typer.BadParameter("webhooks, outbound-messages or poll", param_hint="--crm-intake")
    console = Console()
    console.print(
        "[bold]ctms-crm-bridge demo[/]: a simulated Vault CTMS, a simulated Salesforce CRM org, and the bridge "
        f"between them (the vault's changes: {ctms_intake}; the org's calls: {crm_intake})"
    )
    with demo_world(ctms_intake=ctms_intake, crm_intake=crm_intake) as world:
        consistent = Demo(world, console).run()
    raise typer.Exit(0 if consistent else 1)


def simulators(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    vault_port: Annotated[int, typer.Option(help="the CTMS vault simulator")] = 8101,
    crm_port: Annotated[int, typer.Option(help="the Salesforce CRM simulator")] = 8102,
    vault_crm_port: Annotated[int, typer.Option(help="the Vault CRM simulator")] = 8103,
    bridge_url: Annotated[
        str | None, typer.Option(help="send the CTMS vault's events to this bridge")
    ] = None,
    seed: Annotated[
        bool,
        typer.Option(
            "--seed",
            help="create a small world to look at: studies, countries, sites, HCPs with matching CRM accounts, activities",
        ),
    ] = False,
) -> None:
    """Start the Vault (CTMS), Salesforce CRM and Vault CRM simulators, and print how to point the bridge at them."""
    import secrets

    from app.signing import generate_secret
    from app.simulators.common.server import ServerThread
    from app.simulators.salesforce.app import create_salesforce_app
    from app.simulators.salesforce.state import SalesforceState
    from app.simulators.vault.app import create_vault_app
    from app.simulators.vault.state import VaultConfig, VaultState

    vault, crm, vault_crm = (
        VaultState(),
        SalesforceState(),
        VaultState(config=VaultConfig(flavor="crm", vault_id=5001)),
    )
    client_id, client_secret, ctms_secret = "bridge", secrets.token_urlsafe(18), generate_secret()
    crm.register_client(client_id, client_secret)
    servers = [
        ServerThread(create_vault_app(vault), host=host, port=vault_port).start(),
        ServerThread(create_salesforce_app(crm), host=host, port=crm_port).start(),
        ServerThread(create_vault_app(vault_crm), host=host, port=vault_crm_port).start(),
    ]
    vault_url, crm_url, vault_crm_url = (s.url for s in servers)
    if bridge_url:
        vault.configure_webhook(bridge_url, ctms_secret)
    user, password = next(iter(vault.config.credentials.items()))
    typer.echo(
        f"""Simulators running (Ctrl+C to stop); each has its controls and docs at /_sim/docs.

Point the bridge at the CTMS vault simulator:
  export BRIDGE_VAULT_URL={vault_url} BRIDGE_VAULT_USERNAME={user} BRIDGE_VAULT_PASSWORD={password} BRIDGE_VAULT_ID={vault.config.vault_id}
  export BRIDGE_CTMS_WEBHOOK_SECRETS={ctms_secret}
  {"(its events go to " + bridge_url + "/webhooks/ctms)" if bridge_url else "then send its events to the bridge: PUT " + vault_url + "/_sim/webhook {url, secret}"}

Create a Salesforce connection (bridge connections create, or POST /api/v1/connections) with:
  {{"platform": "salesforce", "crm": {{"login_url": "{crm_url}", "client_id": "{client_id}", "client_secret": "{client_secret}", "api_version": "v62.0"}}}}
  then PUT {crm_url}/_sim/webhook {{"url": <bridge url>, "secret": <the connection's webhook secret>, "connection_id": <its id>}}

A Vault CRM connection: {{"platform": "vault", "crm": {{"vault_url": "{vault_crm_url}", "username": "{user}", "password": "{password}", "vault_id": "5001"}}}}

Make a CRM picklist value fail (and undo it): DELETE (then PUT) {crm_url}/_sim/picklists/<object>/<field>/<value>""",
    )
    if seed:
        _seed(vault_url, crm_url, vault_crm_url)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        for server in servers:
            server.stop()


def _seed(vault_url: str, crm_url: str, vault_crm_url: str) -> None:
    import httpx

    from app.demo.seed import seed_world

    with httpx.Client(timeout=30.0) as http:
        seeded = seed_world(http, vault_url, crm_url, vault_crm_url)
    typer.echo("\nSeeded (read them at <simulator>/_sim/records/<object>):")
    for system, object_name, record_id, what in seeded.lines:
        typer.echo(f"  {system}\t{object_name}\t{record_id}\t{what}")
    typer.echo(
        f"Send the seeded call to Vault Clinical: POST {crm_url}/_sim/calls/{seeded.call_id}/send-to-vault"
    )

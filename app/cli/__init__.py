"""The `bridge` command: run the API, the worker, migrations, and operate the bridge."""

from __future__ import annotations

import typer
import uvicorn

from app.cli import preflight
from app.config import new_secret_key

cli = typer.Typer(
    help="ctms-crm-bridge: keep a Veeva Vault CTMS and Medical CRM orgs in step.", no_args_is_help=True
)


@cli.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="interface to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
    workers: int = typer.Option(1, help="uvicorn worker processes (PostgreSQL only)"),
) -> None:
    """Run the HTTP API (webhooks, operator API, health). Without settings: SQLite, jobs in-process."""
    settings = preflight.load_settings()
    if workers > 1 and settings.embedded:
        raise typer.BadParameter(
            "several API processes need PostgreSQL and Redis (BRIDGE_DATABASE_URL, BRIDGE_REDIS_URL)"
        )
    preflight.check_schema(settings)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


@cli.command()
def worker(
    burst: bool = typer.Option(False, help="exit when the queue is empty"),
    wait: bool = typer.Option(
        True, "--wait/--no-wait", help="if Redis cannot be reached at start: wait for it, or refuse to start"
    ),
) -> None:
    """Run an arq worker (needs BRIDGE_REDIS_URL). Add processes to scale out. Once running, it waits
    out Redis and PostgreSQL outages, however long."""
    from app.worker.main import run_worker

    settings = preflight.load_settings()
    preflight.check_schema(settings)
    preflight.check_redis(settings, wait=wait)
    run_worker(settings, burst=burst)


@cli.command("secret-key")
def secret_key() -> None:
    """Print a new random key for BRIDGE_SECRET_KEY, e.g. export BRIDGE_SECRET_KEY="$(bridge secret-key)".
    To rotate, put it first and keep the old key after it, then run `bridge secrets reencrypt`."""
    typer.echo(new_secret_key())


@cli.command()
def migrate() -> None:
    """Upgrade the database schema to the latest version (Alembic head)."""
    from app.migrate import head_revision, upgrade_to_head

    settings = preflight.load_settings(for_service=False)
    try:
        upgrade_to_head(settings.database_url)
    except Exception as exc:
        if preflight.unreachable(exc):
            preflight.database_down(settings, exc)
        raise
    typer.echo(f"database at revision {head_revision()}")


@cli.command()
def prune(
    days: float = typer.Option(None, help="age limit in days (default BRIDGE_RETENTION_DAYS, 30)"),
) -> None:
    """Delete finished deliveries, their attempts and handled events older than the retention age, in
    batches (the worker also does this hourly). Links, account matches and the audit log are kept."""
    import asyncio
    from datetime import timedelta

    from app.db import create_engine, create_sessionmaker
    from app.services.retention import prune as prune_old

    settings = preflight.load_settings(for_service=False)
    preflight.check_schema(settings)

    async def run() -> dict[str, int]:
        engine = create_engine(settings.database_url)
        try:
            age = timedelta(days=days if days is not None else settings.retention_days)
            return await prune_old(create_sessionmaker(engine), age)
        finally:
            await engine.dispose()

    try:
        counts = asyncio.run(run())
    except Exception as exc:
        if preflight.unreachable(exc):
            preflight.database_down(settings, exc)
        raise
    typer.echo("pruned " + ", ".join(f"{n} {what}" for what, n in counts.items()))


def _register_subcommands() -> None:
    """Command groups live in their own modules (app/cli/*.py) and are added here."""
    from app.cli import (
        api_keys,
        audit_log,
        connections,
        deliveries,
        demo,
        events,
        global_settings,
        links,
        load,
        reconcile,
        secrets,
        trace,
        transfer,
    )

    cli.add_typer(connections.app, name="connections")
    cli.add_typer(deliveries.app, name="deliveries")
    cli.add_typer(events.app, name="events")
    cli.add_typer(api_keys.app, name="api-keys")
    cli.add_typer(global_settings.app, name="settings")
    cli.add_typer(transfer.app, name="transfer")
    cli.add_typer(load.app, name="load")
    cli.add_typer(reconcile.app, name="reconcile")
    cli.add_typer(secrets.app, name="secrets")
    cli.command("links")(links.links)
    cli.command("trace")(trace.trace)
    cli.command("audit-log")(audit_log.audit_log)
    cli.command("demo")(demo.demo)
    cli.command("simulators")(demo.simulators)


_register_subcommands()


def main() -> None:
    cli()

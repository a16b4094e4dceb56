"""`bridge secrets …`: maintenance of the secrets stored in the database (run where the database is)."""

from __future__ import annotations

import asyncio

import typer

from app.config import Settings

app = typer.Typer(help="Secrets stored in the database.", no_args_is_help=True)


@app.command("reencrypt")
def reencrypt() -> None:
    """Re-seal every stored secret with the newest key of BRIDGE_SECRET_KEY (its first). Put the new key
    first, keep the old ones after it, run this, then drop the old ones."""
    from app.crypto import SecretBox
    from app.db import create_engine, create_sessionmaker
    from app.services.secret_rotation import reencrypt_all

    settings = Settings()
    box = SecretBox(settings.encryption_key)

    async def run() -> int:
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                return await reencrypt_all(session, box)
        finally:
            await engine.dispose()

    count = asyncio.run(run())
    typer.echo(f"re-encrypted the secrets of {count} connection(s) with the newest key")

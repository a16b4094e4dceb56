"""BRIDGE_SECRET_KEY rotation: older keys still open stored secrets; `bridge secrets reencrypt` re-seals
them with the newest, after which the newest alone is enough."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from app.config import ConfigError, Settings
from app.crypto import SecretBox
from app.db import create_engine, create_sessionmaker
from app.migrate import upgrade_to_head_async
from app.models import Connection
from tests.factories import add_connection

KEY_A = "old-operator-key-aaaaaaaaaaaaaaaa"
KEY_B = "new-operator-key-bbbbbbbbbbbbbbbb"
PG = "postgresql+asyncpg://bridge@db/bridge"
BRIDGE = Path(sys.executable).parent / "bridge"


async def _stored(url: str) -> Connection:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            return (await session.execute(select(Connection))).scalar_one()
    finally:
        await engine.dispose()


async def test_rotation_from_key_a_to_key_b(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bridge.sqlite3'}"
    await upgrade_to_head_async(url)
    engine = create_engine(url)
    async with create_sessionmaker(engine)() as session, session.begin():
        conn, webhook_secrets = await add_connection(session, credentials={"client_secret": "s3cr3t"})
        box_a = SecretBox(KEY_A)
        conn.secrets_encrypted = box_a.seal({"client_secret": "s3cr3t"})
        conn.webhook_secrets_encrypted = box_a.seal(webhook_secrets)
    await engine.dispose()

    both = SecretBox(f"{KEY_B} {KEY_A}")  # newest first
    stored = await _stored(url)
    assert both.open(stored.secrets_encrypted) == {"client_secret": "s3cr3t"}
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox(KEY_B).open(stored.secrets_encrypted)

    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env |= {"BRIDGE_DATABASE_URL": url, "BRIDGE_SECRET_KEY": f"{KEY_B} {KEY_A}"}
    done = await asyncio.to_thread(
        subprocess.run,
        [str(BRIDGE), "secrets", "reencrypt"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1 connection(s)" in done.stdout

    resealed = await _stored(url)
    only_b = SecretBox(KEY_B)
    assert only_b.open(resealed.secrets_encrypted) == {"client_secret": "s3cr3t"}
    assert only_b.open(resealed.webhook_secrets_encrypted) == webhook_secrets
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox(KEY_A).open(resealed.secrets_encrypted)


@pytest.mark.parametrize("keys", [f"{KEY_B} change-me", f"placeholder {KEY_A}"])
def test_every_key_must_be_a_real_secret(keys: str) -> None:
    with pytest.raises(ConfigError, match="BRIDGE_SECRET_KEY"):
        Settings(_env_file=None, database_url=PG, secret_key=keys).check()  # type: ignore[call-arg]


def test_several_real_keys_are_accepted() -> None:
    settings = Settings(_env_file=None, database_url=PG, secret_key=f"{KEY_B}  {KEY_A}")  # type: ignore[call-arg]
    settings.check()
    assert settings.encryption_key == f"{KEY_B} {KEY_A}"

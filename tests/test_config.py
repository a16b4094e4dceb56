"""Settings refuse what would run production unsafely, and say which variable to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError, Settings

PG = "postgresql+asyncpg://bridge@db/bridge"


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["", "change-me", "changethis"])
def test_an_external_database_needs_a_real_secret_key(key: str) -> None:
    with pytest.raises(ConfigError, match="BRIDGE_SECRET_KEY"):
        settings(database_url=PG, secret_key=key).check()


def test_a_real_secret_key_is_accepted() -> None:
    settings(database_url=PG, secret_key="a-long-random-operator-chosen-key").check()


def test_the_embedded_default_generates_and_keeps_its_key(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bridge.sqlite3'}"
    first = settings(database_url=url).encryption_key
    again = settings(database_url=url).encryption_key
    assert first == again
    assert len(first) >= 32
    assert (tmp_path / "bridge.secret-key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("admin_key", ["short", "change-me"])
def test_a_weak_bootstrap_admin_key_is_refused(admin_key: str) -> None:
    with pytest.raises(ConfigError, match="BRIDGE_ADMIN_API_KEY"):
        settings(
            database_url=PG, secret_key="a-long-random-operator-chosen-key", admin_api_key=admin_key
        ).check()


def test_webhook_secrets_must_be_standard_webhooks_secrets() -> None:
    with pytest.raises(ConfigError, match="BRIDGE_CTMS_WEBHOOK_SECRETS"):
        settings(
            database_url=PG,
            secret_key="a-long-random-operator-chosen-key",
            ctms_webhook_secrets="whsec_dGVzdC1zZWNyZXQtMDEyMzQ1Njc= plain-text",
        ).check()

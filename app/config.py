"""All settings, from ``BRIDGE_*`` environment variables or a ``.env`` file (CONTRACT.md section 1)."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EMBEDDED_DATABASE_URL = "sqlite+aiosqlite:///./bridge.sqlite3"
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "changethis", "secret", "placeholder"})
# A BRIDGE_SECRET_KEY key is stretched into an encryption key as given, so it must itself be a real
# random secret: long, and not a word or a repeated character (`bridge secret-key` makes one).
MIN_SECRET_KEY_LENGTH = 32
MIN_SECRET_KEY_DISTINCT = 10
MAKE_A_KEY = "make one with `bridge secret-key`"


def weak_secret_key(key: str) -> bool:
    return (
        key.lower() in PLACEHOLDER_SECRETS
        or len(key) < MIN_SECRET_KEY_LENGTH
        or len(set(key)) < MIN_SECRET_KEY_DISTINCT
    )


def new_secret_key() -> str:
    return secrets.token_urlsafe(32)


class ConfigError(Exception):
    """The settings cannot run the bridge safely; the message says which variable to fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BRIDGE_", env_file=".env", extra="ignore")

    database_url: str = Field(EMBEDDED_DATABASE_URL, description="SQLAlchemy URL (asyncpg or aiosqlite)")
    redis_url: str | None = Field(None, description="arq's Redis; unset means jobs run in-process")

    vault_url: str | None = None
    vault_username: str | None = None
    vault_password: SecretStr | None = None
    vault_id: str | None = None
    vault_api_version: str = "v25.2"

    ctms_webhook_secrets: SecretStr = Field(SecretStr(""), description="space-separated whsec_ secrets")
    secret_key: SecretStr = Field(
        SecretStr(""),
        description="encrypts stored connection secrets; several, space-separated, newest first",
    )
    admin_api_key: SecretStr | None = None
    transfer_interval_seconds: int = Field(300, ge=10)

    # Ours, beyond the contract: operational knobs with safe defaults.
    log_level: str = "INFO"
    log_json: bool = True
    sweeper_interval_seconds: float = Field(30.0, gt=0, description="re-enqueue stored, unhandled events")
    sweeper_grace_seconds: float = Field(10.0, ge=0, description="leave just-stored events to the fast path")
    lease_seconds: float = Field(
        60.0, gt=0, description="how long a worker owns claimed deliveries, or an initial load, unrenewed"
    )
    http_timeout_seconds: float = Field(30.0, gt=0)
    retry_base_seconds: float = Field(1.0, gt=0, description="first retry delay; doubles each attempt")
    retry_cap_seconds: float = Field(900.0, gt=0, description="longest delay between two attempts")
    throttle_default_seconds: float = Field(
        30.0, ge=0, description="how long a limit answer that names no Retry-After pauses its target"
    )
    throttle_max_wait_seconds: float = Field(
        5.0, ge=0, description="a drainer waits out a shorter pause in place; a longer one reschedules"
    )
    throttle_recheck_seconds: float = Field(
        0.25, ge=0, description="how stale a worker's view of another worker's throttle gate may be"
    )
    worker_max_jobs: int = Field(20, ge=1)
    connection_concurrency: int = Field(
        4, ge=1, le=64, description="calls in flight per connection and target object (lane partitions)"
    )
    retention_days: float = Field(30.0, gt=0, description="finished work older than this is pruned")
    webhook_max_body_bytes: int = Field(256 * 1024, ge=1024)
    worker_metrics_host: str = Field("127.0.0.1", description="where a worker serves /metrics and /readyz")
    worker_metrics_port: int = Field(9464, ge=0, le=65535, description="0 turns the worker's port off")
    worker_reconnect_cap_seconds: float = Field(5.0, gt=0, description="longest wait between reconnects")
    body_read_timeout_seconds: float = Field(
        10.0, gt=0, description="a request whose body has not fully arrived by then is answered 408"
    )

    @field_validator("redis_url")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def ctms_secrets(self) -> list[str]:
        return self.ctms_webhook_secrets.get_secret_value().split()

    @cached_property
    def encryption_key(self) -> str:
        """The keys for stored secrets (space-separated, newest first). Embedded runs keep a generated one
        beside the database file."""
        keys = self.secret_key.get_secret_value().split()
        weak = [i for i, k in enumerate(keys, 1) if weak_secret_key(k)]
        if weak:
            which = "the key is" if len(keys) == 1 else f"key(s) {weak} are"
            raise ConfigError(
                f"BRIDGE_SECRET_KEY: {which} too weak (a placeholder, under {MIN_SECRET_KEY_LENGTH} "
                f"characters or too few different ones); {MAKE_A_KEY}"
            )
        if keys:
            return " ".join(keys)
        if not self.embedded:
            raise ConfigError(
                f"BRIDGE_SECRET_KEY must be set when BRIDGE_DATABASE_URL is not the embedded SQLite file; {MAKE_A_KEY}"
            )
        key_file = (
            self.sqlite_path.with_suffix(".secret-key") if self.sqlite_path else Path("bridge.secret-key")
        )
        if not key_file.exists():
            key_file.write_text(new_secret_key())
            key_file.chmod(0o600)
        return key_file.read_text().strip()

    @property
    def sqlite_path(self) -> Path | None:
        if not self.embedded or ":memory:" in self.database_url:
            return None
        return Path(self.database_url.split("///", 1)[1])

    def check(self) -> None:
        """Refuse settings that would run production unsafely; say exactly what to fix."""
        _ = self.encryption_key
        if self.admin_api_key is not None:
            key = self.admin_api_key.get_secret_value()
            if key.lower() in PLACEHOLDER_SECRETS or len(key) < 16:
                raise ConfigError("BRIDGE_ADMIN_API_KEY must be at least 16 characters and not a placeholder")
        from app.signing import is_valid_secret

        bad = [i for i, s in enumerate(self.ctms_secrets, 1) if not is_valid_secret(s)]
        if bad:
            raise ConfigError(f"BRIDGE_CTMS_WEBHOOK_SECRETS: item(s) {bad} are not whsec_ base64 secrets")

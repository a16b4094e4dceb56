"""The demo's systems: both simulators and the bridge, each a real server on a local port."""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from app.config import Settings
from app.demo.seed import sim_call
from app.main import create_app
from app.signing import generate_secret
from app.simulators.common.server import ServerThread
from app.simulators.salesforce.app import create_salesforce_app
from app.simulators.salesforce.state import SalesforceState
from app.simulators.vault.app import create_vault_app
from app.simulators.vault.state import VaultState

T = TypeVar("T")
VAULT_USER, VAULT_PASSWORD = "integration@sim.example.com", "integration-password"  # the simulator's API user
CLIENT_ID = "bridge-demo"


@dataclass
class DemoWorld:
    vault: VaultState
    crm: SalesforceState
    vault_url: str
    crm_url: str
    bridge_url: str
    admin_key: str
    client_secret: str
    http: httpx.Client
    crm_intake: str = "webhooks"  # or outbound-messages, or poll (the org sends nothing)
    ctms_poll: bool = False  # the vault sends nothing: the Transfer job finds its changes

    @property
    def polls(self) -> bool:
        return self.ctms_poll or self.crm_intake == "poll"

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """The bridge's operator API, as an admin."""
        response = self.http.request(
            method, self.bridge_url + path, json=body, headers={"Authorization": f"Bearer {self.admin_key}"}
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def ctms(self, method: str, path: str, body: Any = None) -> Any:
        """Act in the CTMS as a person would (the simulator's admin routes send the change events)."""
        return sim_call(self.http, method, f"{self.vault_url}/_sim{path}", body)

    def crm_user(self, method: str, path: str, body: Any = None) -> Any:
        """Act in the CRM as a field user would."""
        return sim_call(self.http, method, f"{self.crm_url}/_sim{path}", body)


def wait_for(what: str, read: Callable[[], T], until: Callable[[T], bool], timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


@contextmanager
def demo_world(
    workdir: Path | None = None, ctms_intake: str = "webhooks", crm_intake: str = "webhooks"
) -> Iterator[DemoWorld]:
    """How each side's changes reach the bridge: ``ctms_intake`` webhooks (Standard Webhooks), spark (Spark
    messages) or poll (nothing: the Transfer job finds them); ``crm_intake`` webhooks, outbound-messages or
    poll."""
    with ExitStack() as stack:
        folder = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bridge-demo-")))
        vault, crm = VaultState(), SalesforceState()
        client_secret = secrets.token_urlsafe(24)
        crm.register_client(CLIENT_ID, client_secret)
        vault_server = stack.enter_context(ServerThread(create_vault_app(vault)))
        crm_server = stack.enter_context(ServerThread(create_salesforce_app(crm)))
        admin_key, ctms_secret = secrets.token_urlsafe(24), generate_secret()
        settings = Settings(
            _env_file=None,
            database_url=f"sqlite+aiosqlite:///{folder / 'bridge.sqlite3'}",
            redis_url=None,
            vault_url=vault_server.url,
            vault_username=VAULT_USER,
            vault_password=VAULT_PASSWORD,
            vault_id=str(vault.config.vault_id),
            ctms_webhook_secrets=ctms_secret,
            admin_api_key=admin_key,
            transfer_interval_seconds=3600,  # the demo starts its runs itself
            sweeper_interval_seconds=1.0,
            log_level="WARNING",
        )
        bridge = stack.enter_context(ServerThread(create_app(settings)))
        vault.configure_webhook(
            bridge.url,
            ctms_secret,
            intake="spark" if ctms_intake == "spark" else "webhooks",
            enabled=ctms_intake != "poll",
        )
        http = stack.enter_context(httpx.Client(timeout=30.0))
        yield DemoWorld(
            vault,
            crm,
            vault_server.url,
            crm_server.url,
            bridge.url,
            admin_key,
            client_secret,
            http,
            crm_intake,
            ctms_intake == "poll",
        )

"""No answer, log line or audit entry carries a secret, whatever route an operator calls."""

from __future__ import annotations

import re
from typing import Any

import pytest
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.signing import generate_secret
from tests.api.operator.conftest import Api, add_delivery, add_event
from tests.api.operator.test_roles import operator_routes
from tests.factories import crm_call_event, signed
from tests.jwt_keys import key_pair

CLOSED_PORT = "http://127.0.0.1:9"  # the connection test fails fast here instead of calling the internet


async def audit_text(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM audit_log"))).mappings().all()
    return " ".join(str(dict(row)) for row in rows)


async def test_no_secret_reaches_answers_logs_or_the_audit_log(
    api: Api, clean_db: AsyncEngine, capfd: pytest.CaptureFixture[str]
) -> None:
    # The app bound its log lines to the stdout of the moment it started; print them to the stdout capfd
    # holds now (same processors, same JSON), so this test reads exactly what the app logs.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory())
    secrets = {
        "client_secret": "sf-secret-LEAKCHECK-1111",
        "rotated_client_secret": "sf-secret-LEAKCHECK-3333",
        "vault_password": "vault-pw-LEAKCHECK-2222",
        "given_webhook_secret": generate_secret(),
        "replacing_webhook_secret": generate_secret(),
        "bootstrap_key": api.keys["admin"],
        "viewer_key": api.keys["viewer"],
        "operator_key": api.keys["operator"],
        "guessed_key": "brk_LEAKCHECK-guessed-key-4444",
        "bad_private_key": "LEAKCHECK-not-a-key-5555",
    }
    private_key = key_pair("leak-check").private_key
    # Any line of the key's body would be a leak; the longest ones are unique to it.
    secrets |= {f"private_key_line_{i}": line for i, line in enumerate(private_key.splitlines()[1:-1][:3])}
    shown_once: dict[str, str] = {}  # secrets the bridge shows exactly once, in the answer that made them
    answers: list[str] = []

    async def keep(response: Any) -> Any:
        answers.append(response.text)
        return response

    sf = await api.post("/api/v1/connections", {
        "name": "Leak check SF", "platform": "salesforce", "active": True,
        "crm": {"login_url": CLOSED_PORT, "client_id": "cid", "client_secret": secrets["client_secret"]},
    })  # fmt: skip
    assert sf.status_code == 201, sf.text
    shown_once["generated_webhook_secret"] = sf.json()["webhook_secret"]
    vault = await keep(await api.post("/api/v1/connections", {
        "name": "Leak check Vault", "platform": "vault", "webhook_secret": secrets["given_webhook_secret"],
        "crm": {"vault_url": CLOSED_PORT, "username": "bridge@crm.example", "password": secrets["vault_password"]},
    }))  # fmt: skip
    admin_key = await api.post("/api/v1/api-keys", {"name": "second admin", "role": "admin"})
    shown_once["second_admin_key"] = admin_key.json()["key"]
    connection_id, vault_id = sf.json()["id"], vault.json()["id"]

    await keep(
        await api.patch(
            f"/api/v1/connections/{connection_id}",
            {"crm": {"client_secret": secrets["rotated_client_secret"]}},
        )
    )
    await keep(
        await api.patch(
            f"/api/v1/connections/{vault_id}", {"webhook_secret": secrets["replacing_webhook_secret"]}
        )
    )
    await keep(
        await api.patch(
            f"/api/v1/connections/{connection_id}",
            {"crm": {"login_url": "ftp://x", "client_secret": secrets["client_secret"]}},
        )
    )
    # A refused key (not RSA, and not even PEM) is named in the answer but never quoted.
    bad_key = f"-----BEGIN PRIVATE KEY-----\n{secrets['bad_private_key']}\n-----END PRIVATE KEY-----\n"
    refused = await keep(
        await api.patch(
            f"/api/v1/connections/{connection_id}",
            {"crm": {"auth": "jwt_bearer", "username": "bridge@crm.example", "private_key": bad_key}},
        )
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["loc"] == ["crm", "private_key"]
    # From here on the connection signs in with the JWT bearer flow: the routes below (its test among
    # them) load and use the private key.
    switched = await keep(
        await api.patch(
            f"/api/v1/connections/{connection_id}",
            {"crm": {"auth": "jwt_bearer", "username": "bridge@crm.example", "private_key": private_key}},
        )
    )
    assert switched.status_code == 200, switched.text
    assert switched.json()["credentials_set"] == ["private_key"]
    await keep(
        await api.client.get(
            "/api/v1/settings", headers={"Authorization": f"Bearer {secrets['guessed_key']}"}
        )
    )
    body, headers = signed(shown_once["generated_webhook_secret"], crm_call_event())
    assert (
        await api.client.post(f"/webhooks/crm/{connection_id}", content=body, headers=headers)
    ).status_code == 202

    event_id = await add_event(clean_db)
    ids = {
        "connection_id": connection_id,
        "event_id": str(event_id),
        "delivery_id": str(await add_delivery(clean_db, event_id=event_id, status="dead", attempts=1)),
        "key_id": admin_key.json()["id"],
        "record_id": "V6A1",  # traced: an id the bridge never saw still answers
    }
    async with clean_db.begin() as conn:
        run = await conn.execute(
            text(
                "INSERT INTO transfer_runs (trigger, status, started_at, counts, errors) VALUES ('manual', 'succeeded', now(), '{}', '[]') RETURNING id"
            )
        )
        ids["run_id"] = str(run.scalar_one())
        load = await conn.execute(
            text(
                "INSERT INTO initial_loads (status, trigger, requested_by, created_at, cursors, errors) VALUES ('failed', 'manual', 'x', now(), '{}', '[]') RETURNING id"
            )
        )
        ids["load_id"] = str(load.scalar_one())
    bodies = {
        ("POST", "/api/v1/connections/{connection_id}/webhook-secrets"): {},
        ("POST", "/api/v1/deliveries/{delivery_id}/discard"): {"reason": "leak check"},
        ("POST", "/api/v1/deliveries/replay"): {"dry_run": False},
        ("PUT", "/api/v1/settings"): {"retry_horizon_seconds": 7200},
        ("POST", "/api/v1/connections"): {
            "name": "x",
            "platform": "salesforce",
            "crm": {"client_secret": secrets["client_secret"]},
        },
        ("POST", "/api/v1/api-keys"): {"name": "third", "role": "viewer"},
    }
    deferred = {("DELETE", "/api/v1/connections/{connection_id}"), ("DELETE", "/api/v1/api-keys/{key_id}")}
    routes = operator_routes()
    for method, path in [r for r in routes if r not in deferred] + sorted(deferred):
        url = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)
        params = {"system": "ctms", "id": "V6A1"} if path.endswith("/links") else None
        response = await api.client.request(
            method, url, json=bodies.get((method, path)), params=params, headers=api.auth()
        )
        assert response.status_code < 500, (method, path, response.text)
        if (method, path) == ("POST", "/api/v1/connections/{connection_id}/webhook-secrets"):
            shown_once["added_webhook_secret"] = response.json()["webhook_secret"]
        elif (method, path) == ("POST", "/api/v1/api-keys"):
            shown_once["third_key"] = response.json()["key"]
        else:
            answers.append(response.text)
        if path.endswith("/deactivate"):  # so DELETE can go through
            assert response.json()["active"] is False
    assert ("DELETE", "/api/v1/connections/{connection_id}") in routes

    logs = capfd.readouterr().out
    assert "connection_created" in logs
    assert "delivery_discarded" in logs
    audit = await audit_text(clean_db)
    assert "connection.create" in audit
    assert "api_key.create" in audit
    leaks = [
        f"{name} in {where}"
        for name, secret in {**secrets, **shown_once}.items()
        for where, haystack in (("answers", "\n".join(answers)), ("logs", logs), ("audit log", audit))
        if secret in haystack
    ]
    assert leaks == []

"""The CTMS vault's Spark queue (issue 15): each change a message signed as Vault signs them, verifiable with
the certificate the vault serves at the documented path, and retried with the same ``message_id``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.domain import spark
from app.signing import generate_secret
from tests.simulators.vault.conftest import V, Vault, person


@dataclass
class SparkReceiver:
    """Stands in for the bridge: verifies each message with the certificate fetched from the vault."""

    certificate: bytes
    refuse_first: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        async def accept(request: Request) -> JSONResponse:
            body = await request.body()
            signed = spark.signature_headers(request.headers)
            url = signed["x-vaultapisignature-url"]
            spark.verify(
                self.certificate,
                request.headers["x-vaultapi-signaturev2"],
                spark.string_to_verify(signed, body, url),
            )
            self.messages.append(orjson.loads(body))
            self.headers.append(dict(request.headers))
            if len(self.messages) <= self.refuse_first:
                return JSONResponse({"code": "STORE_UNAVAILABLE"}, status_code=503)
            return JSONResponse({"stored": 1})

        app.add_api_route("/webhooks/ctms/spark", accept, methods=["POST"])
        return app


async def certificate(vault: Vault, cert_id: str = "00001") -> httpx.Response:
    return await vault.client.get(f"/api/{V}/services/certificate/{cert_id}")  # no session: none is needed


async def wire_spark(vault: Vault, **receiver: Any) -> SparkReceiver:
    got = SparkReceiver((await certificate(vault)).content, **receiver)
    put = await vault.client.put(
        "/_sim/webhook", json={"url": "http://bridge.test", "secret": generate_secret(), "intake": "spark"}
    )
    assert put.json()["intake"] == "spark"
    vault.state.emitter.transport = httpx.ASGITransport(got.app())
    return got


async def test_the_certificate_is_served_as_pem_without_a_session(vault: Vault) -> None:
    served = await certificate(vault)
    assert served.status_code == 200
    assert served.content.startswith(b"-----BEGIN CERTIFICATE-----")
    unknown = await certificate(vault, "99999")
    assert unknown.json()["responseStatus"] == "FAILURE"


async def test_each_change_is_a_signed_spark_message_naming_object_event_and_record(vault: Vault) -> None:
    got = await wire_spark(vault)
    created = person(vault.state)
    vault.state.user_update("person__sys", created["id"], {"first_name__sys": "Anna"})
    vault.state.user_delete("person__sys", created["id"])
    await vault.state.emitter.drain()

    assert [m["message"]["attributes"] for m in got.messages] == [
        {"object": "person__sys", "event": event} for event in ("insert", "update", "delete")
    ]
    assert {tuple(m["message"]["items"]) for m in got.messages} == {(created["id"],)}
    first, headers = got.messages[0], got.headers[0]
    assert first["queue_name"] == "bridge_ctms_changes__c"
    assert first["send_attempt"] == 1
    assert len({m["message_id"] for m in got.messages}) == 3
    assert headers["x-vaultapisignature-requesttype"] == "spark_message"
    assert headers["x-vaultapisignature-vaultid"] == str(vault.state.config.vault_id)
    assert headers["x-vaultapisignature-url"] == "http://bridge.test/webhooks/ctms/spark"


async def test_a_refused_message_is_sent_again_with_the_same_id_and_a_higher_attempt(vault: Vault) -> None:
    got = await wire_spark(vault, refuse_first=1)
    person(vault.state)
    await vault.state.emitter.drain()

    first, again = got.messages
    assert first["message_id"] == again["message_id"]
    assert (first["send_attempt"], again["send_attempt"]) == (1, 2)
    assert got.headers[0]["x-vaultapi-signaturev2"] != got.headers[1]["x-vaultapi-signaturev2"]
    assert [e.status for e in vault.state.emitter.log] == [200]

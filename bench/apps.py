"""The reference endpoints the bridge's webhook endpoint is compared with, served by uvicorn like the bridge:

- ``bare_app``: a FastAPI endpoint that answers 202 and does nothing else (PERF.md's first row);
- ``verify_app``: the bridge's own first steps (body size, media type, Standard Webhooks signature, JSON,
  envelope validation: ``app.api.webhooks.receive``), then 202 — everything but storing and enqueueing.

Run as ``uvicorn bench.apps:bare_app --factory`` (or ``verify_app``); the secrets come from
``BRIDGE_CTMS_WEBHOOK_SECRETS`` as for the bridge.
"""

from __future__ import annotations

import os

from fastapi import FastAPI, Request, status

from app.api.problems import install_problem_handlers
from app.api.telemetry import NO_TELEMETRY
from app.api.webhooks import receive
from app.domain.envelopes import validate_ctms

PATH = "/webhooks/ctms"
MAX_BODY = 256 * 1024  # the bridge's default webhook_max_body_bytes


def bare_app() -> FastAPI:
    app = FastAPI(telemetry=NO_TELEMETRY)  # as the bridge's own app

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(PATH, status_code=status.HTTP_202_ACCEPTED)
    async def accept() -> receive.Accepted:
        return receive.Accepted(event_id=0, status="accepted")

    return app


def verify_app() -> FastAPI:
    secrets = os.environ.get("BRIDGE_CTMS_WEBHOOK_SECRETS", "").split()
    if not secrets:
        raise SystemExit("verify_app needs BRIDGE_CTMS_WEBHOOK_SECRETS")
    app = FastAPI(telemetry=NO_TELEMETRY)  # as the bridge's own app
    install_problem_handlers(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(PATH, status_code=status.HTTP_202_ACCEPTED)
    async def verify_only(request: Request) -> receive.Accepted:
        with receive.timed("ctms"):
            body = await receive.read_body(request, "ctms", MAX_BODY)
            receive.check_media_type(request, "ctms")
            receive.check_signature(request, "ctms", secrets, body)
            receive.parse("ctms", body, validate_ctms)
            return receive.Accepted(event_id=0, status="accepted")

    return app

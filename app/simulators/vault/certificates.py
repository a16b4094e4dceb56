"""``GET /api/{v}/services/certificate/{id}``: the certificate that verifies this vault's Spark messages.

As Vault does ("Retrieve Signing Certificate"), it answers the PEM and needs no session.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from app.simulators.vault import responses as r
from app.simulators.vault.spark import CERTIFICATE_ID, simulator_key

router = APIRouter()


@router.get("/api/{v}/services/certificate/{cert_id}")
async def signing_certificate(v: str, cert_id: str) -> Response:
    if cert_id != CERTIFICATE_ID:
        return r.failure(r.INVALID_DATA, f"Invalid certificate id [{cert_id}]")
    return Response(simulator_key().certificate_pem, media_type="text/plain")

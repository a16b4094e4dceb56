"""``create_salesforce_app``: the Veeva CRM (Salesforce) simulator as a FastAPI app over one in-memory org."""

from __future__ import annotations

from fastapi import FastAPI, Response

from app.api.docs import install_docs
from app.api.telemetry import NO_TELEMETRY
from app.simulators.salesforce import admin, composite, oauth, query, sobjects
from app.simulators.salesforce.gateway import install_gateway
from app.simulators.salesforce.guide import install_guide
from app.simulators.salesforce.state import SalesforceState
from app.simulators.salesforce.web import API_PREFIX, install_error_handlers, sf_json, versions


def create_salesforce_app(state: SalesforceState | None = None) -> FastAPI:
    """One simulated org; pass ``state`` to share it with the test or demo that drives it."""
    org = state or SalesforceState()
    app = FastAPI(
        title="Veeva CRM (Salesforce) simulator",
        docs_url=None,  # install_docs: /_sim/docs and /_sim/redoc from the package, not a CDN
        redoc_url=None,
        openapi_url="/_sim/openapi.json",
        telemetry=NO_TELEMETRY,
    )
    install_docs(app, prefix="/_sim")
    app.state.salesforce = org

    @app.get(API_PREFIX, include_in_schema=False)
    @app.get(API_PREFIX + "/", include_in_schema=False)
    async def list_versions() -> Response:
        return sf_json(versions())  # needs no session and does not count against the limit

    for module in (oauth, sobjects, composite, query, admin):
        app.include_router(module.router, include_in_schema=module is admin)
    install_error_handlers(app)
    install_guide(app, org.schema)
    install_gateway(app, org)
    return app

"""``create_vault_app``: a Veeva Vault REST API simulator (CTMS or Vault CRM flavor) as a FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.docs import install_docs
from app.api.telemetry import NO_TELEMETRY
from app.simulators.vault import admin, auth, certificates, query, vobjects
from app.simulators.vault import responses as r
from app.simulators.vault.gate import ApiGate
from app.simulators.vault.guide import install_guide
from app.simulators.vault.state import Flavor, VaultConfig, VaultState


def create_vault_app(state: VaultState | None = None, *, flavor: Flavor | None = None) -> FastAPI:
    """A simulated vault. Pass ``state`` to drive it in-process; else a fresh one of ``flavor`` (default ctms)."""
    if state is None:
        state = VaultState(config=VaultConfig(flavor=flavor or "ctms"))
    elif flavor is not None and flavor != state.config.flavor:
        raise ValueError(f"state is a {state.config.flavor} vault, not {flavor}")
    app = FastAPI(
        title=f"Veeva Vault simulator ({state.config.flavor})",
        docs_url=None,  # install_docs: /_sim/docs and /_sim/redoc from the package, not a CDN
        openapi_url="/_sim/openapi.json",
        redoc_url=None,
        telemetry=NO_TELEMETRY,
    )
    install_docs(app, prefix="/_sim")
    app.state.vault = state
    for module in (auth, vobjects, query, certificates, admin):
        app.include_router(module.router)
    install_guide(app, state.registry, state.config.flavor)
    app.add_exception_handler(r.VaultError, _vault_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(ApiGate, state=state)
    return app


async def _vault_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, r.VaultError)
    return r.failure(exc.type, exc.message, http_status=exc.http_status)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if request.url.path.startswith("/api/"):
        return r.failure(r.INVALID_DATA, "Invalid request parameters")
    return await request_validation_exception_handler(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if request.url.path.startswith("/api/") and exc.status_code in (404, 405):
        if exc.status_code == 404:
            return r.failure(r.MALFORMED_URL, "The specified resource cannot be found.", http_status=404)
        return r.failure(
            r.METHOD_NOT_SUPPORTED, "The resource does not support this method.", http_status=405
        )
    return await http_exception_handler(request, exc)

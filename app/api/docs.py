"""Swagger UI and ReDoc from the package itself (``app/api/static/``), never from a CDN.

Closed networks are common where clinical systems run: FastAPI's default pages fetch their scripts,
styles, fonts and favicon from the internet and stay blank without it. ``install_docs`` serves the same
pages with local URLs; the bridge and both simulators use it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"

DESCRIPTION = """\
The bridge keeps a Veeva Vault CTMS and one or more Medical CRM orgs (Veeva CRM on Salesforce, Vault CRM)
in step: CTMS Clinical Activities become CRM Vault Clinical Interactions, CRM calls sent to Vault Clinical
become CTMS Medical Activities, and CTMS Studies and Study Sites are created or updated in each CRM org.

**Webhooks** (`/webhooks/...`) receive changes from both sides. They are signed the Standard Webhooks way:
`webhook-id`, `webhook-timestamp` and `webhook-signature` headers, an HMAC-SHA256 over
`{webhook-id}.{webhook-timestamp}.{body}` with the sender's `whsec_...` secret (the CTMS secrets are
`BRIDGE_CTMS_WEBHOOK_SECRETS`; each CRM connection has its own, shown once when it is made). An event is
answered `202` once it is stored; no API key is used there.

**Operator API** (`/api/v1/...`): send an API key as `Authorization: Bearer <key>` (the *Authorize* button
below). Keys are made with `bridge api-keys create` or `POST /api/v1/api-keys`; `BRIDGE_ADMIN_API_KEY` is
a bootstrap admin key. Roles: `viewer` reads, `operator` also replays, discards and tests connections,
`admin` also configures connections, settings and keys.

**Errors** are `application/problem+json` with a stable `code` (see each operation's error answers).
`/healthz`, `/readyz` and `/metrics` need no key.
"""


# The pages may load nothing but the bridge's own files: ReDoc's sidebar would fetch its maker's logo
# from a CDN (it hides it when that fails), so the browser is told not to try. Both viewers use inline
# scripts and styles, data: images and (ReDoc) a blob: worker.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def install_docs(app: FastAPI, *, prefix: str = "") -> None:
    """Serves ``{prefix}/docs`` (Swagger UI) and ``{prefix}/redoc`` for ``app``'s OpenAPI document.

    Create the app with ``docs_url=None, redoc_url=None`` so FastAPI's CDN pages are not registered.
    """
    static = prefix + "/docs-static"
    app.mount(static, StaticFiles(directory=STATIC), name=f"docs-static{prefix}")
    title = app.title

    @app.get(prefix + "/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        page = get_swagger_ui_html(
            openapi_url=root + str(app.openapi_url),
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{root}{static}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{static}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{root}{static}/swagger-ui/favicon-32x32.png",
            # validatorUrl: Swagger UI would otherwise send the document to a public validator
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        )
        page.headers["Content-Security-Policy"] = CSP
        return page

    @app.get(prefix + "/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        page = get_redoc_html(
            openapi_url=root + str(app.openapi_url),
            title=f"{title} - ReDoc",
            redoc_js_url=f"{root}{static}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{root}{static}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = CSP
        return page

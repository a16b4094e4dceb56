"""``POST /services/oauth2/token``: the OAuth 2.0 client credentials and JWT bearer flows of a connected app.

Client credentials come in the form body (``client_id``, ``client_secret``) or as HTTP Basic, which is
what simple-salesforce sends; a JWT bearer request sends ``assertion`` (checked in ``jwt_bearer``). The
answer carries the ``instance_url`` every later call must use.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response

from app.simulators.salesforce import jwt_bearer
from app.simulators.salesforce.state import SalesforceState
from app.simulators.salesforce.web import StateDep, sf_json

router = APIRouter()


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return sf_json({"error": error, "error_description": description}, status)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


def signature(secret: str, identity_url: str, issued_at: str) -> str:
    """Base64 HMAC-SHA256 of the identity URL and issue time, keyed by the client secret."""
    digest = hmac.new(secret.encode(), (identity_url + issued_at).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@router.post("/services/oauth2/token")
async def token(request: Request, state: StateDep) -> Response:
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode(errors="replace")).items()}
    grant_type = form.get("grant_type", "")
    basic = _basic_credentials(request)
    client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
    if grant_type == jwt_bearer.GRANT_TYPE:
        response, client_id = _jwt_grant(state, request, form.get("assertion", ""))
    elif not grant_type:
        response = _oauth_error("invalid_request", "grant type is missing")
    elif grant_type != "client_credentials":
        response = _oauth_error("unsupported_grant_type", "grant type not supported")
    elif client_id not in state.clients:
        response = _oauth_error("invalid_client_id", "client identifier invalid")
    elif not hmac.compare_digest(state.clients[client_id], secret):
        response = _oauth_error("invalid_client", "invalid client credentials")
    else:
        response = sf_json(_client_credentials_grant(state, request, client_id, secret))
    state.calls.record("POST", request.url.path, response.status_code, client_id=client_id or None)
    return response


def _jwt_grant(state: SalesforceState, request: Request, assertion: str) -> tuple[Response, str]:
    audiences = {state.login_url.rstrip("/")}
    try:
        client_id, username = jwt_bearer.verify(
            assertion, state.jwt_clients, audiences=audiences, now=state.clock().timestamp()
        )
    except jwt_bearer.Refused as refused:
        return _oauth_error(refused.error, refused.description), ""
    user_id = state.user_named(username)
    if user_id is None:  # pre-authorized, but the user is gone
        return _oauth_error("invalid_grant", "user hasn't approved this consumer"), client_id
    body = _grant(state, request, client_id, user_id)
    body.pop("issued_at")  # the JWT bearer answer has scope instead of issued_at and signature
    return sf_json({**body, "scope": "api"}), client_id


def _grant(
    state: SalesforceState, request: Request, client_id: str, user_id: str | None = None
) -> dict[str, Any]:
    session = state.issue_token(client_id, user_id)
    identity = f"{state.login_url}/id/{state.org_id}/{session.user_id}"
    instance_url = state.instance_url or str(request.base_url).rstrip("/")
    return {
        "access_token": session.access_token,
        "instance_url": instance_url,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": str(int(session.issued_at.timestamp() * 1000)),
    }


def _client_credentials_grant(
    state: SalesforceState, request: Request, client_id: str, secret: str
) -> dict[str, Any]:
    body = _grant(state, request, client_id)
    return {**body, "signature": signature(secret, body["id"], body["issued_at"])}

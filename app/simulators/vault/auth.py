"""Login (``POST /api/{v}/auth``), the session check every other call makes, and API versions.

``GET /api`` (Retrieve API Versions) lists every version the vault serves, oldest first, each with its
URL; like the other calls it needs a session. Vault ships three versions a year (``vYY.1`` to ``vYY.3``).
"""

from __future__ import annotations

import re
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.simulators.vault import responses as r
from app.simulators.vault.state import Session, VaultState

router = APIRouter()
_VERSION = re.compile(r"^v(\d+)\.(\d+)$")


def vault_state(request: Request) -> VaultState:
    return cast(VaultState, request.app.state.vault)


StateDep = Annotated[VaultState, Depends(vault_state)]


def _version_tuple(text: str) -> tuple[int, int] | None:
    match = _VERSION.match(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def check_version(state: VaultState, v: str) -> None:
    wanted = _version_tuple(v)
    if wanted is None:
        raise r.VaultError(r.MALFORMED_URL, f"Invalid API version [{v}]", http_status=404)
    lowest = _version_tuple(state.config.min_api_version) or (0, 0)
    newest = _version_tuple(state.config.api_version) or wanted
    if not lowest <= wanted <= newest:
        raise r.VaultError(r.METHOD_NOT_SUPPORTED, f"API version [{v}] is not supported by this vault")


def served_versions(state: VaultState) -> list[str]:
    """Every version from the oldest to the newest the vault accepts, in release order."""
    lowest = _version_tuple(state.config.min_api_version) or (0, 0)
    newest = _version_tuple(state.config.api_version) or lowest
    return [
        f"v{major}.{minor}"
        for major in range(lowest[0], newest[0] + 1)
        for minor in (1, 2, 3)
        if lowest <= (major, minor) <= newest
    ]


def require_session(request: Request, v: str, state: StateDep) -> Session:
    """The caller's live session; Vault answers a missing or stale one with HTTP 200 INVALID_SESSION_ID."""
    check_version(state, v)
    return _session_of(request, state)


def _session_of(request: Request, state: VaultState) -> Session:
    header = request.headers.get("authorization", "").strip()
    token = header[7:].strip() if header.lower().startswith("bearer ") else header
    session = state.session(token) if token else None
    if session is None:
        raise r.VaultError(r.INVALID_SESSION_ID, "Invalid or expired session ID.")
    return session


SessionDep = Annotated[Session, Depends(require_session)]


@router.get("/api")
@router.get("/api/")
async def api_versions(request: Request, state: StateDep) -> Response:
    _session_of(request, state)
    base = str(request.base_url).rstrip("/") + "/api"
    return r.vault_json(
        {"responseStatus": "SUCCESS", "values": {v: f"{base}/{v}" for v in served_versions(state)}}
    )


@router.post("/api/{v}/auth")
async def authenticate(v: str, request: Request, state: StateDep) -> Response:
    check_version(state, v)
    form = await r.read_form(request)
    username, password = form.get("username", ""), form.get("password", "")
    if not username:
        return _auth_failure(r.PARAMETER_REQUIRED, "Missing required parameter [username]")
    if not password:
        return _auth_failure(r.NO_PASSWORD_PROVIDED, "No password was provided for the login call.")
    session = state.login(username, password)
    if session is None:
        return _auth_failure(
            r.USERNAME_OR_PASSWORD_INCORRECT,
            "Authentication failed because an invalid username or password was provided.",
        )
    api_url = str(request.base_url).rstrip("/") + "/api"
    return r.vault_json(
        {
            "responseStatus": "SUCCESS",
            "sessionId": session.session_id,
            "userId": session.user_id,
            "vaultIds": [{"id": state.config.vault_id, "name": state.config.vault_name, "url": api_url}],
            "vaultId": state.config.vault_id,
        }
    )


def _auth_failure(type_: str, message: str) -> Response:
    return r.vault_json({**r.failure_body(type_, message), "errorType": "AUTHENTICATION_FAILED"})


@router.post("/auth/discovery")
async def auth_type_discovery(request: Request, state: StateDep) -> Response:
    """Authentication Type Discovery, which Vault serves on its login host: every simulated user has a password."""
    form = await r.read_form(request)
    username = request.query_params.get("username") or form.get("username", "")
    if not username:
        return r.failure(r.PARAMETER_REQUIRED, "Missing required parameter [username]")
    if username not in state.config.credentials:
        return r.failure(r.INVALID_DATA, f"User [{username}] does not exist")
    return r.vault_json({"responseStatus": "SUCCESS", "data": {"auth_type": "password", "auth_profiles": []}})


@router.get("/api/{v}/objects/users/me")
async def validate_session_user(v: str, request: Request, state: StateDep) -> Response:
    """Validate Session User: who the session belongs to (a ``whoami``), in Vault's user field names."""
    session = require_session(request, v, state)
    user = state.get("user__sys", session.user_id) or {}
    return r.vault_json(
        {
            "responseStatus": "SUCCESS",
            "users": [
                {
                    "user": {
                        "id": session.user_id,
                        "user_name__v": session.username,
                        "user_first_name__v": user.get("first_name__sys"),
                        "user_last_name__v": user.get("last_name__sys"),
                        "user_email__v": user.get("email__sys"),
                        "active__v": True,
                    }
                }
            ],
        }
    )


@router.post("/api/{v}/keep-alive")
async def keep_alive(session: SessionDep) -> Response:
    """Session Keep Alive: checking the session already restarted its idle timer."""
    return r.vault_json({"responseStatus": "SUCCESS"})


@router.delete("/api/{v}/session")
async def end_session(session: SessionDep, state: StateDep) -> Response:
    """End Session: this session only; the user's other sessions stay."""
    state.sessions.pop(session.session_id, None)
    return r.vault_json({"responseStatus": "SUCCESS"})

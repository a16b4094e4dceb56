"""The console's sign-in: the operator's API key, sealed in an HttpOnly, SameSite=Strict cookie.

The browser holds the key only in a form the bridge can open (Fernet, under a key derived from
BRIDGE_SECRET_KEY for this purpose alone) and scripts cannot read. Every page re-checks the key, so a
revoked key signs its holder out at once. Writes also need a CSRF token bound to the cookie (an HMAC of
it), and a cross-site Origin or Sec-Fetch-Site is refused before anything else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import orjson
from cryptography.fernet import Fernet, InvalidToken
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "bridge_console"
COOKIE_PATH = "/console"
LIFETIME_SECONDS = 8 * 3600  # one working day; then sign in again
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class SessionKeys:
    def __init__(self, encryption_key: str) -> None:
        seed = hashlib.sha256(b"console-session\x00" + encryption_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(seed))
        self._csrf_key = hashlib.sha256(b"console-csrf\x00" + encryption_key.encode()).digest()

    def seal(self, api_key: str) -> str:
        return self._fernet.encrypt(orjson.dumps({"key": api_key, "at": int(time.time())})).decode()

    def open(self, cookie: str | None) -> str | None:
        """The API key in a cookie this bridge sealed within the lifetime; None otherwise."""
        if not cookie:
            return None
        try:
            body = orjson.loads(self._fernet.decrypt(cookie.encode(), ttl=LIFETIME_SECONDS))
        except (InvalidToken, ValueError):
            return None
        key = body.get("key") if isinstance(body, dict) else None
        return key if isinstance(key, str) and key else None

    def csrf_token(self, cookie: str) -> str:
        return hmac.new(self._csrf_key, cookie.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, cookie: str, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf_token(cookie), presented or "")


def set_cookie(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=LIFETIME_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )


def same_origin(request: Request) -> bool:
    """False for a request a browser marks as coming from another site (CSRF, even without a cookie)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host

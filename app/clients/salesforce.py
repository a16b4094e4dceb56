"""Salesforce REST API client (Veeva CRM on Salesforce): OAuth sign-in (client credentials or JWT bearer),
sObject collections, SOQL.

Tokens are refreshed once on 401 INVALID_SESSION_ID. 429, 5xx and 403 REQUEST_LIMIT_EXCEEDED are transient;
429 and REQUEST_LIMIT_EXCEEDED also pause the org at the throttle gate (Retry-After, or a default: the
REST API documents none). The daily allowance in ``Sforce-Limit-Info`` is kept for metrics and operators.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from app.clients.errors import AuthError, PermanentError, TransientError, excerpt
from app.clients.http import retry_after, send
from app.clients.jwt_bearer import GRANT_TYPE, PrivateKeyError, bearer_assertion, default_audience
from app.clients.results import CallFact, RecordResult, WriteResult
from app.clients.throttle import LocalGate, ThrottleGate

MAX_BATCH = 200
TRANSIENT_CODES = frozenset(
    {"REQUEST_LIMIT_EXCEEDED", "UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "TXN_SECURITY_METERING_ERROR"}
)
LIMIT_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED"})
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")


@dataclass(frozen=True)
class Deleted:
    """A getDeleted answer: the records, and how far it covers (``latestDateCovered``, at most the end
    asked for): a deletion after that time is reported by a later call, so the next one starts there."""

    records: list[dict[str, Any]]
    latest_date_covered: str | None


CLIENT_CREDENTIALS = "client_credentials"
JWT_BEARER = "jwt_bearer"


@dataclass(frozen=True)
class SalesforceCredentials:
    """``auth`` is the OAuth flow: client credentials (``client_secret``) or JWT bearer (``username`` and
    the RSA ``private_key`` PEM whose certificate the connected app holds; ``audience`` defaults to
    login.salesforce.com, or test.salesforce.com for a sandbox)."""

    login_url: str
    client_id: str
    client_secret: str = field(default="", repr=False)
    api_version: str = "v62.0"
    auth: str = CLIENT_CREDENTIALS
    username: str = ""
    private_key: str = field(default="", repr=False)
    audience: str = ""

    def token_request(self, now: float) -> dict[str, str]:
        """The token endpoint's form body for this flow."""
        if self.auth == JWT_BEARER:
            try:
                assertion = bearer_assertion(
                    self.private_key,
                    client_id=self.client_id,
                    username=self.username,
                    audience=self.audience or default_audience(self.login_url),
                    now=now,
                )
            except PrivateKeyError as exc:
                raise AuthError(
                    "INVALID_PRIVATE_KEY", f"cannot sign the JWT bearer assertion: {exc}"
                ) from None
            return {"grant_type": GRANT_TYPE, "assertion": assertion}
        return {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }


class SalesforceClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        credentials: SalesforceCredentials,
        *,
        target: str = "salesforce",
        gate: ThrottleGate | None = None,
    ) -> None:
        self._http = http
        self._creds = credentials
        self.target = target
        self.gate: ThrottleGate = gate or LocalGate()
        self._token: str | None = None
        self._instance_url: str | None = None
        self.organization_id: str | None = None  # from the sign-in's identity URL, …/id/{org}/{user}
        self._login_lock = asyncio.Lock()
        self.api_usage: tuple[int, int] | None = None

    @property
    def api_version(self) -> str:
        v = self._creds.api_version
        return v if v.startswith("v") else f"v{v}"

    async def login(self) -> str:
        response, _ = await send(
            self._http,
            self.target,
            "POST",
            self._creds.login_url.rstrip("/") + "/services/oauth2/token",
            data=self._creds.token_request(time.time()),
        )
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(
                f"HTTP_{response.status_code}",
                "token endpoint unavailable",
                retry_after=retry_after(response),
            )
        body = _json_or_none(response)
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            code = (
                str(body.get("error", "invalid_grant"))
                if isinstance(body, dict)
                else f"HTTP_{response.status_code}"
            )
            message = str(body.get("error_description", "")) if isinstance(body, dict) else ""
            raise AuthError(
                code.upper(), f"salesforce token refused: {message}"[:300], http_status=response.status_code
            )
        self._token = str(body["access_token"])
        self._instance_url = str(body.get("instance_url") or self._creds.login_url).rstrip("/")
        parts = str(body.get("id") or "").rstrip("/").split("/")
        self.organization_id = parts[-2] if len(parts) >= 3 and parts[-3] == "id" else None
        return self._token

    async def signed_in_organization(self) -> str | None:
        """The org's id, signing in first if this client has not yet (what Outbound Messages are checked by)."""
        await self._auth()
        return self.organization_id

    async def _auth(self) -> tuple[str, str]:
        if self._token is None:
            async with self._login_lock:
                if self._token is None:
                    await self.login()
        assert self._token is not None
        assert self._instance_url is not None
        return self._token, self._instance_url

    async def call(self, method: str, path: str, operation: str, **kwargs: Any) -> tuple[Any, CallFact]:
        """One REST call under /services/data/{v}/ (or an absolute path from the API); refresh once on 401."""
        extra_headers = kwargs.pop("headers", {})  # kept for the retry after a refresh
        for attempt in (1, 2):
            await self.gate.before_call(self.target)
            token, instance = await self._auth()
            url = instance + (
                path
                if path.startswith("/services/")
                else f"/services/data/{self.api_version}/{path.lstrip('/')}"
            )
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                **extra_headers,
            }
            response, ms = await send(self._http, self.target, method, url, headers=headers, **kwargs)
            self._note_limits(response)
            fact = CallFact(self.target, operation, response.status_code, ms, excerpt(response.text))
            body = _json_or_none(response)
            code, message = _first_error(body)
            if response.status_code == 401 and attempt == 1:
                async with self._login_lock:
                    if self._token == token:
                        self._token = None
                continue
            if response.status_code == 401:
                raise AuthError(
                    code or "INVALID_SESSION_ID",
                    message or "session refused after a fresh token",
                    http_status=401,
                )
            if response.status_code == 429 or code in LIMIT_CODES:
                await self.gate.signal(
                    self.target,
                    retry_after(response),
                    code or f"HTTP_{response.status_code}",
                )
            if response.status_code == 429 or response.status_code >= 500 or code in TRANSIENT_CODES:
                raise TransientError(
                    code or f"HTTP_{response.status_code}",
                    message or f"salesforce answered {response.status_code}",
                    retry_after=retry_after(response),
                    http_status=response.status_code,
                    excerpt=fact.excerpt,
                )
            if response.status_code >= 400 and response.status_code != 404:
                raise PermanentError(
                    code or f"HTTP_{response.status_code}",
                    message,
                    http_status=response.status_code,
                    excerpt=fact.excerpt,
                )
            return (body if response.status_code != 404 else None), fact
        raise AuthError("INVALID_SESSION_ID", "salesforce rejected a fresh token")

    def _note_limits(self, response: httpx.Response) -> None:
        match = _LIMIT_INFO.search(response.headers.get("sforce-limit-info", ""))
        if match:
            self.api_usage = (int(match.group(1)), int(match.group(2)))

    async def upsert(self, object_name: str, id_field: str, records: list[dict[str, Any]]) -> WriteResult:
        """sObject Collections upsert by external id (allOrNone false: each record stands alone)."""
        if not 0 < len(records) <= MAX_BATCH:
            raise ValueError(f"a collection upsert takes 1 to {MAX_BATCH} records, not {len(records)}")
        payload = {
            "allOrNone": False,
            "records": [{"attributes": {"type": object_name}, **r} for r in records],
        }
        body, fact = await self.call(
            "PATCH",
            f"composite/sobjects/{object_name}/{id_field}",
            f"upsert {object_name}",
            content=orjson.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        if fact.http_status == 404:  # no such object or external id field: a configuration to fix
            raise PermanentError(
                "NOT_FOUND",
                f"salesforce cannot upsert {object_name} by {id_field}",
                http_status=404,
                excerpt=fact.excerpt,
            )
        if not isinstance(body, list) or len(body) != len(records):
            raise TransientError(
                "BAD_RESPONSE",
                f"salesforce returned {len(body) if isinstance(body, list) else 'no'} results for {len(records)} records",
            )
        return WriteResult([_record_result(row) for row in body], fact)

    async def query(self, soql: str) -> list[dict[str, Any]]:
        """Run SOQL and follow nextRecordsUrl until done."""
        body, _ = await self.call("GET", "query", "query", params={"q": soql})
        rows: list[dict[str, Any]] = list((body or {}).get("records") or [])
        while body and not body.get("done", True) and body.get("nextRecordsUrl"):
            body, _ = await self.call("GET", str(body["nextRecordsUrl"]), "query page")
            rows.extend((body or {}).get("records") or [])
        return rows

    async def count(self, soql: str) -> int:
        """``SELECT COUNT() FROM …``: the number of rows, from the answer's totalSize."""
        body, _ = await self.call("GET", "query", "query", params={"q": soql})
        return int((body or {}).get("totalSize") or 0)

    async def get(self, object_name: str, record_id: str) -> dict[str, Any] | None:
        body, _ = await self.call("GET", f"sobjects/{object_name}/{quote(record_id)}", f"read {object_name}")
        return body if isinstance(body, dict) else None

    async def updated(self, object_name: str, start: str, end: str) -> list[str]:
        body, _ = await self.call(
            "GET",
            f"sobjects/{object_name}/updated/",
            f"updated {object_name}",
            params={"start": start, "end": end},
        )
        return [str(i) for i in (body or {}).get("ids", [])]

    async def deleted(self, object_name: str, start: str, end: str) -> Deleted:
        body, _ = await self.call(
            "GET",
            f"sobjects/{object_name}/deleted/",
            f"deleted {object_name}",
            params={"start": start, "end": end},
        )
        body = body or {}
        covered = body.get("latestDateCovered")
        return Deleted(list(body.get("deletedRecords", [])), str(covered) if covered else None)

    async def describe(self, object_name: str) -> dict[str, Any] | None:
        body, _ = await self.call("GET", f"sobjects/{object_name}/describe", f"describe {object_name}")
        return body if isinstance(body, dict) else None


def _json_or_none(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


def _first_error(body: Any) -> tuple[str | None, str]:
    if isinstance(body, list) and body and isinstance(body[0], dict) and "errorCode" in body[0]:
        return str(body[0]["errorCode"]), str(body[0].get("message", ""))[:500]
    return None, ""


def _record_result(row: dict[str, Any]) -> RecordResult:
    if row.get("success"):
        return RecordResult(True, row.get("id"), created=bool(row.get("created")))
    errors = row.get("errors") or [{}]
    code = str(errors[0].get("statusCode", "FAILURE"))
    return RecordResult(
        False,
        row.get("id"),
        error_code=code,
        error_message=str(errors[0].get("message", ""))[:500],
        transient=code in TRANSIENT_CODES,
    )


def soql_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

"""Veeva Vault REST API client (the CTMS, and Vault CRM connections).

Vault answers most failures with HTTP 200 and ``responseStatus`` FAILURE, so every response is classified
on its body. Sessions are re-established once on INVALID_SESSION_ID. Throttling is by delay: we read the
burst headers and slow down before the window runs out, rather than after, through the throttle gate
(app/clients/throttle.py), so every caller sharing the gate slows down together.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx
import orjson

from app.clients.errors import AuthError, ClientError, PermanentError, TransientError, excerpt
from app.clients.http import retry_after, send
from app.clients.results import CallFact, RecordResult, WriteResult
from app.clients.throttle import LocalGate, ThrottleGate

MAX_BATCH = 500
CLIENT_ID = "ctms-crm-bridge"
TRANSIENT_TYPES = frozenset(
    {
        "API_LIMIT_EXCEEDED",
        "RACE_CONDITION",
        "OPERATION_IN_PROGRESS",
        "SERVICE_UNAVAILABLE",
        "UNEXPECTED_ERROR",
    }
)
SESSION_ERRORS = frozenset({"INVALID_SESSION_ID", "NO_SESSION_ID", "SESSION_EXPIRED"})
SLOW_DOWN_BELOW = 0.1  # start pacing calls when less than 10% of the burst window is left
LIMIT_TYPES = frozenset({"API_LIMIT_EXCEEDED"})


def pace_seconds(limit: int | None, remaining: int | None) -> float:
    """How long to hold every call once less than 10% of the burst window is left: longer as it runs
    out, at most 2 s (Vault itself then delays every call of everyone for the rest of the window)."""
    if not limit or remaining is None or remaining >= limit * SLOW_DOWN_BELOW:
        return 0.0
    return min(2.0, 0.05 + 2.0 * (1 - max(0, remaining) / (limit * SLOW_DOWN_BELOW)))


@dataclass(frozen=True)
class VaultCredentials:
    url: str
    username: str
    password: str
    vault_id: str | None = None
    api_version: str = "v25.2"


class VaultClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        credentials: VaultCredentials,
        *,
        target: str = "vault",
        gate: ThrottleGate | None = None,
    ) -> None:
        self._http = http
        self._creds = credentials
        self.target = target
        self.base_url = credentials.url.rstrip("/")  # which vault: what cached reads are keyed by
        self.gate: ThrottleGate = gate or LocalGate()
        self._session_id: str | None = None
        self._login_lock = asyncio.Lock()
        self.burst_limit: int | None = None
        self.burst_remaining: int | None = None

    def _url(self, path: str) -> str:
        return urljoin(self._creds.url.rstrip("/") + "/", f"api/{self._creds.api_version}/{path.lstrip('/')}")

    async def login(self) -> str:
        response, _ = await send(
            self._http,
            self.target,
            "POST",
            self._url("auth"),
            data={"username": self._creds.username, "password": self._creds.password},
            headers={"Accept": "application/json", "X-VaultAPI-ClientID": CLIENT_ID},
        )
        body = self._json(response)
        if body.get("responseStatus") != "SUCCESS":
            code, message = self._first_error(body)
            if response.status_code >= 500 or code in TRANSIENT_TYPES:
                raise TransientError(code, message, http_status=response.status_code)
            raise AuthError(code, f"vault login refused: {message}", http_status=response.status_code)
        expected = self._creds.vault_id
        if expected and str(body.get("vaultId")) != str(expected):
            raise AuthError(
                "VAULT_ID_MISMATCH", f"login reached vault {body.get('vaultId')}, expected {expected}"
            )
        session_id = body.get("sessionId")
        if not isinstance(session_id, str) or not session_id:
            raise AuthError("NO_SESSION_ID", "vault login answered without a session id")
        self._session_id = session_id
        return session_id

    async def _session(self) -> str:
        if self._session_id is None:
            async with self._login_lock:
                if self._session_id is None:
                    await self.login()
        assert self._session_id is not None
        return self._session_id

    async def _note_burst(self, response: httpx.Response) -> None:
        """Read the burst headers; a window running low, or a delayed answer, pauses the target."""
        for header, attr in (
            ("x-vaultapi-burstlimit", "burst_limit"),
            ("x-vaultapi-burstlimitremaining", "burst_remaining"),
        ):
            value = response.headers.get(header)
            if value is not None and value.lstrip("-").isdigit():
                setattr(self, attr, int(value))
        pause = pace_seconds(self.burst_limit, self.burst_remaining)
        delay = response.headers.get("x-vaultapi-responsedelay", "")
        if delay.isdigit() and int(delay) > 0:  # Vault is holding answers back: the window is spent
            await self.gate.signal(self.target, max(pause, int(delay) / 1000.0), "RESPONSE_DELAY")
        elif pause:
            await self.gate.signal(self.target, pause, "BURST_LOW")

    async def call(
        self, method: str, path: str, operation: str, **kwargs: Any
    ) -> tuple[dict[str, Any], CallFact]:
        """One API call, re-logging in once on an expired session; raises on a whole-call failure."""
        extra_headers = kwargs.pop("headers", {})  # kept for the retry after a re-login
        for attempt in (1, 2):
            await self.gate.before_call(self.target)
            session_id = await self._session()
            headers = {
                "Authorization": f"Bearer {session_id}",
                "Accept": "application/json",
                "X-VaultAPI-ClientID": CLIENT_ID,
                **extra_headers,
            }
            url = path if path.startswith("http") else self._url(path)
            response, ms = await send(self._http, self.target, method, url, headers=headers, **kwargs)
            await self._note_burst(response)
            fact = CallFact(self.target, operation, response.status_code, ms, excerpt(response.text))
            if response.status_code == 429:
                await self.gate.signal(self.target, retry_after(response), "HTTP_429")
            if response.status_code == 429 or response.status_code >= 500:
                raise TransientError(
                    f"HTTP_{response.status_code}",
                    f"{self.target} answered {response.status_code}",
                    retry_after=retry_after(response),
                    http_status=response.status_code,
                    excerpt=fact.excerpt,
                )
            body = self._json(response)
            if body.get("responseStatus") in ("FAILURE", "EXCEPTION"):
                code, message = self._first_error(body)
                if code in SESSION_ERRORS and attempt == 1:
                    async with self._login_lock:
                        if self._session_id == session_id:  # nobody refreshed it meanwhile
                            self._session_id = None
                    continue
                if code in SESSION_ERRORS:
                    raise AuthError(
                        code,
                        f"the vault rejected a fresh session: {message}",
                        http_status=response.status_code,
                        excerpt=fact.excerpt,
                    )
                if code in LIMIT_TYPES:
                    await self.gate.signal(self.target, retry_after(response), code)
                error = TransientError if code in TRANSIENT_TYPES else PermanentError
                raise error(code, message, http_status=response.status_code, excerpt=fact.excerpt)
            if response.status_code >= 400:
                raise PermanentError(
                    f"HTTP_{response.status_code}", response.reason_phrase, excerpt=fact.excerpt
                )
            return body, fact
        raise AuthError("INVALID_SESSION_ID", "the vault rejected a fresh session")

    async def upsert(self, object_name: str, records: list[dict[str, Any]], id_param: str) -> WriteResult:
        """Create or update by a unique field; results in input order."""
        return await self._write("POST", object_name, records, f"?idParam={id_param}", "upsert")

    async def update(self, object_name: str, records: list[dict[str, Any]]) -> WriteResult:
        """Update by ``id`` (each record carries its vault id)."""
        return await self._write("PUT", object_name, records, "", "update")

    async def _write(
        self, method: str, object_name: str, records: list[dict[str, Any]], query: str, op: str
    ) -> WriteResult:
        if not 0 < len(records) <= MAX_BATCH:
            raise ValueError(f"a vault write takes 1 to {MAX_BATCH} records, not {len(records)}")
        body, fact = await self.call(
            method,
            f"vobjects/{object_name}{query}",
            f"{op} {object_name}",
            content=orjson.dumps(records),
            headers={"Content-Type": "application/json"},
        )
        rows = body.get("data")
        if not isinstance(rows, list) or len(rows) != len(records):
            raise TransientError(
                "BAD_RESPONSE",
                f"vault returned {len(rows) if isinstance(rows, list) else 'no'} results for {len(records)} records",
            )
        return WriteResult([self._record_result(row) for row in rows], fact)

    @staticmethod
    def _record_result(row: dict[str, Any]) -> RecordResult:
        status = row.get("responseStatus")
        data = row.get("data") if isinstance(row.get("data"), dict) else {}
        assert isinstance(data, dict)
        record_id = str(data["id"]) if data.get("id") is not None else None
        if status == "SUCCESS":
            return RecordResult(True, record_id, created=data.get("event") == "created__sys")
        if status == "WARNING":
            return RecordResult(True, record_id, unchanged=True)
        errors = row.get("errors") or [{}]
        code = str(errors[0].get("type", "FAILURE"))
        return RecordResult(
            False,
            record_id,
            error_code=code,
            error_message=str(errors[0].get("message", ""))[:500],
            transient=code in TRANSIENT_TYPES,
        )

    async def get(self, object_name: str, record_id: str) -> dict[str, Any] | None:
        try:
            body, _ = await self.call("GET", f"vobjects/{object_name}/{record_id}", f"read {object_name}")
        except PermanentError as exc:
            if exc.code == "INVALID_DATA":
                return None
            raise
        data = body.get("data")
        return data if isinstance(data, dict) else None

    async def query(self, vql: str) -> list[dict[str, Any]]:
        """Run VQL and follow ``next_page`` until every row is read."""
        return await self._all_pages(await self._query(vql), "POST", "query page")

    async def _query(self, vql: str) -> dict[str, Any]:
        body, _ = await self.call(
            "POST",
            "query",
            "query",
            data={"q": vql},
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return body

    async def query_page(self, vql: str) -> tuple[list[dict[str, Any]], int | None, bool]:
        """Run VQL and read its first page only: the rows, the total the vault counted (None if not given),
        and whether the vault has a next page. A caller that pages by its own cursor (``PAGESIZE``/
        ``PAGEOFFSET``) never follows ``next_page``."""
        body = await self._query(vql)
        details = body.get("responseDetails") or {}
        total = details.get("total")
        return (
            list(body.get("data") or []),
            total if isinstance(total, int) else None,
            bool(details.get("next_page")),
        )

    async def deleted_ids(self, object_name: str, start: str, end: str | None = None) -> list[dict[str, Any]]:
        """Ids deleted since `start` (up to `end`), every page: Vault answers at most 1,000 per page."""
        params = {"start_date": start, **({"end_date": end} if end else {})}
        operation = f"deletions {object_name}"
        body, _ = await self.call(
            "GET", f"objects/deletions/vobjects/{object_name}", operation, params=params
        )
        return await self._all_pages(body, "GET", f"{operation} page")

    async def _all_pages(self, body: dict[str, Any], method: str, operation: str) -> list[dict[str, Any]]:
        """The rows of a first page and of every ``next_page`` after it (a path on the vault's host)."""
        rows: list[dict[str, Any]] = list(body.get("data") or [])
        next_page = (body.get("responseDetails") or {}).get("next_page")
        while next_page:
            url = urljoin(self._creds.url.rstrip("/") + "/", str(next_page).lstrip("/"))
            body, _ = await self.call(method, url, operation)
            rows.extend(body.get("data") or [])
            next_page = (body.get("responseDetails") or {}).get("next_page")
        return rows

    async def describe(self, object_name: str) -> dict[str, Any]:
        body, _ = await self.call("GET", f"metadata/vobjects/{object_name}", f"describe {object_name}")
        return dict(body.get("object") or body.get("data") or {})

    async def picklist_values(self, picklist: str) -> list[str]:
        """Retrieve Picklist Values: the names of the picklist's active values."""
        body, _ = await self.call("GET", f"objects/picklists/{picklist}", f"picklist {picklist}")
        values = body.get("picklistValues") or []
        return [str(v["name"]) for v in values if isinstance(v, dict) and v.get("name")]

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            if response.status_code >= 500:
                raise TransientError(f"HTTP_{response.status_code}", "vault answered an error page") from None
            raise PermanentError(
                "BAD_RESPONSE",
                f"vault answered {response.status_code} without JSON",
                excerpt=excerpt(response.text),
            ) from None
        if not isinstance(body, dict):
            raise PermanentError("BAD_RESPONSE", "vault answered JSON that is not an object")
        return body

    @staticmethod
    def _first_error(body: dict[str, Any]) -> tuple[str, str]:
        errors = body.get("errors") or [{}]
        first = errors[0] if isinstance(errors[0], dict) else {}
        return str(first.get("type", "FAILURE")), str(first.get("message", body.get("responseMessage", "")))[
            :500
        ]


def vql_quote(value: str) -> str:
    """A VQL string literal: single quotes, backslash-escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


__all__ = ["MAX_BATCH", "ClientError", "VaultClient", "VaultCredentials", "vql_quote"]

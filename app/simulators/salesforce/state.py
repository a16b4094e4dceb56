"""Everything the simulated org knows, and the Python methods tests and demos drive it with.

The HTTP app and these methods share one ``SalesforceState``: a test can create an account here, let the
bridge upsert calls over HTTP, then look at the records here. Methods that emit events (deleting a call
that was sent, ``send_call_to_vault``) schedule delivery on the running event loop (``emitter.drain()``
waits for it); called from sync code without a loop, they deliver before returning.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.simulators.common.calllog import CallLog
from app.simulators.common.emitter import WebhookEmitter, WebhookTarget
from app.simulators.common.faults import Faults, FaultSettings
from app.simulators.salesforce import events, outbound, writes
from app.simulators.salesforce.errors import entity_is_deleted, not_found
from app.simulators.salesforce.formats import format_datetime, id_suffix, truncate_seconds, utc_now
from app.simulators.salesforce.jwt_bearer import JwtClient, public_key_of
from app.simulators.salesforce.schema import ObjectDef, Schema, default_schema
from app.simulators.salesforce.store import Deletion, Record, RecordStore

ORG_ID = "00D5g000004SimQ" + id_suffix("00D5g000004SimQ")


@dataclass
class Token:
    access_token: str
    client_id: str
    user_id: str
    issued_at: datetime
    expires_at: datetime
    revoked: bool = False


SENT_FLAG = "Sent_to_Vault_Clinical_vod__c"
API_USERNAME = "integration@example.com"  # the connected app's run-as user (its Username is its email)


@dataclass(eq=False)
class SalesforceState:
    schema: Schema = field(default_factory=default_schema)
    clients: dict[str, str] = field(default_factory=dict)  # connected apps: client_id -> client_secret
    jwt_clients: dict[str, JwtClient] = field(default_factory=dict)  # connected apps with a certificate
    instance_url: str | None = None  # None: the base URL the token request arrived on
    login_url: str = "https://login.salesforce.com"
    token_lifetime_seconds: float = 7200.0
    daily_api_limit: int = 100_000
    query_batch_size: int = 2000
    rate_limit_status: int = 403  # 403 REQUEST_LIMIT_EXCEEDED as the platform answers, or 429
    # How far the replication feeds' latestDateCovered trails the clock: the platform holds it back while
    # transactions that started earlier are still open, and reports nothing after it.
    replication_lag_seconds: float = 0.0
    account_identifier_fields: tuple[str, ...] = ("External_ID_vod__c",)
    faults: Faults = field(default_factory=Faults)
    calls: CallLog = field(default_factory=CallLog)
    emitter: WebhookEmitter = field(default_factory=WebhookEmitter)
    clock: Callable[[], datetime] = utc_now
    store: RecordStore = field(init=False)
    tokens: dict[str, Token] = field(default_factory=dict, init=False)
    api_usage: int = field(default=0, init=False)
    connection_id: str | None = field(default=None, init=False)
    outbound_message_url: str | None = field(default=None, init=False)  # set: calls go as Outbound Messages
    sent_to_vault: set[str] = field(default_factory=set, init=False)
    cursors: dict[str, tuple[list[dict[str, Any]], int]] = field(
        default_factory=dict, init=False
    )  # query locators
    started_at: datetime = field(init=False)  # the delete log reaches back to here
    api_user_id: str = field(default="", init=False)  # the connected app's run-as user
    crm_user_id: str = field(default="", init=False)  # the field user who logs calls

    def __post_init__(self) -> None:
        self.store = RecordStore(self.schema)
        self.started_at = self.now()
        self._seed()

    def _seed(self) -> None:
        self.api_user_id = self.add_user("Integration", "User", API_USERNAME)
        self.crm_user_id = self.add_user("Ana", "Silva", "ana.silva@example.com")

    @property
    def org_id(self) -> str:
        return ORG_ID

    @property
    def records(self) -> dict[str, dict[str, Record]]:
        return self.store.live

    @property
    def deletions(self) -> list[Deletion]:
        return self.store.deletions

    def now(self) -> datetime:
        return truncate_seconds(self.clock())

    # connected apps and sessions
    def register_client(self, client_id: str, client_secret: str) -> None:
        self.clients[client_id] = client_secret

    def register_jwt_client(
        self, client_id: str, certificate: str, usernames: tuple[str, ...] = (API_USERNAME,)
    ) -> None:
        """A connected app with "Use digital signatures" (``certificate``: PEM) and its pre-authorized users."""
        self.jwt_clients[client_id] = JwtClient(public_key_of(certificate), frozenset(usernames))

    def user_named(self, username: str) -> str | None:
        """The id of the user whose Username is ``username``."""
        return next(
            (r["Id"] for r in self.store.live.get("User", {}).values() if r.get("Username") == username), None
        )

    def issue_token(self, client_id: str, user_id: str | None = None) -> Token:
        issued = self.clock()
        token = Token(
            access_token=f"{ORG_ID[:15]}!{secrets.token_urlsafe(72)}",
            client_id=client_id,
            user_id=user_id or self.api_user_id,
            issued_at=issued,
            expires_at=issued + timedelta(seconds=self.token_lifetime_seconds),
        )
        self.tokens[token.access_token] = token
        return token

    def session(self, access_token: str) -> Token | None:
        """The live session for a bearer token, or None when unknown, expired or revoked."""
        token = self.tokens.get(access_token)
        if token is None or token.revoked or self.clock() >= token.expires_at:
            return None
        return token

    def expire_tokens(self) -> int:
        """End every session now, as a session timeout or an admin would; returns how many."""
        live = [t for t in self.tokens.values() if not t.revoked]
        for token in live:
            token.revoked = True
        return len(live)

    # records, as a CRM user (or the API user) would change them
    def object_def(self, object_name: str) -> ObjectDef:
        obj = self.schema.get(object_name)
        if obj is None:
            raise not_found()
        return obj

    def add_user(self, first_name: str, last_name: str, email: str) -> str:
        body = {"FirstName": first_name, "LastName": last_name, "Email": email, "Username": email}
        user_id: str = self.create_record("User", body, user_id=self.api_user_id)["Id"]
        return user_id

    def create_record(
        self, object_name: str, fields: Mapping[str, Any], *, user_id: str | None = None
    ) -> Record:
        """Create as ``user_id`` (default: the CRM user); raises ``RecordError``/``ApiError`` like the API."""
        obj = self.object_def(object_name)
        author = self.crm_user_id if user_id is None else user_id
        record = writes.create(self.store, obj, fields, user_id=author, now=self.now())
        if not author:  # the very first user creates itself
            record["CreatedById"] = record["LastModifiedById"] = record["Id"]
        return record

    def live_record(self, object_name: str, record_id: str) -> tuple[ObjectDef, Record]:
        obj = self.object_def(object_name)
        record = self.store.get(obj.name, record_id)
        if record is None:
            raise entity_is_deleted() if self.store.get_deleted(obj.name, record_id) else not_found()
        return obj, record

    def update_record(
        self, object_name: str, record_id: str, fields: Mapping[str, Any], *, user_id: str | None = None
    ) -> Record:
        obj, record = self.live_record(object_name, record_id)
        author = self.crm_user_id if user_id is None else user_id
        return writes.update(self.store, obj, record["Id"], fields, user_id=author, now=self.now())

    def delete_record(self, object_name: str, record_id: str, *, user_id: str | None = None) -> Record:
        """Move the record to the recycle bin; a call that was sent to Vault emits ``crm.call.deleted``."""
        obj, record = self.live_record(object_name, record_id)
        now = self.now()
        author = self.crm_user_id if user_id is None else user_id
        deleted = self.store.delete(obj, record["Id"], user_id=author, now=now)
        if obj.name == events.CALL_OBJECT and deleted["Id"] in self.sent_to_vault:
            self._emit(events.CALL_DELETED, events.call_deleted_data(deleted["Id"], format_datetime(now)))
        return deleted

    def get_record(self, object_name: str, record_id: str) -> Record | None:
        obj = self.object_def(object_name)
        return self.store.get(obj.name, record_id)

    def list_records(self, object_name: str, *, include_deleted: bool = False) -> list[Record]:
        return self.store.all(self.object_def(object_name).name, include_deleted=include_deleted)

    # events to the bridge
    def configure_webhook(self, url: str, secret: str, connection_id: str, *, enabled: bool = True) -> None:
        self.emitter.target = WebhookTarget(url=url, secret=secret)
        self.emitter.enabled = enabled
        self.connection_id = connection_id

    def configure_outbound_messages(self, url: str | None) -> None:
        """Send calls sent to Vault Clinical as Outbound Messages to ``url`` (the full URL an admin enters on
        the Outbound Message, token included) instead of webhooks; None: back to webhooks. An org sends
        no Outbound Message for a deletion: the bridge's Transfer job finds deleted calls."""
        self.outbound_message_url = url

    def send_call_to_vault(self, call_id: str) -> dict[str, Any]:
        """The "Send to Vault Clinical" button: emit ``crm.call.sent_to_vault`` with the call (or, with
        Outbound Messages configured, send one); returns the webhook's ``data``."""
        _, call = self.live_record(events.CALL_OBJECT, call_id)
        if not call.get(SENT_FLAG):  # the mark survives in the org, so a lost event can be caught up
            call = self.update_record(events.CALL_OBJECT, call["Id"], {SENT_FLAG: True})
        data = events.sent_to_vault_data(self.store, call, self.account_identifier_fields)
        self.sent_to_vault.add(call["Id"])
        if self.outbound_message_url:
            self._send_outbound_message(self.outbound_message_url, call)
        else:
            self._emit(events.SENT_TO_VAULT, data)
        return data

    def _send_outbound_message(self, url: str, call: Record) -> None:
        notification_id = outbound.new_notification_id()
        body = outbound.notifications_body(
            self.org_id, self.instance_url or self.login_url, events.CALL_OBJECT, [(notification_id, call)]
        )
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
        self._deliver(
            lambda: self.emitter.post(url, "outbound_message", notification_id, lambda _: (body, headers))
        )

    def _emit(self, type_: str, data: dict[str, Any]) -> None:
        """Deliver in the background; called from plain sync code (no loop), deliver before returning."""
        if self.connection_id is None:
            return
        suffix = f"/webhooks/crm/{self.connection_id}"
        self._deliver(lambda: self.emitter.emit(type_, data, path_suffix=suffix))

    def _deliver(self, schedule: Callable[[], None]) -> None:
        """Schedule on the running loop; from plain sync code (no loop), deliver before returning."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(self._deliver_now(schedule))
            return
        schedule()

    async def _deliver_now(self, schedule: Callable[[], None]) -> None:
        schedule()
        await self.emitter.drain()

    # faults, limits, reset
    def configure_faults(self, settings: FaultSettings, *, rate_limit_status: int | None = None) -> None:
        if rate_limit_status is not None:
            if rate_limit_status not in (403, 429):
                raise ValueError("rate_limit_status is 403 (REQUEST_LIMIT_EXCEEDED) or 429")
            self.rate_limit_status = rate_limit_status
        self.faults.configure(settings)

    def reset(self) -> None:
        """Back to a fresh org: no records but the two users, no sessions, no faults, empty logs.

        Configuration stays: schema, connected apps, webhook target, limits.
        """
        self.store.clear()
        self.tokens.clear()
        self.cursors.clear()
        self.sent_to_vault.clear()
        self.api_usage = 0
        self.calls.clear()
        self.faults.reset()
        self.rate_limit_status = 403
        self.emitter.log.clear()
        self.started_at = self.now()
        self._seed()

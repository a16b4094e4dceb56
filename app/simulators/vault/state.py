"""Everything a simulated vault remembers: configuration, records, users, sessions, deletions, cursors.

``VaultState`` is also the in-process control surface: tests and the demo call its methods to act as a
human user (create, edit, delete records, which emits events), expire sessions or reset the vault.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.signing import is_valid_secret
from app.simulators.common.calllog import CallLog
from app.simulators.common.emitter import WebhookEmitter, WebhookTarget
from app.simulators.common.faults import Faults
from app.simulators.vault.default_schemas import schema_for
from app.simulators.vault.events import announce, check_wiring, send_call_to_vault
from app.simulators.vault.responses import iso_millis
from app.simulators.vault.schema import OBJECT_TYPE, FieldType, ObjectSchema, SchemaRegistry
from app.simulators.vault.writes import FAILURE, WriteMode, delete_record, write_rows

Flavor = Literal["ctms", "crm"]
CtmsIntake = Literal["webhooks", "spark"]


class HumanUser(BaseModel):
    """A person who works in the vault's UI; admin "user" actions are made as one of them."""

    username: str
    first_name: str
    last_name: str
    email: str


def _default_humans() -> list[HumanUser]:
    return [
        HumanUser(
            username="maria.costa@sim.example.com",
            first_name="Maria",
            last_name="Costa",
            email="maria.costa@example.com",
        ),
        HumanUser(
            username="john.carter@sim.example.com",
            first_name="John",
            last_name="Carter",
            email="john.carter@example.com",
        ),
    ]


class VaultConfig(BaseModel):
    flavor: Flavor = "ctms"
    vault_id: int = 4242
    vault_name: str = "Clinical Operations (simulated)"
    api_version: str = Field("v26.3", description="the newest API version the vault accepts")
    min_api_version: str = "v21.1"
    session_idle_timeout_seconds: float = Field(20 * 60, gt=0)
    credentials: dict[str, str] = Field(
        default_factory=lambda: {"integration@sim.example.com": "integration-password"},
        description="API users: username -> password",
    )
    human_users: list[HumanUser] = Field(default_factory=_default_humans)
    max_batch_size: int = 500
    deletion_retention_days: int = 30
    query_page_size: int = 1000
    query_cursor_ttl_seconds: float = 72 * 3600
    picklists_as_lists: bool = Field(True, description="render picklist values as lists, as Vault does")
    crm_connection_id: str | None = Field(
        None, description="crm flavor: the bridge connection events are for"
    )


class RecordRejected(ValueError):
    """A user action the vault refused; ``errors`` are Vault's ``[{"type", "message"}]``."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['type']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass
class Session:
    session_id: str
    user_id: int
    username: str
    last_used: datetime


@dataclass
class Deletion:
    object: str
    id: str | int
    deleted_at: datetime


@dataclass
class BurstWindow:
    """Vault's burst allowance: a fixed window (5 minutes by default) with a call budget."""

    started_at: float = 0.0
    used: int = 0

    def consume(self, limit: int, window_seconds: float, now: float, *, count: bool) -> int:
        if now - self.started_at >= window_seconds:
            self.started_at, self.used = now, 0
        if count:
            self.used += 1
        return max(limit - self.used, 0)


@dataclass
class QueryCursor:
    """A query's cached result set, paged by next_page / previous_page URLs."""

    rows: Sequence[dict[str, Any]]
    page_size: int
    last_used: datetime


@dataclass
class VaultState:
    config: VaultConfig = field(default_factory=VaultConfig)
    schema: SchemaRegistry | None = None  # None: the flavor's default schema
    faults: Faults = field(default_factory=Faults)
    calls: CallLog = field(default_factory=CallLog)
    emitter: WebhookEmitter = field(default_factory=WebhookEmitter)
    ctms_intake: CtmsIntake = "webhooks"  # ctms flavor: Standard Webhooks events, or Spark messages
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    deletions: list[Deletion] = field(default_factory=list)
    burst: BurstWindow = field(default_factory=BurstWindow)
    cursors: dict[str, QueryCursor] = field(default_factory=dict)
    inactive_picklist_values: dict[str, set[str]] = field(default_factory=dict)  # picklist -> values
    _counters: dict[str, int] = field(default_factory=dict)
    _last_stamp: datetime | None = None

    def __post_init__(self) -> None:
        if self.schema is None:
            self.schema = schema_for(self.config.flavor)
        self._seed_users()
        self.seed_object_types()

    # ---- registry and clock -------------------------------------------------------------------------
    @property
    def registry(self) -> SchemaRegistry:
        assert self.schema is not None  # set in __post_init__
        return self.schema

    def object_schema(self, name: str) -> ObjectSchema | None:
        return self.registry.get(name)

    def now(self) -> datetime:
        """The clock, made strictly increasing so two writes never share a modified_date__v.

        Writes within the same millisecond get the next free one; a clock set back by more than a second
        (a test or demo rewinding time) is obeyed.
        """
        now = self.clock().astimezone(UTC)
        stamp = now.replace(microsecond=now.microsecond // 1000 * 1000)
        last = self._last_stamp
        if last is not None and last - timedelta(seconds=1) < stamp <= last:
            stamp = last + timedelta(milliseconds=1)
        self._last_stamp = stamp
        return stamp

    def new_id(self, schema: ObjectSchema) -> str | int:
        count = self._counters.get(schema.name, 1000) + 1
        self._counters[schema.name] = count
        if schema.numeric_ids:
            return 10000 + count - 1000
        return f"{schema.prefix}{count:012d}"

    # ---- records --------------------------------------------------------------------------------------
    def table(self, object_name: str) -> dict[str, dict[str, Any]]:
        return self.records.setdefault(object_name, {})

    def get(self, object_name: str, record_id: str | int) -> dict[str, Any] | None:
        return self.records.get(object_name, {}).get(str(record_id))

    def records_of(self, object_name: str) -> list[dict[str, Any]]:
        return list(self.records.get(object_name, {}).values())

    def find(self, object_name: str, field_name: str, value: Any) -> dict[str, Any] | None:
        wanted = str(value)
        for record in self.records.get(object_name, {}).values():
            if record.get(field_name) is not None and str(record[field_name]) == wanted:
                return record
        return None

    def present(self, object_name: str, record: dict[str, Any]) -> dict[str, Any]:
        """A record as the API returns it: every field of the object, unset ones as null."""
        schema = self.object_schema(object_name)
        if schema is None:
            return dict(record)
        out: dict[str, Any] = {}
        for name, f in schema.fields.items():
            value = record.get(name)
            if f.type is FieldType.PICKLIST and value is not None and not self.config.picklists_as_lists:
                value = ",".join(value)
            out[name] = list(value) if isinstance(value, list) else value
        return out

    # ---- picklists: an admin (in)activates values; configuration, so a reset keeps it -------------------
    def picklist_values(self, picklist: str) -> list[dict[str, Any]]:
        """Every value of ``picklist`` with its state; KeyError when no field uses it."""
        uses = self.registry.picklist_fields(picklist)
        if not uses:
            raise KeyError(f"picklist {picklist} does not exist in this vault")
        inactive = self.inactive_picklist_values.get(picklist, set())
        return [{"name": v, "active": v not in inactive} for v in uses[0][1].picklist]

    def set_picklist_value(self, object_name: str, field_name: str, value: str, *, active: bool) -> str:
        """(In)activate ``value`` of the picklist behind a field; activating an unknown value adds it.

        Returns the picklist's name: Vault picklists are shared, so every field using it changes."""
        f = self._schema_of(object_name).field(field_name)
        if f is None or f.type is not FieldType.PICKLIST:
            raise KeyError(f"{object_name} has no picklist field {field_name}")
        picklist, inactive = f.picklist_ref, self.inactive_picklist_values.setdefault(f.picklist_ref, set())
        if active:
            self.registry.add_picklist_value(picklist, value)
            inactive.discard(value)
        elif value not in f.picklist:
            raise KeyError(f"{value} is not a value of picklist {picklist} ({', '.join(f.picklist)})")
        else:
            inactive.add(value)
        return picklist

    # ---- object types: configuration, seeded as object_type__v records (their ids are what records hold)
    def seed_object_types(self) -> None:
        """One object_type__v record per type of every object; idempotent, so an object added to the
        registry later gets its types on the next call."""
        if self.object_schema(OBJECT_TYPE) is None:
            return
        known = {(t["object_name__v"], t["api_name__v"]) for t in self.records_of(OBJECT_TYPE)}
        types = self._schema_of(OBJECT_TYPE)
        stamp = iso_millis(self.now())
        for obj in self.registry:
            for api_name in obj.object_types:
                if (obj.name, api_name) in known:
                    continue
                type_id = self.new_id(types)
                self.table(OBJECT_TYPE)[str(type_id)] = {
                    "id": type_id,
                    "name__v": api_name,
                    "status__v": ["active__v"],
                    "api_name__v": api_name,
                    "object_name__v": obj.name,
                    "type_label__v": api_name.removesuffix("__v").replace("_", " ").title(),
                    "created_date__v": stamp,
                    "modified_date__v": stamp,
                    "created_by__v": 1,
                    "modified_by__v": 1,
                }

    def object_types_of(self, object_name: str) -> list[dict[str, Any]]:
        """The object_type__v records of one object, its default type first."""
        self.seed_object_types()
        order = {n: i for i, n in enumerate(self._schema_of(object_name).object_types)}
        found = [t for t in self.records_of(OBJECT_TYPE) if t["object_name__v"] == object_name]
        return sorted((t for t in found if t["api_name__v"] in order), key=lambda t: order[t["api_name__v"]])

    def object_type_id(self, object_name: str, api_name: str) -> str:
        """The id of an object's type, by API name: what a record's ``object_type__v`` holds."""
        for t in self.object_types_of(object_name):
            if t["api_name__v"] == api_name:
                return str(t["id"])
        raise KeyError(f"{object_name} has no object type {api_name}")

    def object_type_name(self, object_name: str, type_id: Any) -> str | None:
        """The API name of an object's type, by id; None when the id is not one of its types."""
        for t in self.object_types_of(object_name):
            if str(t["id"]) == str(type_id):
                return str(t["api_name__v"])
        return None

    # ---- users and sessions -----------------------------------------------------------------------------
    def _seed_users(self) -> None:
        users = self.object_schema("user__sys")
        if users is None or self.records.get("user__sys"):
            return
        stamp = self.now()
        people = [
            (u, "Integration", "User", f"{u.split('@')[0]}@example.com") for u in self.config.credentials
        ] + [(h.username, h.first_name, h.last_name, h.email) for h in self.config.human_users]
        for username, first, last, mail in people:
            user_id = self.new_id(users)
            self.table("user__sys")[str(user_id)] = {
                "id": user_id,
                "name__v": f"{first} {last}",
                "status__v": ["active__v"],
                "username__sys": username,
                "first_name__sys": first,
                "last_name__sys": last,
                "email__sys": mail,
                "created_date__v": iso_millis(stamp),
                "modified_date__v": iso_millis(stamp),
                "created_by__v": 1,
                "modified_by__v": 1,
            }

    def user_id(self, username: str) -> int | None:
        user = self.find("user__sys", "username__sys", username)
        return int(user["id"]) if user is not None else None

    def human_user_id(self, who: str | int | None = None) -> int:
        """The acting human: a user id or username, or by default the first human user."""
        if who is None:
            who = self.config.human_users[0].username if self.config.human_users else None
        if who is None:
            raise ValueError("no human users are configured")
        user = self.get("user__sys", who) or self.find("user__sys", "username__sys", who)
        if user is None:
            raise ValueError(f"unknown user {who!r}")
        return int(user["id"])

    def login(self, username: str, password: str) -> Session | None:
        expected = self.config.credentials.get(username)
        user_id = self.user_id(username)
        if expected is None or user_id is None or not secrets.compare_digest(expected, password):
            return None
        session = Session(secrets.token_hex(64).upper(), user_id, username, self.clock())
        self.sessions[session.session_id] = session
        return session

    def session(self, session_id: str) -> Session | None:
        """The live session with this id, its idle timer restarted; None when unknown or idle too long."""
        found = self.sessions.get(session_id)
        if found is None:
            return None
        now = self.clock()
        if (now - found.last_used).total_seconds() > self.config.session_idle_timeout_seconds:
            del self.sessions[session_id]
            return None
        found.last_used = now
        return found

    def expire_sessions(self, user_id: int | None = None) -> int:
        """End sessions (all, or one user's) as Vault does on timeout or an admin's forced logout."""
        doomed = [sid for sid, s in self.sessions.items() if user_id is None or s.user_id == user_id]
        for sid in doomed:
            del self.sessions[sid]
        return len(doomed)

    # ---- acting as a person in the vault's UI: these emit events ----------------------------------------
    def user_create(
        self, object_name: str, fields: dict[str, Any], *, as_user: str | int | None = None
    ) -> dict[str, Any]:
        """Create a record as a human would; raises RecordRejected with Vault's errors when invalid."""
        return self._user_write(object_name, dict(fields), WriteMode.CREATE, as_user)

    def user_update(
        self,
        object_name: str,
        record_id: str | int,
        fields: dict[str, Any],
        *,
        as_user: str | int | None = None,
    ) -> dict[str, Any]:
        if self.get(object_name, record_id) is None:
            raise KeyError(f"{object_name} {record_id} does not exist")
        return self._user_write(object_name, {**fields, "id": record_id}, WriteMode.UPDATE, as_user)

    def user_delete(self, object_name: str, record_id: str | int) -> None:
        self._schema_of(object_name)
        check_wiring(self, object_name)
        change = delete_record(self, object_name, record_id)
        if change is None:
            raise KeyError(f"{object_name} {record_id} does not exist")
        announce(self, change, via="user")

    def send_to_vault_clinical(self, call_id: str) -> None:
        """Vault CRM's "Send to Vault Clinical" action on a Call: re-announce it as it stands."""
        call = self.get("call2__v", call_id)
        if call is None:
            raise KeyError(f"call2__v {call_id} does not exist")
        check_wiring(self, "call2__v")
        if not call.get("sent_to_vault_clinical__v"):  # the mark stays, so a lost event can be caught up
            schema = self._schema_of("call2__v")
            write_rows(
                self,
                schema,
                [{"id": call_id, "sent_to_vault_clinical__v": True}],
                WriteMode.UPDATE,
                None,
                self.human_user_id(),
            )
            call = self.get("call2__v", call_id) or call
        send_call_to_vault(self, call)

    def _schema_of(self, object_name: str) -> ObjectSchema:
        schema = self.object_schema(object_name)
        if schema is None:
            raise KeyError(f"object {object_name} does not exist in this vault")
        return schema

    def _user_write(
        self, object_name: str, row: dict[str, Any], mode: WriteMode, as_user: str | int | None
    ) -> dict[str, Any]:
        schema = self._schema_of(object_name)
        check_wiring(self, object_name)
        [result] = write_rows(self, schema, [row], mode, None, self.human_user_id(as_user))
        if result.status == FAILURE:
            raise RecordRejected(result.errors)
        if result.change is not None:
            announce(self, result.change, via="user")
        stored = self.get(object_name, result.record_id or "")
        assert stored is not None
        return self.present(object_name, stored)

    # ---- webhook wiring ----------------------------------------------------------------------------------
    def configure_webhook(
        self,
        url: str | None,
        secret: str | None = None,
        *,
        thin: bool | None = None,
        enabled: bool | None = None,
        connection_id: str | None = None,
        intake: CtmsIntake | None = None,
    ) -> None:
        """Point events at the bridge (its base URL; the path is added per flavor) or, with url None, nowhere."""
        if url and not (secret and is_valid_secret(secret)):
            raise ValueError("a webhook target needs a Standard Webhooks secret ('whsec_' + base64)")
        self.emitter.target = WebhookTarget(url=url, secret=secret or "") if url else None
        if thin is not None:
            self.emitter.thin = thin
        if enabled is not None:
            self.emitter.enabled = enabled
        if connection_id is not None:
            self.config.crm_connection_id = connection_id
        if intake is not None:
            self.ctms_intake = intake

    def reset(self) -> None:
        """Forget all data, sessions, calls, faults and sent events; keep configuration and webhook wiring."""
        self.records.clear()
        self.sessions.clear()
        self.deletions.clear()
        self.cursors.clear()
        self._counters.clear()
        self.calls.clear()
        self.faults.reset()
        self.emitter.log.clear()
        self.burst = BurstWindow()
        self._seed_users()
        self.seed_object_types()

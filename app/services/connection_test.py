"""The connection test: log in to the CRM and the CTMS, and check every object and field the bridge uses.

Read-only: logins and describe/metadata calls. Each check names exactly what is missing (an object, a
field, write access, a picklist value the bridge writes that the CRM does not have active) so an admin
can hand it to the CRM or vault administrator (SPEC.md section 7).
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.clients.crm import CrmGateway, SalesforceGateway, VaultCrmGateway
from app.clients.errors import ClientError
from app.clients.registry import ClientRegistry, build_gateway
from app.clients.vault import VaultClient
from app.config import Settings
from app.crypto import SecretBox
from app.domain.errors import InvalidConfig
from app.domain.mapping.accounts import AccountMatch
from app.domain.names import CrmNames, CtmsNames, Frozen
from app.domain.values import crm_status_for_complete
from app.models import Connection
from app.services.connection_settings import check_crm
from app.services.operator_errors import Invalid


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Link:
    """A reference field the bridge reads through: its relationship name (when the bridge queries by it)
    and the fields it reads on the referenced object, whichever object the platform says that is."""

    field: str
    relationship: str | None
    reads: tuple[str, ...]


@dataclass(frozen=True)
class Target:
    """An object and the fields the bridge writes (``writes``) or only reads (``reads``) on it."""

    object: str
    writes: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()


@dataclass(frozen=True)
class PicklistTarget:
    """A CRM picklist field and each value the bridge may write to it, with the meanings it stands for."""

    object: str
    field: str
    values: Mapping[str, tuple[str, ...]]


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.__dict__ for c in self.checks]}


def _values(model: Frozen, *, without: Iterable[str] = ()) -> tuple[str, ...]:
    """Every name a names model holds (bar ``without``): a field added to the names is checked too."""
    skip = set(without)
    return tuple(dict.fromkeys(v for k, v in model.model_dump().items() if k not in skip))


# Call fields that name a relationship, not a field: checked on the reference field they belong to.
_CALL_RELATIONSHIPS = ("account_relationship", "created_by_relationship")


def crm_targets(names: CrmNames, pair: AccountMatch, sync_studies_and_sites: bool) -> list[Target]:
    """What the bridge touches in one CRM: interactions (F1/F2), studies and sites (F5-F7), calls (F3/F4
    and catch-up: the sent flag, dates, the creator through its relationship), and accounts (matching)."""
    i = names.interaction
    targets = [
        Target(
            i.object,
            writes=(
                i.external_id,
                *_values(
                    i.fields,
                    without=() if sync_studies_and_sites else ("clinical_study", "clinical_site"),
                ),
            ),
        )
    ]
    if sync_studies_and_sites:
        targets += [
            Target(o.object, writes=(o.external_id, *_values(o.fields)))
            for o in (names.clinical_study, names.clinical_site)
        ]
    c = names.call.fields
    creator = Link(c.created_by, c.created_by_relationship, _values(names.user))
    return [
        *targets,
        Target(names.account.object, reads=(names.account.id, pair.crm_account_field)),
        Target(names.call.object, reads=_values(c, without=_CALL_RELATIONSHIPS), links=(creator,)),
    ]


def _by_value(table: Mapping[Any, str]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for meaning, value in table.items():
        out[value] = (*out.get(value, ()), str(meaning))
    return out


def crm_picklists(names: CrmNames, sync_studies_and_sites: bool) -> list[PicklistTarget]:
    """The CRM picklist values the mapping writes (``app.domain.mapping``), overrides included: every
    channel and, for a call's completeness, Planned or Submitted; study/site statuses and phases when the
    connection syncs studies and sites."""
    i, p = names.interaction, names.picklists
    statuses = {
        crm_status_for_complete(done, names): ("complete" if done else "not complete",)
        for done in (True, False)
    }
    targets = [
        PicklistTarget(i.object, i.fields.channel, _by_value(p.channel)),
        PicklistTarget(i.object, i.fields.status, statuses),
    ]
    if sync_studies_and_sites:
        s, t = names.clinical_study, names.clinical_site
        targets += [
            PicklistTarget(s.object, s.fields.status, _by_value(p.study_status)),
            PicklistTarget(s.object, s.fields.phase, _by_value(p.phase)),
            PicklistTarget(t.object, t.fields.status, _by_value(p.site_status)),
        ]
    return targets


# Activity fields the platform or other users fill in; the bridge reads them, never writes them.
_ACTIVITY_READ_ONLY = ("id", "study_person", "created_by", "modified")


def ctms_targets(names: CtmsNames, pair: AccountMatch) -> list[Target]:
    """What the bridge touches in the CTMS: Medical and Clinical Activities (F3/F4, F8/F9), the records
    automated activities come from (it clears their "Activity Update Required" flag), studies and sites
    (F5-F7), users (an activity's "From") and persons (matching)."""
    a = names.activity.fields
    event, log = names.monitoring_event.fields, names.communication_log.fields
    user = names.user
    return [
        Target(
            names.activity.object,
            writes=_values(a, without=_ACTIVITY_READ_ONLY),
            reads=tuple(getattr(a, k) for k in _ACTIVITY_READ_ONLY),
        ),
        Target(names.study.object, reads=_values(names.study.fields)),
        Target(names.site.object, reads=_values(names.site.fields)),
        Target(
            names.monitoring_event.object,
            writes=(event.activity_update_required,),
            reads=_values(event, without=("activity_update_required",)),
        ),
        Target(
            names.communication_log.object,
            writes=(log.activity_update_required,),
            reads=_values(log, without=("activity_update_required",)),
        ),
        Target(user.object, reads=_values(user, without=("object",))),
        Target(names.person.object, reads=(names.person.id, pair.ctms_person_field)),
    ]


def _writable(meta: Mapping[str, Any]) -> bool:
    # Salesforce describes createable/updateable; Vault metadata describes editable.
    if "createable" in meta or "updateable" in meta:
        return bool(meta.get("createable") or meta.get("updateable"))
    return bool(meta.get("editable", True))


def judge(system: str, target: Target, described: Mapping[str, Any] | None) -> Check:
    """Compare one describe/metadata answer with what the bridge needs of that object."""
    name = f"{system}.{target.object}"
    if not described:
        return Check(
            name, False, f"object {target.object} does not exist or is not visible to the integration user"
        )
    fields = {str(f.get("name")): f for f in described.get("fields") or [] if isinstance(f, Mapping)}
    missing = sorted({f for f in (*target.writes, *target.reads) if f not in fields})
    read_only = sorted({f for f in target.writes if f in fields and not _writable(fields[f])})
    problems = []
    if target.writes and described.get("createable") is False:
        problems.append(f"the integration user cannot create {target.object} records")
    if target.writes and described.get("updateable") is False:
        problems.append(f"the integration user cannot edit {target.object} records")
    if missing:
        problems.append(f"missing fields: {', '.join(missing)}")
    if read_only:
        problems.append(f"fields the integration user cannot write: {', '.join(read_only)}")
    if problems:
        return Check(name, False, "; ".join(problems))
    access = "writable" if target.writes else "readable"
    return Check(name, True, f"{len(target.writes) + len(target.reads)} fields present and {access}")


async def _attempt(report: Report, name: str, call: Awaitable[Any], done: str) -> Any | None:
    """Run one call; record a failed check (with the platform's error code) instead of raising."""
    try:
        result = await call
    except ClientError as exc:
        report.checks.append(Check(name, False, f"{exc.code}: {exc.message}"))
        return None
    if done:
        report.checks.append(Check(name, True, done))
    return result


async def _describe_all(
    report: Report, system: str, describe: Any, targets: Iterable[Target]
) -> dict[str, Mapping[str, Any]]:
    """Check each target and the objects it links to; returns the objects described, for the picklists."""
    found: dict[str, Mapping[str, Any]] = {}
    for target in targets:
        try:
            described = await describe(target.object)
        except ClientError as exc:
            report.checks.append(Check(f"{system}.{target.object}", False, f"{exc.code}: {exc.message}"))
            continue
        report.checks.append(judge(system, target, described))
        if described:
            found[target.object] = described
            for link in target.links:
                await _check_link(report, system, target.object, described, link, describe)
    return found


def _reference(meta: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(relationship name, referenced object) of a reference field, in Salesforce's or Vault's words."""
    relationship = meta.get("relationshipName") or meta.get("relationship_name")
    targets = meta.get("referenceTo")
    if isinstance(targets, list) and targets:
        return relationship, str(targets[0])
    referenced = meta.get("object")
    name = referenced.get("name") if isinstance(referenced, Mapping) else None
    return relationship, str(name) if name else None


async def _check_link(
    report: Report, system: str, owner: str, described: Mapping[str, Any], link: Link, describe: Any
) -> None:
    fields = {str(f.get("name")): f for f in described.get("fields") or [] if isinstance(f, Mapping)}
    meta = fields.get(link.field)
    if meta is None:  # the owner's check already names the missing field
        return
    name = f"{system}.{owner}.{link.relationship or link.field}"
    relationship, referenced = _reference(meta)
    if link.relationship and (relationship or "").lower() != link.relationship.lower():
        got = f"is {relationship}" if relationship else "is missing"
        detail = f"the relationship of {link.field} {got}; the bridge reads through {link.relationship}"
        report.checks.append(Check(name, False, detail))
        return
    if not referenced:
        report.checks.append(Check(name, False, f"{link.field} does not reference an object"))
        return
    try:
        target = await describe(referenced)
    except ClientError as exc:
        report.checks.append(Check(name, False, f"{exc.code}: {exc.message}"))
        return
    check = judge(system, Target(referenced, reads=link.reads), target)
    detail = check.detail if check.ok else f"{link.field} references {referenced}: {check.detail}"
    report.checks.append(Check(name, check.ok, detail))


async def _active_values(gateway: CrmGateway, meta: Mapping[str, Any]) -> set[str] | None:
    """The field's active picklist values, or None when it is not a picklist field."""
    if meta.get("type") == "picklist":  # Salesforce: describe lists the active values
        entries = meta.get("picklistValues") or []
        return {str(e.get("value")) for e in entries if isinstance(e, Mapping) and e.get("active", True)}
    if meta.get("type") == "Picklist" and meta.get("picklist") and isinstance(gateway, VaultCrmGateway):
        # Vault: the field names a (shared) picklist; Retrieve Picklist Values gives its active values
        return set(await gateway.client.picklist_values(str(meta["picklist"])))
    return None


async def _check_picklists(
    report: Report, gateway: CrmGateway, targets: Iterable[PicklistTarget], described: Mapping[str, Any]
) -> None:
    for target in targets:
        fields = {
            str(f.get("name")): f
            for f in (described.get(target.object) or {}).get("fields") or []
            if isinstance(f, Mapping)
        }
        meta = fields.get(target.field)
        if meta is None:  # the object or field check already names it
            continue
        name = f"crm.{target.object}.{target.field}"
        try:
            active = await _active_values(gateway, meta)
        except ClientError as exc:
            report.checks.append(Check(name, False, f"{exc.code}: {exc.message}"))
            continue
        if active is None:
            continue
        missing = [v for v in target.values if v not in active]
        if not missing:
            report.checks.append(
                Check(name, True, f"{len(target.values)} picklist values the bridge writes are active")
            )
            continue
        listed = ", ".join(f"{v} (for {' / '.join(target.values[v])})" for v in missing)
        report.checks.append(
            Check(
                name,
                False,
                f"picklist values the bridge writes that are missing or inactive in the CRM: {listed}; "
                "activate them in the CRM, or map those meanings to active values in the connection's "
                "object_names.picklists",
            )
        )


async def _login_crm(gateway: CrmGateway) -> str:
    if isinstance(gateway, SalesforceGateway | VaultCrmGateway):
        await gateway.client.login()
        return "logged in"
    raise ClientError("UNKNOWN_PLATFORM", "no login for this kind of CRM")


async def run(
    http: httpx.AsyncClient,
    settings: Settings,
    connection: Connection,
    pair: AccountMatch,
    ctms_names: CtmsNames | None = None,
) -> Report:
    """``ctms_names``: the CTMS names in force (the settings' overrides), default the defaults."""
    report = Report()
    try:
        names = CrmNames.with_overrides(
            "vault" if connection.platform == "vault" else "salesforce", connection.object_names
        )
    except InvalidConfig as exc:
        report.checks.append(Check("crm.object_names", False, exc.message))
        return report
    try:
        gateway = build_gateway(http, settings, connection)
    except ClientError as exc:
        report.checks.append(Check("crm.configured", False, f"{exc.code}: {exc.message}"))
        return report
    stale = _stored_settings_problem(settings, connection)
    if stale:  # e.g. client credentials at login.salesforce.com, saved before it was refused
        report.checks.append(Check("crm.configured", False, stale))
    elif await _attempt(report, "crm.login", _login_crm(gateway), "logged in") is not None:
        sync = connection.sync_studies_and_sites
        described = await _describe_all(report, "crm", gateway.describe, crm_targets(names, pair, sync))
        await _check_picklists(report, gateway, crm_picklists(names, sync), described)
    ctms: VaultClient | None = await _attempt(report, "ctms.configured", _ctms_client(http, settings), "")
    if ctms is not None and await _attempt(report, "ctms.login", ctms.login(), "logged in") is not None:
        await _describe_all(
            report, "ctms", ctms.describe, ctms_targets(ctms_names or CtmsNames.defaults(), pair)
        )
    return report


def _stored_settings_problem(settings: Settings, connection: Connection) -> str | None:
    """The stored settings checked by today's rules, so a connection saved under older ones is named."""
    stored = {
        **connection.crm,
        **(SecretBox(settings.encryption_key).open(connection.secrets_encrypted) or {}),
    }
    try:
        check_crm(connection.platform, stored)
    except Invalid as exc:
        where = "; ".join(f"{key}: {why}" for key, why in exc.problems)
        return f"{exc.code}: {exc.message}" + (f" ({where})" if where else "")
    return None


async def _ctms_client(http: httpx.AsyncClient, settings: Settings) -> VaultClient:
    return ClientRegistry(http, settings).ctms()

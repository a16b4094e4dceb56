"""HTML form fields to operator API bodies for connections, and back (secrets never go back)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

CRM_FIELDS = {
    "salesforce": (
        ("login_url", False),
        ("auth", False),
        ("client_id", False),
        ("client_secret", True),
        ("username", False),
        ("private_key", True),
        ("audience", False),
        ("api_version", False),
    ),
    "vault": (
        ("vault_url", False),
        ("username", False),
        ("password", True),
        ("vault_id", False),
        ("api_version", False),
    ),
}


# Sent only when filled in: the API's default applies otherwise (and a Salesforce connection's sign-in
# flow decides which of username/audience it needs).
_OPTIONAL_ON_CREATE = frozenset(
    {("salesforce", "api_version"), ("vault", "api_version")}
    | {("salesforce", k) for k in ("auth", "username", "audience")}
)


@dataclass
class ConnectionForm:
    """What the operator typed, kept to show the form again with the errors next to it."""

    values: dict[str, Any]
    errors: list[str] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _json_object(text: str, name: str, errors: list[str]) -> dict[str, Any] | None:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        errors.append(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})")
        return None
    if not isinstance(value, dict):
        errors.append(f"{name}: must be a JSON object")
        return None
    return value


def parse(form: FormData, *, creating: bool) -> ConnectionForm:
    """The API body for a create (every field) or an edit (secrets only when typed: blank keeps them)."""
    platform = _text(form, "platform") or "salesforce"
    values: dict[str, Any] = {k: _text(form, k) for k in form if k != "csrf_token"}
    values["platform"] = platform
    parsed = ConnectionForm(values)
    if platform not in CRM_FIELDS:
        parsed.errors.append("platform: choose salesforce or vault")
        return parsed
    crm: dict[str, Any] = {}
    for name, secret in CRM_FIELDS[platform]:
        value = _text(form, f"crm_{name}")
        if value or (creating and not secret and (platform, name) not in _OPTIONAL_ON_CREATE):
            crm[name] = value
        if secret:
            values.pop(f"crm_{name}", None)  # never echo a secret back into the page
    person, account = _text(form, "ctms_person_field"), _text(form, "crm_account_field")
    if bool(person) != bool(account):
        parsed.errors.append("account identifier: give both fields, or neither to use the global pair")
    object_names = _json_object(_text(form, "object_names"), "object names", parsed.errors)
    body: dict[str, Any] = {
        "name": _text(form, "name"),
        "crm": crm,
        "account_match": {"ctms_person_field": person, "crm_account_field": account} if person else None,
        "sync_studies_and_sites": form.get("sync_studies_and_sites") == "on",
        "object_names": object_names or {},
    }
    webhook_secret = _text(form, "webhook_secret")
    values.pop("webhook_secret", None)
    if creating:
        body["platform"] = platform
        body["active"] = form.get("active") == "on"
        body["webhook_secret"] = webhook_secret or None
    elif webhook_secret:
        body["webhook_secret"] = webhook_secret
    parsed.body = body
    return parsed


def values_of(connection: dict[str, Any]) -> dict[str, Any]:
    """The edit form's values for a stored connection (the API never returns secrets)."""
    match = connection.get("account_match") or {}
    values: dict[str, Any] = {
        "name": connection["name"],
        "platform": connection["platform"],
        "ctms_person_field": match.get("ctms_person_field", ""),
        "crm_account_field": match.get("crm_account_field", ""),
        "sync_studies_and_sites": "on" if connection.get("sync_studies_and_sites") else "",
        "object_names": json.dumps(connection.get("object_names") or {}, indent=2)
        if connection.get("object_names")
        else "",
    }
    for name, _secret in CRM_FIELDS.get(connection["platform"], ()):
        values[f"crm_{name}"] = (connection.get("crm") or {}).get(name, "")
    return values

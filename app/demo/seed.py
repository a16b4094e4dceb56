"""A small, realistic world in the simulators, so a newcomer has data to look at (``bridge simulators
--seed``): two studies with their countries and sites, three HCPs who are CTMS persons and accounts in
both CRM orgs (matched by the shared identifier), a few Clinical Activities and one CRM call.

Everything goes through the simulators' ``/_sim`` routes, as a person's actions would, so the records are
validated like any other and, when a simulator's webhook is wired, announced to the bridge. The first
record of each kind is the example the simulator's docs show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from app.simulators.salesforce.guide import EXAMPLES as SALESFORCE_EXAMPLES
from app.simulators.vault.guide import EXAMPLES as VAULT_EXAMPLES

CTMS, CRM = VAULT_EXAMPLES["ctms"], VAULT_EXAMPLES["crm"]

STUDIES = [
    CTMS["study__v"],
    {
        "name__v": "VVT485-205",
        "external_id__v": "VVT485-205",
        "phase__v": "phase_2__v",
        "study_status__v": "enrolling__v",
    },
]
COUNTRIES = [("VVT485-301", "Germany"), ("VVT485-301", "Spain"), ("VVT485-205", "Germany")]
SITES = [
    (CTMS["site__v"], "Germany"),
    (
        {"name__v": "Site 102 Madrid", "external_id__v": "SITE-102", "study__vr.external_id__v": "VVT485-301",
         "country__v": "Spain", "site_status__v": "active__v"},
        "Spain",
    ),
    (
        {"name__v": "Site 201 Munich", "external_id__v": "SITE-201", "study__vr.external_id__v": "VVT485-205",
         "country__v": "Germany", "site_status__v": "planned__v"},
        "Germany",
    ),
]  # fmt: skip
PEOPLE = [
    CTMS["person__sys"],
    {"first_name__sys": "Jonas", "last_name__sys": "Weber", "email__sys": "jonas.weber@example.com", "external_id__v": "HCP-1002"},
    {"first_name__sys": "Lucia", "last_name__sys": "Ortega", "email__sys": "lucia.ortega@example.com", "external_id__v": "HCP-1003"},
]  # fmt: skip
ACTIVITIES = [
    CTMS["crm_activity__v"],
    {**CTMS["crm_activity__v"], "person__vr.external_id__v": "HCP-1002", "site__vr.external_id__v": "SITE-102",
     "activity_date__v": "2026-11-20", "channel__v": "phone__v", "complete__v": False,
     "subject__v": "Site initiation follow-up"},
    {**CTMS["crm_activity__v"], "person__vr.external_id__v": "HCP-1003", "study__vr.external_id__v": "VVT485-205",
     "site__vr.external_id__v": "SITE-201", "activity_date__v": "2026-11-21", "channel__v": "email__v",
     "subject__v": "Enrolment criteria"},
]  # fmt: skip


@dataclass
class Seeded:
    """What was made, as ``(system, object, id, what)`` lines, and the CRM call a person can send."""

    lines: list[tuple[str, str, str, str]] = field(default_factory=list)
    call_id: str = ""

    def add(self, system: str, object_name: str, record: dict[str, Any], what: str) -> None:
        self.lines.append((system, object_name, str(record.get("id") or record.get("Id")), what))


def sim_call(http: httpx.Client, method: str, url: str, body: Any = None) -> Any:
    """One request to a simulator's control routes; a refusal raises with the simulator's answer."""
    response = http.request(method, url, json=body)
    if response.status_code >= 400:
        raise RuntimeError(f"{method} {url}: {response.status_code} {response.text[:300]}")
    return response.json() if response.content else None


def seed_world(http: httpx.Client, ctms_url: str, crm_url: str, vault_crm_url: str | None = None) -> Seeded:
    """Create the world in the CTMS vault, the Salesforce org and (if given) the Vault CRM org."""
    seeded = Seeded()

    def ctms(object_name: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        record: dict[str, Any] = sim_call(http, "POST", f"{ctms_url}/_sim/records/{object_name}", body)
        seeded.add("CTMS", object_name, record, what)
        return record

    studies = {s["external_id__v"]: ctms("study__v", s, f"{s['name__v']} ({s['phase__v']})") for s in STUDIES}
    countries = {
        (study, country): ctms(
            "study_country__v",
            {"name__v": country, "study__v": studies[study]["id"], "country__v": country},
            f"{country} in {study}",
        )
        for study, country in COUNTRIES
    }
    for site, country in SITES:
        study = site["study__vr.external_id__v"]
        body = {**site, "study_country__v": countries[(study, country)]["id"]}
        ctms("site__v", body, f"{site['name__v']} ({study})")
    for person in PEOPLE:
        name = f"{person['first_name__sys']} {person['last_name__sys']}"
        ctms("person__sys", person, f"{name}, identifier {person['external_id__v']}")
        account = {"FirstName": person["first_name__sys"], "LastName": person["last_name__sys"],
                   "PersonEmail": person["email__sys"], "External_ID_vod__c": person["external_id__v"]}  # fmt: skip
        made = sim_call(http, "POST", f"{crm_url}/_sim/records/Account", account)
        seeded.add(
            "Salesforce CRM", "Account", made, f"{name}, External_ID_vod__c {person['external_id__v']}"
        )
        if vault_crm_url:
            account = {**CRM["account__v"], "first_name__v": person["first_name__sys"],
                       "last_name__v": person["last_name__sys"], "external_id__v": person["external_id__v"]}  # fmt: skip
            made = sim_call(http, "POST", f"{vault_crm_url}/_sim/records/account__v", account)
            seeded.add("Vault CRM", "account__v", made, f"{name}, external_id__v {person['external_id__v']}")
    for activity in ACTIVITIES:
        what = f"{activity['subject__v']!r} with {activity['person__vr.external_id__v']}"
        ctms("crm_activity__v", activity, f"Clinical Activity {what}")
    call = sim_call(http, "POST", f"{crm_url}/_sim/records/Call2_vod__c", SALESFORCE_EXAMPLES["Call2_vod__c"])
    seeded.add(
        "Salesforce CRM", "Call2_vod__c", call, "Safety follow-up with HCP-1001 (not yet sent to Vault)"
    )
    seeded.call_id = str(call["Id"])
    return seeded

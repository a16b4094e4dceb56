"""The demo's story: every flow of SPEC.md section 2, each shown as it happens on both sides, including a
failure that lands in dead letters and is replayed once the CRM admin fixes the cause."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from app.demo.world import CLIENT_ID, DemoWorld, wait_for

CHANNELS = "Call_Channel_vod__c"
INTERACTION = "Vault_Clinical_Interaction_vod__c"


def _value(v: Any) -> Any:
    return v[0] if isinstance(v, list) and len(v) == 1 else v


class Demo:
    def __init__(self, world: DemoWorld, console: Console) -> None:
        self.w = world
        self.say = console.print
        self.console = console

    # -- both sides ---------------------------------------------------------------------------------------
    def activities(self) -> list[dict[str, Any]]:
        return list(self.w.vault.records_of("crm_activity__v"))

    def kind(self, activity: dict[str, Any]) -> str | None:
        """An activity's type by name: the vault stores the type's id."""
        return self.w.vault.object_type_name("crm_activity__v", activity.get("object_type__v"))

    def crm(self, object_name: str) -> list[dict[str, Any]]:
        return list(self.w.crm.list_records(object_name))

    def step(self, title: str) -> None:
        self.say(f"\n[bold cyan]▶ {title}[/]")

    def run(self) -> bool:
        self.connect()
        person_id = self.seed()
        study_id, site_id = self.studies_and_sites()
        activity_id = self.clinical_activity(person_id, study_id, site_id)
        call_id = self.call_sent_to_vault()
        self.deletions(activity_id, site_id, call_id)
        self.automation(person_id, study_id)
        self.failure_and_replay(person_id, study_id)
        return self.report()

    # -- the steps ----------------------------------------------------------------------------------------
    def connect(self) -> None:
        self.step("An admin connects the bridge to the CRM org (operator API)")
        created = self.w.api(
            "POST",
            "/api/v1/connections",
            {
                "name": "Simulated EU Medical CRM",
                "platform": "salesforce",
                "crm": {
                    "login_url": self.w.crm_url,
                    "client_id": CLIENT_ID,
                    "client_secret": self.w.client_secret,
                    "api_version": "v62.0",
                },
                "sync_studies_and_sites": True,
            },
        )
        self.connection_id = created["id"]
        self.w.api("POST", f"/api/v1/connections/{self.connection_id}/activate")
        if self.w.crm_intake == "poll":
            self.say(
                f"  connection {self.connection_id} active; the CRM sends nothing: the Transfer job polls it"
            )
            return
        if self.w.crm_intake == "outbound-messages":
            [*_, path] = self.w.api("GET", f"/api/v1/connections/{self.connection_id}/outbound-message-urls")[
                "paths"
            ]
            self.w.crm_user("PUT", "/outbound-messages", {"url": self.w.bridge_url + path})
            self.say(
                f"  connection {self.connection_id} active; the CRM sends Outbound Messages to "
                f"{path.rsplit('/', 1)[0]}/<token>"
            )
            return
        self.w.crm_user(
            "PUT",
            "/webhook",
            {
                "url": self.w.bridge_url,
                "secret": created["webhook_secret"],
                "connection_id": self.connection_id,
            },
        )
        self.say(
            f"  connection {self.connection_id} active; the CRM signs its events with the generated secret"
        )

    def seed(self) -> str:
        self.step("The same HCP exists on both sides, with a shared identifier")
        person = self.w.ctms(
            "POST",
            "/records/person__sys",
            {"first_name__sys": "Rosa", "last_name__sys": "Lind", "external_id__v": "HCP-1001"},
        )
        self.account_id = self.w.crm_user(
            "POST", "/records/Account", {"Name": "Dr Rosa Lind", "External_ID_vod__c": "HCP-1001"}
        )["Id"]
        self.say(f"  CTMS person {person['id']}  ↔  CRM account {self.account_id}  (External ID HCP-1001)")
        return str(person["id"])

    def studies_and_sites(self) -> tuple[str, str]:
        self.step("F5/F6: a Study and a Study Site are created in the CTMS")
        study = self.w.ctms(
            "POST",
            "/records/study__v",
            {"name__v": "VVT485-301", "phase__v": "phase_3__v", "study_status__v": "active__v"},
        )
        site = self.w.ctms(
            "POST", "/records/site__v", {"name__v": "Site 101 Berlin", "study__v": study["id"]}
        )
        self.catch_up()
        wait_for(
            "the Clinical Site in the CRM",
            lambda: self.crm("Clinical_Site_vod__c"),
            lambda rows: len(rows) == 1,
        )
        [clinical_study] = self.crm("Clinical_Study_vod__c")
        self.say(
            f"  CRM now has Clinical Study {clinical_study['Name']!r} ({clinical_study['Phase_vod__c']}, {clinical_study['Status_vod__c']}) and Clinical Site {self.crm('Clinical_Site_vod__c')[0]['Name']!r}"
        )
        return str(study["id"]), str(site["id"])

    def clinical_activity(self, person_id: str, study_id: str, site_id: str) -> str:
        self.step("F1: a Clinical Activity is logged in the CTMS")
        activity = self.w.ctms(
            "POST",
            "/records/crm_activity__v",
            {
                "object_type__v.api_name__v": "clinical_activity__v",
                "person__v": person_id,
                "study__v": study_id,
                "site__v": site_id,
                "activity_date__v": "2026-11-19",
                "channel__v": "video__v",
                "complete__v": True,
                "subject__v": "Protocol Q&A",
            },
        )
        self.catch_up()
        [row] = wait_for(
            "the interaction in the CRM", lambda: self.crm(INTERACTION), lambda rows: len(rows) == 1
        )
        self.say(
            f"  CRM Vault Clinical Interaction: {row['Subject_vod__c']!r}, {row[CHANNELS]}, {row['Status_vod__c']}, from {row['From_vod__c']!r}"
        )
        return str(activity["id"])

    def call_sent_to_vault(self) -> str:
        self.step("F3: a CRM user sends a call to Vault Clinical")
        call = self.w.crm_user(
            "POST",
            "/records/Call2_vod__c",
            {
                "Account_vod__c": self.account_id,
                "Call_Date_vod__c": "2026-11-18",
                CHANNELS: "Phone_vod",
                "Status_vod__c": "Submitted_vod",
                "Subject_vod__c": "Safety follow-up",
            },
        )
        self.w.crm_user("POST", f"/calls/{call['Id']}/send-to-vault")
        self.catch_up()
        med = wait_for(
            "the Medical Activity",
            lambda: [a for a in self.activities() if self.kind(a) == "medical_activity__v"],
            lambda rows: len(rows) == 1,
        )[0]
        self.say(
            f"  CTMS Medical Activity {med['id']}: {med['subject__v']!r}, {_value(med['channel__v'])}, complete={med['complete__v']}"
        )
        self.catch_up()
        self.say(
            "  F9: the vault announced that Medical Activity back to the bridge, which ignored its own write"
            if not self.w.ctms_poll
            else "  F9: the next run read that Medical Activity too, and the bridge ignored its own write"
        )
        return str(call["Id"])

    def deletions(self, activity_id: str, site_id: str, call_id: str) -> None:
        self.step("F2/F7: the activity and the site are deleted in the CTMS")
        self.w.ctms("DELETE", f"/records/crm_activity__v/{activity_id}")
        self.w.ctms("DELETE", f"/records/site__v/{site_id}")
        self.catch_up()
        row = wait_for(
            "the Deleted mark",
            lambda: self.crm(INTERACTION)[0],
            lambda r: str(r["Subject_vod__c"]).endswith("Deleted"),
        )
        site = wait_for(
            "the site status",
            lambda: self.crm("Clinical_Site_vod__c")[0],
            lambda r: r["Status_vod__c"] == "Deleted_in_Vault_Clinical_vod",
        )
        self.say(
            f"  CRM interaction subject: {row['Subject_vod__c']!r}; Clinical Site status: {site['Status_vod__c']}"
        )

        self.step(
            "F4: the call is deleted in the CRM; the next Transfer job run inactivates the Medical Activity"
        )
        self.w.crm_user("DELETE", f"/records/Call2_vod__c/{call_id}")
        if self.w.crm_intake != "webhooks":
            self.say(
                "  nothing announces the deletion: the Transfer job finds it in the org's deleted/ feed, "
                "which reports whole minutes; waiting for the next minute"
            )
            time.sleep(61 - datetime.now(UTC).second)
        else:
            wait_for(
                "the deletion to be queued",
                lambda: self.w.api("GET", "/api/v1/deliveries?status=awaiting_transfer")["items"],
                bool,
            )
            self.say(
                "  the deletion waits for the Transfer job, as the product has always done; running it now"
            )
        run = self.transfer()

        def medical() -> dict[str, Any]:
            return next(a for a in self.activities() if self.kind(a) == "medical_activity__v")

        med = wait_for(
            "the Medical Activity to be inactive", medical, lambda m: _value(m["status__v"]) == "inactive__v"
        )
        self.say(
            f"  Transfer run {run['id']} {run['status']}; Medical Activity status: {_value(med['status__v'])}"
        )

    def automation(self, person_id: str, study_id: str) -> None:
        self.step("F8: with automation on, a Monitoring Event creates its Clinical Activity")
        self.w.api("PUT", "/api/v1/settings", {"automate_monitoring_events": True})
        before = len(self.crm(INTERACTION))
        event = self.w.ctms(
            "POST",
            "/records/monitoring_event__v",
            {
                "name__v": "Interim monitoring visit",
                "person__v": person_id,
                "study__v": study_id,
                "monitoring_visit_method__v": "on_site__v",
                "planned_visit_start_date__v": "2026-12-01",
            },
        )
        self.catch_up()  # poll only: this run creates the activity, the next carries it to the CRM (F1)
        self.catch_up()
        wait_for(
            "the automated activity to reach the CRM",
            lambda: self.crm(INTERACTION),
            lambda rows: len(rows) == before + 1,
        )
        self.say(
            f"  CTMS activity keyed by monitoring event {event['id']} created, and sent to the CRM by F1"
        )

    def failure_and_replay(self, person_id: str, study_id: str) -> None:
        self.step("A failure: the CRM org has not enabled the Chat/Text channel")
        # The simulator's fault switch, as a person would use it: DELETE /_sim/picklists/{object}/{field}/{value}
        switch = f"/picklists/{INTERACTION}/{CHANNELS}/Message_vod"
        self.w.crm_user("DELETE", switch)
        self.say(f"  (simulated by: DELETE {self.w.crm_url}/_sim{switch})")
        self.w.ctms(
            "POST",
            "/records/crm_activity__v",
            {
                "object_type__v.api_name__v": "clinical_activity__v",
                "person__v": person_id,
                "study__v": study_id,
                "activity_date__v": "2026-11-21",
                "channel__v": "chat_text__v",
                "complete__v": False,
                "subject__v": "Enrolment question",
            },
        )
        self.catch_up()
        [dead] = wait_for(
            "the dead letter",
            lambda: self.w.api("GET", "/api/v1/deliveries?status=dead")["items"],
            lambda rows: len(rows) == 1,
        )
        self.say(
            f"  delivery {dead['id']} is a dead letter: {dead['last_error_code']} — {str(dead['last_error'])[:90]}"
        )
        self.step("The CRM admin enables the value; an operator replays the dead letter")
        self.w.crm_user("PUT", switch)
        self.w.api("POST", f"/api/v1/deliveries/{dead['id']}/replay")
        done = wait_for(
            "the replay",
            lambda: self.w.api("GET", f"/api/v1/deliveries/{dead['id']}"),
            lambda d: d["status"] != "pending" and d["status"] != "in_flight",
        )
        self.say(f"  delivery {dead['id']} after replay: {done['status']}")

    def catch_up(self) -> None:
        """Poll only: start the Transfer run that would otherwise come on its schedule, and wait for it."""
        if self.w.polls:
            run = self.transfer()
            self.say(f"  (poll only: Transfer run {run['id']} {run['status']} looked for changes)")

    def transfer(self) -> dict[str, Any]:
        started = self.w.api("POST", "/api/v1/transfer-runs")
        return dict(
            wait_for(
                "the Transfer run",
                lambda: self.w.api("GET", f"/api/v1/transfer-runs/{started['id']}"),
                lambda r: r["status"] not in ("queued", "running"),
                timeout=120,
            )
        )

    # -- the end ------------------------------------------------------------------------------------------
    def report(self) -> bool:
        self.step("Both sides now")
        ctms = Table(
            "CTMS activity", "type", "subject", "channel", "status", title="CTMS vault (crm_activity__v)"
        )
        for a in self.activities():
            ctms.add_row(
                str(a["id"]),
                str(self.kind(a)),
                str(a.get("subject__v")),
                str(_value(a.get("channel__v"))),
                str(_value(a.get("status__v"))),
            )
        crm = Table(
            "Vault activity id", "subject", "channel", "status", title="CRM (Vault Clinical Interactions)"
        )
        for i in self.crm(INTERACTION):
            crm.add_row(
                str(i["Vault_Activity_ID_vod__c"]),
                str(i["Subject_vod__c"]),
                str(i[CHANNELS]),
                str(i["Status_vod__c"]),
            )
        self.console.print(ctms, crm)
        clinical = {a["id"] for a in self.activities() if self.kind(a) == "clinical_activity__v"}
        mirrored = {i["Vault_Activity_ID_vod__c"] for i in self.crm(INTERACTION)}
        deleted = {
            i["Vault_Activity_ID_vod__c"]
            for i in self.crm(INTERACTION)
            if str(i["Subject_vod__c"]).endswith("Deleted")
        }
        open_ = self.w.api("GET", "/api/v1/deliveries?status=dead&status=pending&status=in_flight")["items"]
        consistent = clinical <= mirrored and (mirrored - clinical) <= deleted and not open_
        self.say(
            "\n[bold green]✔ both sides are consistent[/]"
            if consistent
            else "\n[bold red]✘ the two sides disagree[/]"
        )
        return consistent

"""Global settings: defaults, partial changes, checked identifier names, cache invalidation, audit."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.operator.conftest import Api, connection_body, problem
from tests.api.operator.test_connections import add_matches, matches_of


async def test_settings_start_at_the_defaults_and_change_field_by_field(api: Api) -> None:
    shown = (await api.get("/api/v1/settings", role="viewer")).json()
    assert shown["ctms_person_field"] == "external_id__v"
    assert shown["crm_account_field"] == "External_ID_vod__c"
    assert (shown["automate_monitoring_events"], shown["retry_horizon_seconds"]) == (False, 259200)
    changed = await api.put(
        "/api/v1/settings", {"automate_monitoring_events": True, "retry_horizon_seconds": 3600}
    )
    assert changed.status_code == 200, changed.text
    after = (await api.get("/api/v1/settings", role="viewer")).json()
    assert (after["automate_monitoring_events"], after["retry_horizon_seconds"]) == (True, 3600)
    assert after["unmatched_max_age_seconds"] == shown["unmatched_max_age_seconds"]
    [entry] = (await api.get("/api/v1/audit-log", params={"action": "settings.update"})).json()["items"]
    assert (entry["before"]["retry_horizon_seconds"], entry["after"]["retry_horizon_seconds"]) == (
        259200,
        3600,
    )
    await api.put("/api/v1/settings", {"retry_horizon_seconds": 3600})  # no change: nothing audited
    assert (
        len((await api.get("/api/v1/audit-log", params={"action": "settings.update"})).json()["items"]) == 1
    )


async def test_bad_values_are_refused(api: Api) -> None:
    body = problem(
        await api.put("/api/v1/settings", {"crm_account_field": "External ID"}), 422, "INVALID_ACCOUNT_MATCH"
    )
    assert ["settings", "crm_account_field"] in [e["loc"] for e in body["errors"]]
    problem(await api.put("/api/v1/settings", {"retry_horizon_seconds": 0}), 422, "VALIDATION_FAILED")
    problem(await api.put("/api/v1/settings", {"retries": 3}), 422, "VALIDATION_FAILED")
    assert (await api.get("/api/v1/settings")).json()["crm_account_field"] == "External_ID_vod__c"


async def test_a_new_global_identifier_forgets_matches_of_connections_that_use_it(
    api: Api, clean_db: AsyncEngine
) -> None:
    uses_global = (await api.post("/api/v1/connections", connection_body())).json()["id"]
    own_pair = {"ctms_person_field": "npi__c", "crm_account_field": "NPI_vod__c"}
    has_own = (await api.post("/api/v1/connections", connection_body(account_match=own_pair))).json()["id"]
    await add_matches(clean_db, uses_global, has_own)
    await api.put("/api/v1/settings", {"retry_horizon_seconds": 7200})
    assert await matches_of(clean_db, uses_global) == 1  # the identifier did not change
    await api.put("/api/v1/settings", {"crm_account_field": "Customer_ID__c"})
    assert (await matches_of(clean_db, uses_global), await matches_of(clean_db, has_own)) == (0, 1)
    [entry] = (await api.get("/api/v1/audit-log", params={"action": "settings.update"})).json()["items"][:1]
    assert entry["after"]["account_matches_forgotten"] == 1


async def test_ctms_names_are_overridden_through_the_settings_and_checked(api: Api) -> None:
    defaults = (await api.get("/api/v1/settings/ctms-names", role="viewer")).json()
    assert defaults["activity"]["object"] == "crm_activity__v"
    assert defaults["picklists"]["phase"]["phase_2__v"] == "phase_2"
    overrides = {
        "activity": {"object": "clinical_interaction__c"},
        "picklists": {"phase": {"phase_2a__c": "phase_2", "phase_2b__c": "phase_2", "phase_3__v": "phase_3"}},
    }
    changed = await api.put("/api/v1/settings", {"ctms_names": overrides})
    assert changed.status_code == 200, changed.text
    assert changed.json()["ctms_names"] == overrides
    in_force = (await api.get("/api/v1/settings/ctms-names")).json()
    assert in_force["activity"]["object"] == "clinical_interaction__c"
    assert in_force["activity"]["fields"] == defaults["activity"]["fields"]  # the rest keeps its defaults
    assert (
        in_force["picklists"]["phase"] == overrides["picklists"]["phase"]
    )  # a lookup table is replaced whole

    body = problem(
        await api.put("/api/v1/settings", {"ctms_names": {"activity": {"object": "Clinical Activity"}}}),
        422,
        "INVALID_OBJECT_NAMES",
    )
    assert body["errors"]
    problem(
        await api.put("/api/v1/settings", {"ctms_names": {"no_such_object": {}}}), 422, "INVALID_OBJECT_NAMES"
    )
    assert (await api.get("/api/v1/settings/ctms-names")).json()["activity"][
        "object"
    ] == "clinical_interaction__c"
    reset = await api.put("/api/v1/settings", {"ctms_names": {}})
    assert reset.json()["ctms_names"] == {}
    assert (await api.get("/api/v1/settings/ctms-names")).json() == defaults

"""Issue 16 with real workers, through the operator API: load a world that existed before the connection,
edit, delete and add records by hand on both sides (the bridge hears nothing), reconcile: every drift made
is reported and nothing else; a dry run, then the repair; after it a second run reports zero drift."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx

from tests.e2e.conftest import deployment
from tests.e2e.harness import account, activity, interactions, person, simulated_world, site, study
from tests.processes import eventually

KEY = "e2e-reconcile-admin-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
INTERACTION = "Vault_Clinical_Interaction_vod__c"


async def finished(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        answer = await client.get(path, headers=AUTH)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    return await eventually(read, lambda b: b["status"] not in ("queued", "running"), timeout=120)


async def reconcile(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, set[str]]]:
    started = await client.post("/api/v1/reconciliations", headers=AUTH)
    assert started.status_code == 202, started.text
    run = await finished(client, f"/api/v1/reconciliations/{started.json()['id']}")
    assert run["status"] == "succeeded", run["errors"]
    drifts = (
        await client.get(f"/api/v1/reconciliations/{run['id']}/drifts", headers=AUTH, params={"limit": 500})
    ).json()
    found: dict[str, set[str]] = defaultdict(set)
    for drift in drifts["items"]:
        found[drift["kind"]].add(drift["source_id"])
    return run, dict(found)


async def test_reconcile_and_repair_through_the_api_with_real_workers(
    clean_db: Any, pg_url: str, redis_url: str
) -> None:
    with simulated_world() as world:
        org, vault = world.orgs[0], world.vault
        person_id = person(vault, "HCP-1")
        account(org, "HCP-1")
        study_id = study(vault)
        site_id = site(vault, study_id)
        acts = [
            activity(vault, person_id, study_id, site__v=site_id, subject__v=f"visit {n}")["id"]
            for n in range(20)
        ]
        await world.connect(clean_db, org)
        env = {"BRIDGE_ADMIN_API_KEY": KEY, "BRIDGE_TRANSFER_INTERVAL_SECONDS": "3600"}
        async with (
            deployment(world, clean_db, pg_url, redis_url, **env),
            httpx.AsyncClient(base_url=world.bridge_url) as client,
        ):
            load = await client.post("/api/v1/initial-loads", headers=AUTH, json={})
            assert load.status_code == 202, load.text
            assert (await finished(client, f"/api/v1/initial-loads/{load.json()['id']}"))[
                "status"
            ] == "succeeded"
            await eventually(lambda: _count(org), lambda n: n == 20, timeout=60)

            vault.emitter.enabled = False  # from here on, changes are made behind the bridge's back
            crm = {r["Vault_Activity_ID_vod__c"]: r for r in interactions(org)}
            org.state.update_record(INTERACTION, crm[acts[0]]["Id"], {"Subject_vod__c": "edited in the CRM"})
            org.state.delete_record(INTERACTION, crm[acts[1]]["Id"])
            stray_fields = {
                k: v for k, v in crm[acts[9]].items() if k.endswith("__c") and k != "Vault_Activity_ID_vod__c"
            }
            stray = org.state.create_record(
                INTERACTION, {**stray_fields, "Vault_Activity_ID_vod__c": "V6ASTRAY00000001"}
            )
            vault.user_update("crm_activity__v", acts[2], {"subject__v": "edited in the CTMS"})
            vault.user_delete("crm_activity__v", acts[3])
            added = activity(vault, person_id, study_id, subject__v="added in the CTMS")["id"]

            run, found = await reconcile(client)
            assert found == {
                "changed_in_target": {acts[0]},
                "missing_in_target": {acts[1], added},
                "in_target_without_source": {"V6ASTRAY00000001"},
                "changed_in_source": {acts[2]},
                "deleted_in_source": {acts[3]},
            }
            assert run["checked"] == 1 + 1 + 20

            dry = (
                await client.post(f"/api/v1/reconciliations/{run['id']}/repair", headers=AUTH, json={})
            ).json()
            assert (dry["dry_run"], dry["events"]) == (True, 5)
            writes = {a["source_id"]: a["fields"] for a in dry["actions"] if a["action"] == "resend"}
            assert writes[acts[2]]["Subject_vod__c"] == "edited in the CTMS"  # read now, mapped, not sent
            assert writes[added]["Subject_vod__c"] == "added in the CTMS"  # never written: the same
            assert writes[acts[0]]["Subject_vod__c"] != "edited in the CRM"  # the last write, again
            dry_kept = {r["Vault_Activity_ID_vod__c"]: r for r in interactions(org)}
            assert dry_kept[acts[0]]["Subject_vod__c"] == "edited in the CRM"  # a dry run stores nothing
            done = await client.post(
                f"/api/v1/reconciliations/{run['id']}/repair", headers=AUTH, json={"dry_run": False}
            )
            assert done.json()["events"] == 5

            def repaired(rows: list[dict[str, Any]]) -> bool:
                by_source = {r["Vault_Activity_ID_vod__c"]: r for r in rows}
                return (
                    by_source.get(acts[0], {}).get("Subject_vod__c") == "visit 0"
                    and acts[1] in by_source
                    and added in by_source
                    and by_source[acts[2]]["Subject_vod__c"] == "edited in the CTMS"
                    and str(by_source[acts[3]]["Subject_vod__c"]).endswith("Deleted")
                )

            async def rows() -> list[dict[str, Any]]:
                return interactions(org)

            await eventually(rows, repaired, timeout=60)
            org.state.delete_record(INTERACTION, stray["Id"])  # no source: only a person removes it
            run, found = await reconcile(client)
            assert found == {}
            assert run["counts"] == {}


async def _count(org: Any) -> int:
    return len(interactions(org))

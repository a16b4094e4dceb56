"""Reconciliation benchmark (issue 16): one run over N linked records (default 100,000), CTMS Clinical
Activities linked to Salesforce interactions, with a few drifts made by hand, in this process against the
simulators as real HTTP servers. Reported: wall time, records per second, and the API calls used against
the floor (records / batch size: 200 per Salesforce read, 1,000 per Vault read), beside the scans a run
also makes (every CTMS record id, to find what was never linked; every target record carrying the
bridge's external id, to find what has no source).

    .venv/bin/python -m bench.reconcile [--links 100000] [--drifts 20]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import timedelta
from math import ceil
from typing import Any

from pydantic import SecretStr
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.context import Resources
from app.crypto import SecretBox
from app.domain.dates import parse_modified
from app.models import RecordLink, utcnow
from app.repositories import reconciliations
from app.services.reconciliation.run import request_run, run_reconciliation
from app.worker.queue import InProcessQueue
from bench.common import SECRET_KEY, bench_database, machine, table
from bench.delivery import VAULT_PASSWORD, VAULT_USER, build_world, connection_for

INTERACTION = "Vault_Clinical_Interaction_vod__c"
ACTIVITY = "crm_activity__v"
CHUNK = 5_000


def seed(world: Any, links: int) -> list[dict[str, Any]]:
    """`links` activities in the vault and their interactions in the org, written as the bridge would;
    the link rows to store (what the bridge last wrote to each)."""
    vault, sf = world.vault, world.sf
    type_id = vault.object_type_id(ACTIVITY, "clinical_activity__v")
    template = vault.user_create(
        ACTIVITY,
        {
            "object_type__v": type_id,
            "person__v": world.persons[0],
            "study__v": world.study,
            "activity_date__v": "2026-11-19",
            "channel__v": "video__v",
            "complete__v": True,
            "subject__v": "template",
        },
    )
    vault.table(ACTIVITY).pop(str(template["id"]))
    account = sf.list_records("Account")[0]["Id"]
    rows = []
    for n in range(links):
        source_id = f"V6A9{n:011d}"
        vault.table(ACTIVITY)[source_id] = {**template, "id": source_id, "subject__v": f"visit {n}"}
        fields = {
            "Subject_vod__c": f"visit {n}",
            "Account_vod__c": account,
            "Interaction_Date_vod__c": "2026-11-19",
        }
        record = sf.create_record(INTERACTION, {**fields, "Vault_Activity_ID_vod__c": source_id})
        rows.append(
            {
                "connection_id": world.connections[0].id,
                "source_system": "ctms",
                "source_object": ACTIVITY,
                "source_id": source_id,
                "target_object": INTERACTION,
                "target_id": record["Id"],
                "last_applied_modified_at": parse_modified(template["modified_date__v"]),
                "content_hash": "0" * 64,
                "last_fields": fields,
                "deleted": False,
                "updated_at": utcnow(),
            }
        )
    return rows


def make_drifts(world: Any, links: list[dict[str, Any]], count: int) -> int:
    """Half edited in the org, half deleted in the vault: `count` drifts a run must find."""
    step = max(1, len(links) // max(1, count))
    chosen = links[::step][:count]
    for n, link in enumerate(chosen):
        if n % 2 == 0:
            world.sf.update_record(INTERACTION, link["target_id"], {"Subject_vod__c": "edited by hand"})
        else:
            world.vault.table(ACTIVITY).pop(link["source_id"])
    return len(chosen)


def run(links_wanted: int, drifts_wanted: int) -> dict[str, Any]:
    with ExitStack() as stack, bench_database() as database_url:
        world = build_world(stack, orgs=1)
        return asyncio.run(_measure(world, database_url, links_wanted, drifts_wanted))


async def _measure(world: Any, database_url: str, links_wanted: int, drifts_wanted: int) -> dict[str, Any]:
    box = SecretBox(SECRET_KEY)
    world.connections = [connection_for(world.targets[0], box)]
    world.connections[0].sync_studies_and_sites = False  # only activities are linked here
    started = time.monotonic()
    links = seed(world, links_wanted)
    seeded_in = time.monotonic() - started
    made = make_drifts(world, links, drifts_wanted)
    settings = Settings(
        database_url=database_url,
        secret_key=SecretStr(SECRET_KEY),
        vault_url=world.vault_url,
        vault_username=VAULT_USER,
        vault_password=SecretStr(VAULT_PASSWORD),
        vault_id=str(world.vault.config.vault_id),
    )
    resources = await Resources.open(settings, InProcessQueue({}))
    try:
        async with AsyncSession(resources.engine, expire_on_commit=False) as session:
            session.add_all(world.connections)
            await session.commit()
        for start in range(0, len(links), CHUNK):
            async with resources.engine.begin() as conn:
                await conn.execute(insert(RecordLink.__table__), links[start : start + CHUNK])  # type: ignore[attr-defined]
        vault_before, sf_before = len(world.vault.calls.calls), len(world.sf.calls.calls)
        async with resources.sessionmaker() as session, session.begin():
            recon = await request_run(session, "bench", timedelta(minutes=10))
        assert recon.id is not None
        began = time.monotonic()
        status = await run_reconciliation(resources, recon.id)
        wall = time.monotonic() - began
        async with resources.sessionmaker() as session:
            done = await reconciliations.get(session, recon.id)
        assert done is not None
        vault_calls = world.vault.calls.calls[vault_before:]
        sf_calls = world.sf.calls.calls[sf_before:]
    finally:
        await resources.close()
    return {
        "links": len(links),
        "seeded_s": seeded_in,
        "status": status,
        "wall_s": wall,
        "drifts_made": made,
        "drifts_found": sum(done.counts.values()),
        "counts": done.counts,
        "counted_calls": dict(done.calls),
        "vault_queries": sum(1 for c in vault_calls if c.path.endswith("/query")),
        "sf_queries": sum(1 for c in sf_calls if "/query" in c.path),
        "sf_paths": sorted({c.path.split("?")[0] for c in sf_calls}),
    }


def report(r: dict[str, Any]) -> str:
    n = r["links"]
    sf_floor, vault_floor = ceil(n / 200), ceil(n / 1000)
    scans = n // 2000 + 2 + ceil(n / 1000)  # the orphan scan (pages to a short one, a count), the id scan
    rows = [
        ["links compared", f"{n:,}"],
        ["wall time, s", f"{r['wall_s']:.1f}"],
        ["records/s", f"{n / r['wall_s']:,.0f}"],
        ["Salesforce queries (simulator's count)", f"{r['sf_queries']:,}"],
        ["  floor for the target reads: records / 200", f"{sf_floor:,}"],
        ["  plus the orphan scan (pages of 2,000 to a short one, and a count)", f"{n // 2000 + 2:,}"],
        ["Vault queries (simulator's count)", f"{r['vault_queries']:,}"],
        ["  floor for the source reads: records / 1,000", f"{vault_floor:,}"],
        ["  plus the never-linked scan (pages of 1,000)", f"{ceil(n / 1000):,}"],
        [
            "calls / (floor + scans)",
            f"{(r['sf_queries'] + r['vault_queries']) / (sf_floor + vault_floor + scans):.2f}×",
        ],
        ["drifts made / found", f"{r['drifts_made']} / {r['drifts_found']} {r['counts']}"],
        ["status", r["status"]],
        ["Salesforce paths", ", ".join(r["sf_paths"])],
    ]
    head = f"## Reconciliation: {n:,} linked records, one Salesforce connection (simulators as servers)\n"
    return head + f"(seeding took {r['seeded_s']:.0f} s, not counted)\n\n" + table(["figure", "value"], rows)


def main(argv: Sequence[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description="Reconciliation benchmark (bench/README.md)")
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--drifts", type=int, default=20)
    args = parser.parse_args(argv)
    text = f"{machine()}\n\n" + report(run(args.links, args.drifts))
    print(text)
    sys.stdout.flush()
    return text


if __name__ == "__main__":
    main()

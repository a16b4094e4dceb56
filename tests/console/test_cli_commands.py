"""`bridge links`, `bridge audit-log` and `bridge transfer list` against a live API."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import RecordLink
from tests.api.operator.conftest import add_delivery
from tests.api.operator.test_cli import as_json, bridge, server  # noqa: F401 - the live-API fixture


async def test_links_audit_log_and_transfer_list(server: str, clean_db: AsyncEngine) -> None:  # noqa: F811 - fixture
    from sqlalchemy.ext.asyncio import AsyncSession

    async with AsyncSession(clean_db) as session:
        session.add(RecordLink(connection_id="conn_a", source_system="ctms", source_object="crm_activity__v",
                               source_id="V6A000000007777", target_object="Vault_Clinical_Interaction_vod__c",
                               target_id="a1X000000000777"))  # fmt: skip
        await session.commit()
    listed = bridge(server, "links", "V6A000000007777")
    assert listed.exit_code == 0, listed.output
    assert "a1X000000000777" in listed.stdout
    assert as_json(bridge(server, "links", "V6A-none", "--json"))["items"] == []

    dead = await add_delivery(clean_db, status="dead")
    assert bridge(server, "deliveries", "replay", str(dead)).exit_code == 0
    log = bridge(server, "audit-log", "--action", "delivery.replay")
    assert log.exit_code == 0, log.output
    assert "delivery.replay" in log.stdout
    assert f"delivery {dead}" in log.stdout

    runs = as_json(bridge(server, "transfer", "list", "--json"))
    assert runs["items"] == []
    assert bridge(server, "transfer", "list").exit_code == 0

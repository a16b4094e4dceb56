"""VQL: filters, ordering, relationship fields, paging with next_page/previous_page, and errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.simulators.vault.conftest import Clock, V, Vault, person


async def _seed(vault: Vault, clock: Clock | None = None) -> list[dict[str, Any]]:
    who = person(vault.state, "HCP-1")["id"]
    rows = []
    for i, channel in enumerate(["video__v", "phone__v", "email__v", "video__v", "other__v"]):
        if clock is not None:
            clock.advance(minutes=10)
        rows.append(
            vault.state.user_create(
                "crm_activity__v",
                {"external_id__v": f"A-{i}", "person__v": who, "channel__v": channel, "subject__v": f"s{i}"},
            )
        )
    return rows


async def test_select_where_equals_and_in(vault: Vault) -> None:
    await _seed(vault)

    video = await vault.query("SELECT external_id__v FROM crm_activity__v WHERE channel__v = 'video__v'")
    some = await vault.query(
        "select external_id__v, subject__v from crm_activity__v where external_id__v in ('A-1', 'A-3', 'nope')"
    )
    not_in = await vault.query("SELECT id FROM crm_activity__v WHERE external_id__v NOT IN ('A-1')")

    assert [r["external_id__v"] for r in video["data"]] == ["A-0", "A-3"]
    assert video["responseDetails"] == {"pagesize": 1000, "pageoffset": 0, "size": 2, "total": 2}
    assert some["data"] == [
        {"external_id__v": "A-1", "subject__v": "s1"},
        {"external_id__v": "A-3", "subject__v": "s3"},
    ]
    assert not_in["responseDetails"]["total"] == 4


async def test_contains_matches_any_of_a_list_of_values(vault: Vault) -> None:
    await _seed(vault)
    found = await vault.query(
        "SELECT external_id__v FROM crm_activity__v WHERE external_id__v CONTAINS ('A-2', 'A-4', 'nope')"
    )
    assert sorted(r["external_id__v"] for r in found["data"]) == ["A-2", "A-4"]


async def test_and_or_parentheses_and_datetime_comparison(clocked_vault: Vault, clock: Clock) -> None:
    vault = clocked_vault
    rows = await _seed(vault, clock)
    await vault.login()  # 50 simulated minutes passed: the first session idled out
    cutoff = rows[2]["modified_date__v"]  # third record's stamp; later ones are newer

    newer = await vault.query(
        f"SELECT external_id__v FROM crm_activity__v WHERE modified_date__v > '{cutoff}'"
    )
    mixed = await vault.query(
        "SELECT external_id__v FROM crm_activity__v "
        "WHERE (channel__v = 'phone__v' OR channel__v = 'other__v') AND modified_date__v >= '2026-11-20T10:30:00Z'"
    )

    assert [r["external_id__v"] for r in newer["data"]] == ["A-3", "A-4"]
    assert [r["external_id__v"] for r in mixed["data"]] == ["A-4"]


async def test_order_by_and_relationship_fields(vault: Vault) -> None:
    await _seed(vault)

    body = await vault.query(
        "SELECT external_id__v, person__vr.external_id__v, channel__v FROM crm_activity__v ORDER BY subject__v DESC"
    )

    assert [r["external_id__v"] for r in body["data"]] == ["A-4", "A-3", "A-2", "A-1", "A-0"]
    assert body["data"][0]["person__vr.external_id__v"] == "HCP-1"
    assert body["data"][0]["channel__v"] == ["other__v"]


async def test_paging_with_next_page_by_post_and_get_and_previous_page(vault: Vault) -> None:
    await _seed(vault)

    first = await vault.query(
        "SELECT external_id__v FROM crm_activity__v ORDER BY external_id__v ASC PAGESIZE 2"
    )
    details = first["responseDetails"]
    assert details["pagesize"] == 2
    assert details["size"] == 2
    assert details["total"] == 5
    assert "previous_page" not in details
    assert details["next_page"].startswith(f"/api/{V}/query/")

    second = (await vault.client.post(details["next_page"], headers=vault.auth)).json()
    third = (await vault.client.get(second["responseDetails"]["next_page"], headers=vault.auth)).json()
    back = (await vault.client.post(third["responseDetails"]["previous_page"], headers=vault.auth)).json()

    seen = [r["external_id__v"] for page in (first, second, third) for r in page["data"]]
    assert seen == ["A-0", "A-1", "A-2", "A-3", "A-4"]
    assert "next_page" not in third["responseDetails"]
    assert third["responseDetails"]["pageoffset"] == 4
    assert back["data"] == second["data"]


async def test_paging_serves_the_result_set_cached_at_query_time(vault: Vault) -> None:
    await _seed(vault)
    first = await vault.query("SELECT external_id__v FROM crm_activity__v PAGESIZE 3")
    vault.state.user_create("crm_activity__v", {"external_id__v": "A-late"})

    second = (await vault.client.post(first["responseDetails"]["next_page"], headers=vault.auth)).json()

    assert second["responseDetails"]["total"] == 5
    assert [r["external_id__v"] for r in second["data"]] == ["A-3", "A-4"]


async def test_expired_paging_url_fails(clocked_vault: Vault, clock: Clock) -> None:
    vault = clocked_vault
    await _seed(vault)
    first = await vault.query("SELECT id FROM crm_activity__v PAGESIZE 2")
    clock.advance(hours=73)
    await vault.login()  # the session is long gone too

    response = (await vault.client.post(first["responseDetails"]["next_page"], headers=vault.auth)).json()

    assert response["responseStatus"] == "FAILURE"
    assert response["errors"][0]["type"] == "INVALID_DATA"


async def test_limit_sets_page_size_and_pagesize_zero_counts(vault: Vault) -> None:
    await _seed(vault)

    limited = await vault.query("SELECT id FROM crm_activity__v LIMIT 1")
    counted = await vault.query("SELECT id FROM crm_activity__v PAGESIZE 0")
    offset = await vault.query("SELECT external_id__v FROM crm_activity__v PAGESIZE 2 PAGEOFFSET 4")

    assert limited["responseDetails"]["size"] == 1
    assert limited["responseDetails"]["total"] == 5
    assert "next_page" in limited["responseDetails"]
    assert counted["data"] == []
    assert counted["responseDetails"]["total"] == 5
    assert [r["external_id__v"] for r in offset["data"]] == ["A-4"]


async def test_query_accepts_numbers_booleans_and_user_ids(vault: Vault) -> None:
    await _seed(vault)
    maker = vault.state.human_user_id()

    complete = await vault.query("SELECT id FROM crm_activity__v WHERE complete__v = false")
    mine = await vault.query(f"SELECT id FROM crm_activity__v WHERE created_by__v = {maker}")
    user = await vault.query(f"SELECT first_name__sys, email__sys FROM user__sys WHERE id = '{maker}'")

    assert complete["responseDetails"]["total"] == 5
    assert mine["responseDetails"]["total"] == 5
    assert user["data"] == [{"first_name__sys": "Maria", "email__sys": "maria.costa@example.com"}]


@pytest.mark.parametrize(
    "q",
    [
        "SELECT FROM crm_activity__v",
        "SELECT id crm_activity__v",
        "SELECT id FROM crm_activity__v WHERE",
        "SELECT id FROM crm_activity__v WHERE channel__v 'x'",
        "SELECT id FROM crm_activity__v WHERE channel__v = 'unterminated",
        "SELECT id FROM crm_activity__v WHERE (channel__v = 'x'",
        "SELECT id FROM crm_activity__v ORDER channel__v",
        "SELECT id FROM crm_activity__v LIMIT many",
        "SELECT * FROM crm_activity__v",
        "SELECT id FROM crm_activity__v; DELETE",
    ],
)
async def test_malformed_queries_are_syntax_errors(vault: Vault, q: str) -> None:
    body = await vault.query(q)

    assert body["responseStatus"] == "FAILURE"
    assert body["errors"][0]["type"] == "INCORRECT_QUERY_SYNTAX_ERROR"


@pytest.mark.parametrize(
    "q",
    [
        "SELECT id FROM nothing__c",
        "SELECT nothing__c FROM crm_activity__v",
        "SELECT id FROM crm_activity__v WHERE nothing__c = 'x'",
        "SELECT id FROM crm_activity__v ORDER BY nothing__c",
        "SELECT nope__vr.name__v FROM crm_activity__v",
        "SELECT id FROM crm_activity__v WHERE modified_date__v > 'yesterday'",
        "SELECT id FROM crm_activity__v WHERE channel__v > 'video__v'",
    ],
)
async def test_unknown_targets_fields_and_bad_values_are_invalid_data(vault: Vault, q: str) -> None:
    body = await vault.query(q)

    assert body["responseStatus"] == "FAILURE"
    assert body["errors"][0]["type"] == "INVALID_DATA"


async def test_missing_q_is_parameter_required(vault: Vault) -> None:
    response = await vault.client.post(f"/api/{V}/query", data={}, headers=vault.auth)

    assert response.json()["errors"][0]["type"] == "PARAMETER_REQUIRED"

"""SOQL over REST: the parser's strictness, the platform's comparison rules, result shape and paging."""

from __future__ import annotations

import httpx
import pytest

from app.simulators.salesforce import SalesforceState
from app.simulators.salesforce.errors import ApiError
from app.simulators.salesforce.soql import Condition, Group, Literal, Negation, parse
from tests.simulators.salesforce.conftest import V, upsert_accounts


def test_parser_reads_the_bridge_shapes() -> None:
    query = parse(
        "SELECT Id, Account_vod__r.External_ID_vod__c FROM Call2_vod__c "
        "WHERE Status_vod__c IN ('Saved_vod', 'Submitted_vod') AND LastModifiedDate > 2026-11-20T10:00:00Z "
        "ORDER BY LastModifiedDate DESC NULLS LAST, Id LIMIT 50 OFFSET 10"
    )
    assert query.object_name == "Call2_vod__c"
    assert query.fields == (("Id",), ("Account_vod__r", "External_ID_vod__c"))
    assert query.where == Group(
        "AND",
        (
            Condition(
                ("Status_vod__c",), "IN", (Literal("string", "Saved_vod"), Literal("string", "Submitted_vod"))
            ),
            Condition(("LastModifiedDate",), ">", (Literal("datetime", "2026-11-20T10:00:00Z"),)),
        ),
    )
    assert [(o.path, o.descending, o.nulls_last) for o in query.order_by] == [
        (("LastModifiedDate",), True, True),
        (("Id",), False, False),
    ]
    assert (query.limit, query.offset) == (50, 10)


def test_parser_nesting_negation_and_escapes() -> None:
    query = parse(r"select Id from Account where not (Name = 'O\'Neil' or Name != null)")
    assert query.where == Negation(
        Group(
            "OR",
            (
                Condition(("Name",), "=", (Literal("string", "O'Neil"),)),
                Condition(("Name",), "!=", (Literal("null", None),)),
            ),
        )
    )
    assert parse("SELECT COUNT() FROM Account").count_only is True


@pytest.mark.parametrize(
    "text",
    [
        "SELECT FROM Account",
        "SELECT Id Account",
        "SELECT Id FROM Account WHERE",
        "SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'",
        "SELECT Id FROM Account LIMIT many",
        "SELECT Id FROM Account WHERE Name = 'unterminated",
        "SELECT Id FROM Account ORDER Name",
        "SELECT Id FROM Account WHERE Name IN 'a'",
        "SELECT Id, FROM Account",
        "SELECT Id FROM Account extra",
    ],
)
def test_parser_rejects_malformed_queries(text: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse(text)
    assert caught.value.status == 400
    assert caught.value.errors[0].status_code == "MALFORMED_QUERY"


async def query(api: httpx.AsyncClient, soql: str, **headers: str) -> httpx.Response:
    return await api.get(f"{V}/query/", params={"q": soql}, headers=headers)


async def test_result_shape_with_relationships(api: httpx.AsyncClient, state: SalesforceState) -> None:
    [account_id] = await upsert_accounts(api, "HCP-1")
    call = state.create_record(
        "Call2_vod__c",
        {"Account_vod__c": account_id, "Status_vod__c": "Submitted_vod", "Subject_vod__c": "Q&A"},
    )
    orphan = state.create_record("Call2_vod__c", {"Status_vod__c": "Planned_vod"})
    response = await query(
        api,
        "SELECT Id, Name, Subject_vod__c, Account_vod__r.External_ID_vod__c, Account_vod__r.Name, CreatedBy.Email "
        "FROM Call2_vod__c ORDER BY Name",
    )
    assert response.status_code == 200
    assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")
    body = response.json()
    assert (body["totalSize"], body["done"]) == (2, True)
    assert "nextRecordsUrl" not in body
    assert body["records"][0] == {
        "attributes": {"type": "Call2_vod__c", "url": f"{V}/sobjects/Call2_vod__c/{call['Id']}"},
        "Id": call["Id"],
        "Name": "C-0000001",
        "Subject_vod__c": "Q&A",
        "Account_vod__r": {
            "attributes": {"type": "Account", "url": f"{V}/sobjects/Account/{account_id}"},
            "External_ID_vod__c": "HCP-1",
            "Name": "Test HCP-1",
        },
        "CreatedBy": {
            "attributes": {"type": "User", "url": f"{V}/sobjects/User/{state.crm_user_id}"},
            "Email": "ana.silva@example.com",
        },
    }
    assert body["records"][1]["Id"] == orphan["Id"]
    assert body["records"][1]["Account_vod__r"] is None


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("External_ID_vod__c = 'hcp-2'", ["HCP-2"]),  # text comparisons ignore case
        ("External_ID_vod__c IN ('HCP-1', 'HCP-3')", ["HCP-1", "HCP-3"]),
        ("External_ID_vod__c NOT IN ('HCP-1')", ["HCP-2", "HCP-3"]),
        ("PersonEmail != 'a@example.com'", ["HCP-2", "HCP-3"]),  # != also matches nulls
        ("PersonEmail = null", ["HCP-2", "HCP-3"]),
        ("LastName LIKE 'hcp-%'", ["HCP-1", "HCP-2", "HCP-3"]),
        ("(External_ID_vod__c = 'HCP-1' OR External_ID_vod__c = 'HCP-3') AND PersonEmail != null", ["HCP-1"]),
        ("NOT External_ID_vod__c = 'HCP-1'", ["HCP-2", "HCP-3"]),
        ("LastModifiedDate >= 2026-11-20T10:00:00Z", ["HCP-1", "HCP-2", "HCP-3"]),
        ("LastModifiedDate > 2026-11-20T11:00:00+01:00", []),
    ],
)
async def test_where_semantics(api: httpx.AsyncClient, where: str, expected: list[str]) -> None:
    await upsert_accounts(api, "HCP-1", PersonEmail="a@example.com")
    await upsert_accounts(api, "HCP-2", "HCP-3")
    response = await query(
        api, f"SELECT External_ID_vod__c FROM Account WHERE {where} ORDER BY External_ID_vod__c"
    )
    assert response.status_code == 200, response.text
    assert [r["External_ID_vod__c"] for r in response.json()["records"]] == expected


async def test_order_limit_offset_and_count(api: httpx.AsyncClient) -> None:
    await upsert_accounts(api, "B", "C", "A")
    ordered = await query(
        api, "SELECT External_ID_vod__c FROM Account ORDER BY External_ID_vod__c DESC LIMIT 2 OFFSET 1"
    )
    assert [r["External_ID_vod__c"] for r in ordered.json()["records"]] == ["B", "A"]
    count = (await query(api, "SELECT COUNT() FROM Account WHERE External_ID_vod__c != null")).json()
    assert count == {"totalSize": 3, "done": True, "records": []}


@pytest.mark.parametrize(
    ("soql", "code", "fragment"),
    [
        ("SELECT Id FROM Account WHERE LastModifiedDate > '2026-11-20T10:00:00Z'", "INVALID_FIELD", "must be of type dateTime and should not be enclosed in quotes"),
        ("SELECT Id FROM Account WHERE Name = 5", "INVALID_FIELD", "must be of type string and should be enclosed in quotes"),
        ("SELECT Id FROM Account WHERE Id = 'HCP-1'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: HCP-1"),
        ("SELECT Shoe__c FROM Account", "INVALID_FIELD", "No such column 'Shoe__c' on entity 'Account'"),
        ("SELECT Owner__r.Name FROM Account", "INVALID_FIELD", "Didn't understand relationship 'Owner__r'"),
        ("SELECT Id FROM Acount", "INVALID_TYPE", "sObject type 'Acount' is not supported"),
        ("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'", "MALFORMED_QUERY", "unexpected token: 'OR'"),
    ],
)  # fmt: skip
async def test_query_errors(api: httpx.AsyncClient, soql: str, code: str, fragment: str) -> None:
    response = await query(api, soql)
    assert response.status_code == 400
    [error] = response.json()
    assert error["errorCode"] == code
    assert fragment in error["message"]


async def test_paging_with_query_locators(api: httpx.AsyncClient, state: SalesforceState) -> None:
    for i in range(450):
        state.create_record("Account", {"LastName": f"L{i:03d}"})
    first = (
        await query(
            api,
            "SELECT Id, LastName FROM Account ORDER BY LastName",
            **{"Sforce-Query-Options": "batchSize=200"},
        )
    ).json()
    assert (first["totalSize"], first["done"], len(first["records"])) == (450, False, 200)
    seen = [r["LastName"] for r in first["records"]]
    page = first
    while not page["done"]:
        page = (await api.get(page["nextRecordsUrl"])).json()
        assert page["totalSize"] == 450
        seen += [r["LastName"] for r in page["records"]]
    assert seen == [f"L{i:03d}" for i in range(450)]
    assert "nextRecordsUrl" not in page

    bad = await api.get(f"{V}/query/01gNOPE-200")
    assert bad.status_code == 400
    assert bad.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


async def test_query_all_includes_deleted_records(api: httpx.AsyncClient, state: SalesforceState) -> None:
    [gone, kept] = await upsert_accounts(api, "HCP-1", "HCP-2")
    state.delete_record("Account", gone)
    soql = "SELECT Id, IsDeleted FROM Account WHERE External_ID_vod__c != null"
    live = (await query(api, soql)).json()["records"]
    everything = (await api.get(f"{V}/queryAll/", params={"q": soql})).json()["records"]
    assert [r["Id"] for r in live] == [kept]
    assert {(r["Id"], r["IsDeleted"]) for r in everything} == {(gone, True), (kept, False)}


async def test_missing_query_text(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{V}/query/")
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "MALFORMED_QUERY"

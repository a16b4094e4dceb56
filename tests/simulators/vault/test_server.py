"""The simulator behind a real socket (ServerThread), as the bridge, benchmarks and users reach it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from app.simulators.common.faults import FaultSettings
from app.simulators.common.server import ServerThread
from app.simulators.vault import VaultState, create_vault_app
from tests.simulators.vault.conftest import API_PASSWORD, API_USER, Receiver, V


@pytest.fixture
def state() -> VaultState:
    return VaultState()


@pytest.fixture
def server(state: VaultState) -> Iterator[ServerThread]:
    with ServerThread(create_vault_app(state)) as running:
        yield running


@pytest.fixture
async def client(server: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        login = await http.post(f"/api/{V}/auth", data={"username": API_USER, "password": API_PASSWORD})
        http.headers["Authorization"] = login.json()["sessionId"]  # bare session id, as Vault also accepts
        yield http


async def test_write_read_query_and_page_over_a_socket(client: httpx.AsyncClient) -> None:
    rows = [{"name__v": f"Study {i}", "external_id__v": f"S-{i}"} for i in range(5)]
    upsert = (await client.post(f"/api/{V}/vobjects/study__v?idParam=external_id__v", json=rows)).json()
    first_id = upsert["data"][0]["data"]["id"]
    read = (await client.get(f"/api/{V}/vobjects/study__v/{first_id}")).json()
    page = (
        await client.post(f"/api/{V}/query", data={"q": "SELECT id, name__v FROM study__v PAGESIZE 3"})
    ).json()
    rest = (await client.post(page["responseDetails"]["next_page"])).json()

    assert [d["data"]["event"] for d in upsert["data"]] == ["created__sys"] * 5
    assert read["data"]["name__v"] == "Study 0"
    assert [r["name__v"] for r in page["data"] + rest["data"]] == [f"Study {i}" for i in range(5)]


async def test_login_reports_the_vault_api_url(client: httpx.AsyncClient, server: ServerThread) -> None:
    login = await client.post(f"/api/{V}/auth", data={"username": API_USER, "password": API_PASSWORD})

    assert login.json()["vaultIds"][0]["url"] == f"{server.url}/api"


async def test_timeout_fault_makes_the_client_time_out(client: httpx.AsyncClient, state: VaultState) -> None:
    state.faults.configure(FaultSettings(timeout_calls=1, timeout_seconds=0.6))

    with pytest.raises(httpx.ReadTimeout):
        await client.get(f"/api/{V}/metadata/vobjects", timeout=0.2)
    after = await client.get(f"/api/{V}/metadata/vobjects")

    assert after.json()["responseStatus"] == "SUCCESS"


async def test_throttling_and_faults_over_a_socket(client: httpx.AsyncClient, state: VaultState) -> None:
    state.faults.configure(
        FaultSettings(burst_limit=2, throttle_below=5, throttle_delay_ms=50, rate_limit_burst=1)
    )

    limited = await client.get(f"/api/{V}/metadata/vobjects")
    throttled = await client.get(f"/api/{V}/metadata/vobjects")

    assert limited.json()["errors"][0]["type"] == "API_LIMIT_EXCEEDED"
    assert throttled.status_code == 200
    assert throttled.headers["x-vaultapi-responsedelay"] == "50"


async def test_events_reach_a_real_receiver_signed(client: httpx.AsyncClient, state: VaultState) -> None:
    receiver = Receiver()
    with ServerThread(receiver.app()) as bridge:
        state.configure_webhook(bridge.url, receiver.secret)
        await client.post(f"/api/{V}/vobjects/study__v", json=[{"name__v": "Study X"}])
        for _ in range(100):
            if receiver.events:
                break
            await asyncio.sleep(0.05)

    assert receiver.rejected == 0
    assert receiver.types() == ["ctms.record.created"]
    assert receiver.events[0][1]["data"]["record"]["name__v"] == "Study X"

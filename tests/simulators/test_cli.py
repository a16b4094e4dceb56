"""`bridge simulators` starts the simulators on local ports and says how to point the bridge at them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx

from tests.processes import ROOT


def test_bridge_simulators_serves_both_and_prints_the_settings() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    args = [
        sys.executable,
        "-m",
        "app",
        "simulators",
        "--vault-port",
        "0",
        "--crm-port",
        "0",
        "--vault-crm-port",
        "0",
    ]
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("Vault CRM connection" in line for line in lines):
            lines.append(proc.stdout.readline())
        text = "".join(lines)
        vault_url = re.search(r"BRIDGE_VAULT_URL=(\S+)", text)
        login_url = re.search(r'"login_url": "([^"]+)"', text)
        assert vault_url, text
        assert login_url, text
        assert "BRIDGE_CTMS_WEBHOOK_SECRETS=whsec_" in text
        user = re.search(r"BRIDGE_VAULT_USERNAME=(\S+)", text)
        password = re.search(r"BRIDGE_VAULT_PASSWORD=(\S+)", text)
        assert user
        assert password
        auth = httpx.post(
            f"{vault_url.group(1)}/api/v25.2/auth",
            data={"username": user.group(1), "password": password.group(1)},
        )
        assert auth.json()["responseStatus"] == "SUCCESS"
        client_id = re.search(r'"client_id": "([^"]+)"', text)
        secret = re.search(r'"client_secret": "([^"]+)"', text)
        assert client_id
        assert secret
        token = httpx.post(
            f"{login_url.group(1)}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id.group(1),
                "client_secret": secret.group(1),
            },
        )
        assert token.status_code == 200
        assert token.json()["access_token"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_bridge_simulators_seed_makes_a_small_world_readable_through_the_simulators() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    ports = ["--vault-port", "0", "--crm-port", "0", "--vault-crm-port", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "simulators", "--seed", *ports],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("Send the seeded call" in line for line in lines):
            lines.append(proc.stdout.readline())
        text = "".join(lines)
        vault_url = re.search(r"BRIDGE_VAULT_URL=(\S+)", text)
        crm_url = re.search(r'"login_url": "([^"]+)"', text)
        vault_crm_url = re.search(r'"vault_url": "([^"]+)"', text)
        assert vault_url, text
        assert crm_url, text
        assert vault_crm_url, text
        seeded = [line.strip().split("\t") for line in lines if line.count("\t") == 3]
        by_object: dict[str, list[str]] = {}
        for _system, object_name, record_id, _what in seeded:
            by_object.setdefault(object_name, []).append(record_id)
        assert {k: len(v) for k, v in by_object.items()} == {
            "study__v": 2, "study_country__v": 3, "site__v": 3, "person__sys": 3,
            "Account": 3, "account__v": 3, "crm_activity__v": 3, "Call2_vod__c": 1,
        }  # fmt: skip

        def read(base: str, object_name: str) -> list[dict[str, object]]:
            response = httpx.get(f"{base}/_sim/records/{object_name}")
            assert response.status_code == 200
            return list(response.json())

        studies = read(vault_url.group(1), "study__v")
        assert sorted(s["id"] for s in studies) == sorted(by_object["study__v"])
        assert {s["name__v"]: s["phase__v"] for s in studies} == {
            "VVT485-301": ["phase_3__v"],
            "VVT485-205": ["phase_2__v"],
        }
        activities = read(vault_url.group(1), "crm_activity__v")
        types = {t["api_name__v"]: t["id"] for t in read(vault_url.group(1), "object_type__v")}
        assert {a["object_type__v"] for a in activities} == {types["clinical_activity__v"]}
        persons = {p["id"]: p["external_id__v"] for p in read(vault_url.group(1), "person__sys")}
        assert {a["person__v"] for a in activities} <= set(persons)
        # each HCP is an account in both CRM orgs, matched by the shared identifier
        sf = {a["External_ID_vod__c"] for a in read(crm_url.group(1), "Account")}
        vc = {a["external_id__v"] for a in read(vault_crm_url.group(1), "account__v")}
        assert set(persons.values()) == sf == vc == {"HCP-1001", "HCP-1002", "HCP-1003"}
        [call] = read(crm_url.group(1), "Call2_vod__c")
        assert call["Id"] in text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()

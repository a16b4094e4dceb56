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

"""`bridge demo` — the README's first command — plays every flow and ends with both sides consistent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import ROOT

INTAKES = {
    "webhooks": [],
    "native": ["--ctms-intake", "spark", "--crm-intake", "outbound-messages"],  # issue 15
    "poll": ["--ctms-intake", "poll", "--crm-intake", "poll"],
}


@pytest.mark.parametrize("intake", list(INTAKES))
def test_bridge_demo_ends_consistent(tmp_path: Path, intake: str) -> None:
    """Each way events can reach the bridge: signed webhooks, what the systems send natively (Spark
    messages, Outbound Messages), or nothing at all (the Transfer job polls)."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")
    }  # the embedded default, no settings
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "demo",
            *INTAKES[intake],
        ],
        cwd=tmp_path,
        env={**env, "COLUMNS": "200", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "both sides are consistent" in output
    for flow in ("F1", "F2", "F3", "F4", "F5", "F8", "F9", "dead letter", "after replay: delivered"):
        assert flow in output, flow
    assert "Protocol Q&A Deleted" in output
    assert "Clinical Study 'VVT485-301' (Phase_3_vod, Active_vod)" in output
    assert "inactive__v" in output
    # the picklist failure is made with the simulator's switch, so a person can reproduce it by hand
    assert "DELETE http://127.0.0.1:" in output
    assert "/_sim/picklists/Vault_Clinical_Interaction_vod__c/Call_Channel_vod__c/Message_vod" in output
    assert list(tmp_path.iterdir()) == []  # the demo leaves nothing behind in the working directory

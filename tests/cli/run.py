"""Run the `bridge` command as a script would: a subprocess, no TTY, only the settings given."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def bridge(*args: str, cwd: Path, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    """``bridge ARGS`` with a clean BRIDGE_* environment (plus ``env``), stdout and stderr captured."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    clean |= {"COLUMNS": "80", "BRIDGE_LOG_JSON": "true", **env}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )

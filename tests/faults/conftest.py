"""The fault suite: real processes, real faults, counts checked against the simulators' state.

Not run by plain `scripts/test` (marked `faults`); `scripts/faults` runs the small version (CI) and
`scripts/faults --full` the full one. Each scenario prints one line of figures.
"""

from __future__ import annotations

import os

import pytest

FULL = os.environ.get("BRIDGE_FAULTS_SIZE", "small") == "full"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.faults)

"""Log lines: one JSON object per line, with secrets and personal data replaced, whatever code passes them."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest

from app.logging import REDACTED, configure_logging, get_logger


@pytest.fixture
def out() -> Iterator[io.StringIO]:
    """The bridge's logging, configured as a process configures it, writing here."""
    stream = io.StringIO()
    configure_logging("info", json=True, stream=stream)
    yield stream
    configure_logging("info", json=True)


def read(out: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


def test_secrets_and_personal_data_never_reach_a_line(out: io.StringIO) -> None:
    log = get_logger("test")
    log.info(
        "something_happened",
        note="ask jane.doe@example.com, key whsec_c2VjcmV0LXNlY3JldA==",
        password="hunter2",
        client_secret="s3cr3t",
        detail={"email": "x@y.org", "nested": [{"subject": "Visit of Dr Who"}], "count": 3},
        plain="nothing to hide",
    )
    [line] = read(out)
    assert line["note"] == f"ask {REDACTED}, key {REDACTED}"
    assert line["password"] == REDACTED
    assert line["client_secret"] == REDACTED
    assert line["detail"] == {"email": REDACTED, "nested": [{"subject": REDACTED}], "count": 3}
    assert line["plain"] == "nothing to hide"
    assert line["event"] == "something_happened"
    assert line["level"] == "info"


def test_values_json_cannot_encode_are_written_not_lost(out: io.StringIO) -> None:
    log = get_logger("test")
    log.info("odd_values", when=datetime(2026, 12, 4, 12, 0, tzinfo=UTC), ids={1: "a"}, thing=object())
    [line] = read(out)
    assert line["when"] == "2026-12-04T12:00:00+00:00"
    assert line["ids"] == {"1": "a"}
    assert str(line["thing"]).startswith("<object object at")

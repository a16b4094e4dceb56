"""Issue 18 point 5: configuration mistakes are one line on stderr that names the fix, with a non-zero
exit and no traceback; `bridge secret-key` makes a key the bridge accepts."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.cli.run import bridge
from tests.conftest import PG_ADMIN_URL, TEST_SECRET_KEY, _sqlalchemy_url
from tests.processes import free_port

NO_REDIS = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens: no check may get as far as Redis


@pytest.fixture(scope="module")
def unmigrated_url() -> Iterator[str]:
    """An empty PostgreSQL database, as before the first `bridge migrate`."""
    name = f"bridge_unmigrated_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield _sqlalchemy_url(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def one_line_error(result: object, *needles: str) -> str:
    assert getattr(result, "returncode", 0) != 0
    stderr = str(getattr(result, "stderr", ""))
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_missing_secret_key_says_how_to_make_one(command: str, tmp_path: Path, pg_url: str) -> None:
    result = bridge(command, cwd=tmp_path, BRIDGE_DATABASE_URL=pg_url, BRIDGE_REDIS_URL=NO_REDIS)
    one_line_error(result, "BRIDGE_SECRET_KEY", "bridge secret-key")
    assert result.stdout == ""


@pytest.mark.parametrize("weak", ["my-test-secret", "change-me", "a" * 40, "short-but-random-Xq7"])
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_weak_secret_key_is_refused(command: str, weak: str, tmp_path: Path, pg_url: str) -> None:
    result = bridge(
        command,
        cwd=tmp_path,
        BRIDGE_DATABASE_URL=pg_url,
        BRIDGE_REDIS_URL=NO_REDIS,
        BRIDGE_SECRET_KEY=weak,
    )
    line = one_line_error(result, "BRIDGE_SECRET_KEY", "too weak", "bridge secret-key")
    assert weak not in line  # the message never echoes the secret


def test_secret_key_prints_a_key_the_bridge_accepts(tmp_path: Path, pg_url: str) -> None:
    made = bridge("secret-key", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert made.stdout == key + "\n"  # only the key: `export BRIDGE_SECRET_KEY="$(bridge secret-key)"`
    assert len(key) >= 32
    assert bridge("secret-key", cwd=tmp_path).stdout.strip() != key
    # the key gets past the checks: the worker then refuses only for the (deliberately) absent Redis
    result = bridge(
        "worker",
        "--no-wait",
        cwd=tmp_path,
        BRIDGE_DATABASE_URL=pg_url,
        BRIDGE_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        BRIDGE_SECRET_KEY=key,
    )
    one_line_error(result, "Redis")


def test_a_worker_told_not_to_wait_refuses_to_start_without_redis_and_names_the_fix(
    tmp_path: Path, pg_url: str
) -> None:
    port = free_port()  # nothing listens there
    result = bridge(
        "worker",
        "--no-wait",
        cwd=tmp_path,
        BRIDGE_DATABASE_URL=pg_url,
        BRIDGE_REDIS_URL=f"redis://:hunter2-password@127.0.0.1:{port}/0",
        BRIDGE_SECRET_KEY=TEST_SECRET_KEY,
    )
    line = one_line_error(result, f"127.0.0.1:{port}", "BRIDGE_REDIS_URL", "--no-wait")
    assert "hunter2" not in line
    assert result.stdout == ""


def test_a_worker_started_before_redis_says_so_in_one_line_and_waits(tmp_path: Path, pg_url: str) -> None:
    """As a running worker waits out an outage, one started first waits for Redis (compose, systemd)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env |= {
        "BRIDGE_DATABASE_URL": pg_url,
        "BRIDGE_REDIS_URL": f"redis://:hunter2-password@127.0.0.1:{port}/0",
        "BRIDGE_SECRET_KEY": TEST_SECRET_KEY,
        "BRIDGE_WORKER_METRICS_PORT": "0",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "app", "worker"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stderr is not None
        line = worker.stderr.readline()  # blocks until the warning is written (or the process ends)
        assert line.startswith("warning: "), line
        assert f"127.0.0.1:{port}" in line
        assert "waiting" in line
        assert "hunter2" not in line
        assert worker.poll() is None  # still running: it waits, it did not refuse
    finally:
        worker.kill()
        worker.wait(10)


def test_a_worker_without_a_redis_url_says_jobs_run_in_serve(tmp_path: Path, pg_url: str) -> None:
    result = bridge("worker", cwd=tmp_path, BRIDGE_DATABASE_URL=pg_url, BRIDGE_SECRET_KEY=TEST_SECRET_KEY)
    one_line_error(result, "BRIDGE_REDIS_URL", "bridge serve")


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_an_unmigrated_database_says_run_migrate(command: str, tmp_path: Path, unmigrated_url: str) -> None:
    result = bridge(
        command,
        *(["--burst"] if command == "worker" else ["--port", str(free_port())]),
        cwd=tmp_path,
        BRIDGE_DATABASE_URL=unmigrated_url,
        BRIDGE_REDIS_URL=NO_REDIS,
        BRIDGE_SECRET_KEY=TEST_SECRET_KEY,
    )
    one_line_error(result, "bridge migrate")


def test_a_bad_setting_value_names_its_variable(tmp_path: Path) -> None:
    result = bridge("serve", cwd=tmp_path, BRIDGE_TRANSFER_INTERVAL_SECONDS="often")
    one_line_error(result, "BRIDGE_TRANSFER_INTERVAL_SECONDS")


NO_DATABASE = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/bridge"  # nothing listens


@pytest.mark.parametrize(
    "command", [["migrate"], ["prune"], ["api-keys", "create", "--bootstrap", "--name", "x"]]
)
def test_a_database_that_is_down_is_one_line_naming_the_setting(command: list[str], tmp_path: Path) -> None:
    result = bridge(*command, cwd=tmp_path, BRIDGE_DATABASE_URL=NO_DATABASE)
    assert result.returncode == 2
    one_line_error(result, "cannot be reached", "BRIDGE_DATABASE_URL", "127.0.0.1")


def test_the_first_admin_key_on_the_embedded_default_makes_the_cli_usable(tmp_path: Path) -> None:
    from app.config import Settings
    from app.main import create_app
    from app.simulators.common.server import ServerThread

    made = bridge("api-keys", "create", "--bootstrap", "--name", "first admin", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)  # the key itself only on stderr
    assert (created["name"], created["role"]) == ("first admin", "admin")
    [key_line] = [line for line in made.stderr.splitlines() if line.startswith("API key (shown once): ")]
    key = key_line.removeprefix("API key (shown once): ")
    assert key not in made.stdout

    again = bridge("api-keys", "create", "--bootstrap", "--name", "second", cwd=tmp_path)
    one_line_error(again, "ADMIN_KEY_EXISTS", "bridge api-keys create --api-key")

    embedded = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/bridge.sqlite3")  # what serve uses here
    with ServerThread(create_app(embedded)) as server:
        listed = bridge(
            "api-keys", "list", "--json", cwd=tmp_path, BRIDGE_API_URL=server.url, BRIDGE_API_KEY=key
        )
    assert listed.returncode == 0, listed.stderr
    assert [k["name"] for k in json.loads(listed.stdout)["items"]] == ["first admin"]

"""`bridge migrate` works from an installed wheel: the wheel carries the migrations of alembic/.

The wheel is built from this checkout and installed, without its dependencies, into a fresh virtual
environment that borrows the dependencies of the development one (a .pth line), so the test needs no
downloads beyond the build backend and takes seconds. The bridge then runs from the wheel, outside the
source tree, against a new SQLite file and a new PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import sysconfig
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from sqlalchemy import inspect

from app.db import create_engine
from app.migrate import alembic_config, current_revision, head_revision
from tests.conftest import PG_ADMIN_URL

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the bridge installed from a wheel built here; returns its bin directory."""
    base = tmp_path_factory.mktemp("wheel")
    dist, venv = base / "dist", base / "venv"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
        check=True,
        timeout=120,
    )
    (wheel,) = dist.glob("ctms_crm_bridge-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", str(wheel)],
        check=True,
        timeout=120,
    )
    fresh_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Appended after the venv's own site-packages, so the wheel's `app` wins; .pth files found there
    # (our editable install's) are not processed, so the checkout cannot sneak in.
    (Path(fresh_site) / "dev-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


def _bridge(bin_dir: Path, cwd: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env["BRIDGE_DATABASE_URL"] = database_url
    return subprocess.run(
        [str(bin_dir / "bridge"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_the_wheel_carries_its_own_migrations(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [
            str(installed / "python"),
            "-c",
            "import app, app.migrate as m; print(app.__file__); print(m.MIGRATIONS_DIR)",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    package, migrations = Path(where[0]).parent, Path(where[1])
    assert not package.is_relative_to(ROOT), "the bridge ran from the checkout, not from the wheel"
    assert migrations == package / "_alembic"
    assert sorted(p.name for p in (migrations / "versions").glob("*.py")) == sorted(
        p.name for p in (ROOT / "alembic" / "versions").glob("*.py")
    )


def _assert_at_head(url: str) -> None:
    asyncio.run(_assert_revision_and_tables(url))
    command.check(alembic_config(url))  # the schema is exactly the models' (env.py runs its own loop)


async def _assert_revision_and_tables(url: str) -> None:
    engine = create_engine(url)
    try:
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert {"inbox_events", "deliveries", "record_links", "global_settings"} <= tables
    finally:
        await engine.dispose()


def test_bridge_migrate_from_the_wheel_on_sqlite(installed: Path, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}"
    result = _bridge(installed, tmp_path, url, "migrate")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"database at revision {head_revision()}" in result.stdout
    _assert_at_head(url)


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    name = f"bridge_wheel_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    yield f"{base}/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_bridge_migrate_from_the_wheel_on_postgres(
    installed: Path, tmp_path: Path, fresh_pg_url: str
) -> None:
    result = _bridge(installed, tmp_path, fresh_pg_url, "migrate")
    assert result.returncode == 0, result.stderr[-2000:]
    _assert_at_head(fresh_pg_url)

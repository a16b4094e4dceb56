"""What every benchmark needs: a migrated PostgreSQL database of its own, a claimed Redis database, real
processes on loopback ports, and a plain-text report.

Everything made here is removed on exit (database dropped, Redis database flushed, processes ended by pid),
also when a benchmark fails half-way.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import redis.asyncio as aioredis

from app.migrate import upgrade_to_head

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("BRIDGE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_SERVER = os.environ.get("BRIDGE_BENCH_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
SESSION_LOCK = "bridge-tests:session"  # the claim key tests/conftest.py uses: tests and benches share 1-15
# Made-up secrets for a throwaway database: base64 of "bench-ctms-webhook-secret-0001"
CTMS_SECRET = "whsec_YmVuY2gtY3Rtcy13ZWJob29rLXNlY3JldC0wMDAx"  # noqa: S105 - made up, throwaway database
SECRET_KEY = "bench-secret-key-for-encryption-0123456789"  # noqa: S105 - made up, throwaway database
LOOPBACK = "127.0.0.1"


def require_loopback(url: str) -> str:
    """Benchmarks send load: only ever to this machine."""
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"benchmarks only target loopback addresses, not {host!r} ({url})")
    return url


def sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


@contextmanager
def bench_database() -> Iterator[str]:
    """A new database migrated with the real migrations (asyncpg URL for the bridge); dropped afterwards."""
    require_loopback(PG_ADMIN_URL)
    name = f"bridge_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        url = sqlalchemy_url(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
        upgrade_to_head(url)
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def redis_database() -> Iterator[str]:
    """A Redis database (1-15) claimed the way the test sessions claim theirs; flushed on exit."""
    require_loopback(REDIS_SERVER)
    owner = f"bench-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    async def claim() -> str:
        for db in range(1, 16):
            client = aioredis.from_url(f"{REDIS_SERVER}/{db}")
            try:
                if await client.set(SESSION_LOCK, owner, nx=True, ex=3600):
                    await client.flushdb()
                    await client.set(SESSION_LOCK, owner, ex=3600)
                    return f"{REDIS_SERVER}/{db}"
            finally:
                await client.aclose()
        raise SystemExit("every Redis database 1-15 is claimed (by test sessions or other benchmarks)")

    async def release(url: str) -> None:
        client = aioredis.from_url(url)
        try:
            if (await client.get(SESSION_LOCK) or b"").decode() == owner:
                await client.flushdb()  # also drops the claim
        finally:
            await client.aclose()

    url = asyncio.run(claim())
    try:
        yield url
    finally:
        asyncio.run(release(url))


def bridge_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of `bridge serve` / `bridge worker` on PostgreSQL and Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env.update(
        BRIDGE_DATABASE_URL=database_url,
        BRIDGE_REDIS_URL=redis_url,
        BRIDGE_SECRET_KEY=SECRET_KEY,
        BRIDGE_CTMS_WEBHOOK_SECRETS=CTMS_SECRET,
        BRIDGE_LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    require_loopback(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


@contextmanager
def process(
    args: Sequence[str], env: dict[str, str] | None = None, log_path: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, ended on exit by its pid (SIGTERM, then SIGKILL after 15 s)."""
    log = log_path.open("wb") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(list(args), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if not isinstance(log, int):
            log.close()


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak resident set) of a live process, in KiB."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{stamp}; nproc {os.cpu_count()} ({model or platform.machine()}); "
        f"Python {platform.python_version()} ({sys.executable}); {platform.system()} {platform.release()}"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A fixed-width text table (numbers right-aligned), the form every report prints."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [
            c.ljust(w) if i == 0 or not _numeric(c) else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "").replace("%", "").replace("×", "").lstrip("-").isdigit()


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "n/a"

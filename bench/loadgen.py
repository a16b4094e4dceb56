"""A fallback load generator for when wrk is not installed: the same request file and the same result line
as bench/wrk_signed.lua, from several processes of keep-alive HTTP/1.1 connections on raw asyncio streams.

It costs more CPU per request than wrk (it shares the 2 cores with the server), so its absolute numbers are
lower; the ratios between rows of one run stay comparable. Prefer wrk (`apt-get install -y wrk`).

    python -m bench.loadgen URL REQUESTS_FILE --connections 32 --duration 6 --procs 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import require_loopback


def _requests(path: Path, host: str, target: str, proc: int, procs: int) -> list[bytes]:
    out = []
    with path.open("rb") as f:
        for i, line in enumerate(f):
            if i % procs != proc:
                continue
            msg_id, stamp, signature, body = line.rstrip(b"\n").split(b"\t", 3)
            head = (
                f"POST {target} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n"
            ).encode()
            out.append(
                head
                + b"webhook-id: "
                + msg_id
                + b"\r\nwebhook-timestamp: "
                + stamp
                + b"\r\nwebhook-signature: "
                + signature
                + b"\r\n\r\n"
                + body
            )
    return out


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> str:
    """Send one request, read its answer: accepted, duplicate or other (any status but 202)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length)
    status = int(head.split(b" ", 2)[1])
    return "other" if status != 202 else "duplicate" if b'"duplicate"' in body else "accepted"


async def _connection(
    host: str, port: int, requests: list[bytes], cursor: list[int], until: float, out: dict[str, list[float]]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < until:
            if cursor[0] >= len(requests):
                cursor[0] = 0
                out["wrapped"][0] += 1
            request = requests[cursor[0]]
            cursor[0] += 1
            started = time.perf_counter()
            key = await _exchange(reader, writer, request)
            out["latency"].append(time.perf_counter() - started)
            out[key][0] += 1
    except (OSError, asyncio.IncompleteReadError):
        out["errors"][0] += 1
    finally:
        writer.close()


def _worker(
    url: str, path: str, proc: int, procs: int, connections: int, duration: float, q: mp.Queue
) -> None:  # type: ignore[type-arg]
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = _requests(Path(path), f"{host}:{port}", parts.path, proc, procs)
    out: dict[str, list[float]] = {
        "latency": [],
        "accepted": [0],
        "duplicate": [0],
        "other": [0],
        "errors": [0],
        "wrapped": [0],
    }

    async def run() -> None:
        until = time.perf_counter() + duration
        cursor = [0]
        await asyncio.gather(
            *(_connection(host, port, requests, cursor, until, out) for _ in range(connections))
        )

    started = time.perf_counter()
    asyncio.run(run())
    out["elapsed"] = [time.perf_counter() - started]
    q.put(out)


def run(url: str, path: Path, *, connections: int, duration: float, procs: int) -> dict[str, float]:
    require_loopback(url)
    q: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    share = [connections // procs + (1 if i < connections % procs else 0) for i in range(procs)]
    workers = [
        mp.Process(target=_worker, args=(url, str(path), i, procs, share[i], duration, q))
        for i in range(procs)
    ]
    for w in workers:
        w.start()
    results = [q.get(timeout=duration + 60) for _ in workers]
    for w in workers:
        w.join(10)
    latency = sorted(x for r in results for x in r["latency"])
    n = len(latency)

    def pct(p: float) -> float:
        return latency[min(n - 1, int(p / 100 * n))] * 1e3 if n else 0.0

    total = {
        k: sum(r[k][0] for r in results) for k in ("accepted", "duplicate", "other", "errors", "wrapped")
    }
    return {
        "requests": n,
        "duration_s": max(r["elapsed"][0] for r in results),
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "mean_ms": sum(latency) / n * 1e3 if n else 0.0,
        "max_ms": latency[-1] * 1e3 if n else 0.0,
        "accepted": total["accepted"],
        "duplicate": total["duplicate"],
        "other_status": total["other"],
        "wrapped": total["wrapped"],
        "socket_errors": total["errors"],
        "timeouts": 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("requests_file", type=Path)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--procs", type=int, default=2)
    args = parser.parse_args()
    result = run(
        args.url, args.requests_file, connections=args.connections, duration=args.duration, procs=args.procs
    )
    print("WRK_RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()


# ---- open loop: a fixed arrival rate, whatever the server's speed ---------------------------------------


async def _open_loop(
    host: str, port: int, requests: list[bytes], rate: float, duration: float
) -> dict[str, float]:
    """Send request i at t0 + i/rate on an idle keep-alive connection (opening one when none is idle).
    Latency counts from the scheduled time, so a slow server cannot hide its queue (no coordinated
    omission)."""
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    latencies: list[float] = []
    counts = {"accepted": 0, "duplicate": 0, "other": 0, "errors": 0, "late": 0}

    async def one(request: bytes, scheduled: float) -> None:
        try:
            reader, writer = idle.pop() if idle else await asyncio.open_connection(host, port)
            key = await _exchange(reader, writer, request)
        except (OSError, asyncio.IncompleteReadError):
            counts["errors"] += 1
            return
        latencies.append(time.perf_counter() - scheduled)
        counts[key] += 1
        idle.append((reader, writer))

    tasks = []
    start = time.perf_counter() + 0.05
    total = min(len(requests), int(rate * duration))
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.005:
            counts["late"] += 1  # the generator itself fell behind: the row is not open-loop any more
        tasks.append(asyncio.create_task(one(requests[i], scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for _reader, writer in idle:
        writer.close()
    latencies.sort()
    n = len(latencies)

    def pct(p: float) -> float:
        return latencies[min(n - 1, int(p / 100 * n))] * 1e3 if n else 0.0

    return {
        "requests": n,
        "duration_s": elapsed,
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "max_ms": latencies[-1] * 1e3 if n else 0.0,
        "accepted": counts["accepted"],
        "duplicate": counts["duplicate"],
        "other_status": counts["other"],
        "socket_errors": counts["errors"],
        "late_sends": counts["late"],
        "wrapped": 0,
        "timeouts": 0,
    }


def open_loop(url: str, path: Path, *, rate: float, duration: float) -> dict[str, float]:
    require_loopback(url)
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = _requests(path, f"{host}:{port}", parts.path, 0, 1)
    return asyncio.run(_open_loop(host, port, requests, rate, duration))

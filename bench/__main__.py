"""`python -m bench`: every benchmark, one after the other, as one report (bench/README.md).

Options are passed to no benchmark: run one on its own (`python -m bench.ingest --help`) to change its.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from bench import delivery, delivery_steps, ingest, ingest_steps
from bench.common import machine


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    started = time.monotonic()
    print(f"# ctms-crm-bridge benchmarks\n\n{machine()}\nload average at start: {_load()}\n")
    sys.stdout.flush()
    ingest_steps.main([])
    print()
    sys.stdout.flush()
    ingest.main([])
    print()
    sys.stdout.flush()
    delivery_steps.main([])
    print()
    sys.stdout.flush()
    delivery.main([])
    print(
        f"\nload average at end: {_load()}; whole run {time.monotonic() - started:.0f} s; pid {os.getpid()}"
    )


if __name__ == "__main__":
    main()

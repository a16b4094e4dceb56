"""Every job the queue can run, by name. One thin file per job; the work lives in app/services."""

from __future__ import annotations

from app.worker.jobs.deliver_lane import deliver_lane
from app.worker.jobs.initial_load import initial_load
from app.worker.jobs.process_inbox import process_inbox
from app.worker.jobs.prune import prune
from app.worker.jobs.reconcile import reconcile
from app.worker.jobs.sweep import sweep
from app.worker.jobs.transfer import transfer_run
from app.worker.queue import JobFunction

JOBS: dict[str, JobFunction] = {
    "process_inbox": process_inbox,
    "deliver_lane": deliver_lane,
    "sweep": sweep,
    "transfer_run": transfer_run,
    "prune": prune,
    "initial_load": initial_load,
    "reconcile": reconcile,
}

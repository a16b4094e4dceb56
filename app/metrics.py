"""Prometheus metrics: every counter and histogram the bridge exports, in one place."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

WEBHOOKS = Counter(
    "bridge_webhook_events_total",
    "Webhook requests by source and outcome (accepted, duplicate, rejected) and reason",
    ["source", "outcome", "reason"],
)
INGEST_LATENCY = Histogram(
    "bridge_webhook_ingest_seconds",
    "Time from request to answer on the webhook endpoints",
    ["source"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
DELIVERIES = Counter("bridge_deliveries_total", "Deliveries finished, by outcome", ["direction", "outcome"])
ATTEMPTS = Counter("bridge_delivery_attempts_total", "Delivery attempts, by outcome", ["target", "outcome"])
BATCH_SIZE = Histogram(
    "bridge_batch_records",
    "Records per outbound write call",
    ["target"],
    buckets=(1, 5, 20, 50, 100, 200, 500),
)
API_CALLS = Counter(
    "bridge_api_calls_total", "Outbound API calls, by target system and status", ["target", "status"]
)
QUEUE_LAG = Histogram(
    "bridge_delivery_lag_seconds",
    "Time from event received to delivery finished",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)
EVENTS_PROCESSED = Counter("bridge_events_processed_total", "Inbox events planned, by outcome", ["outcome"])
SWEEPER_REQUEUED = Counter("bridge_sweeper_requeued_total", "Stored events re-enqueued by the sweeper")
OPEN_DELIVERIES = Gauge("bridge_open_deliveries", "Deliveries not yet finished, by status", ["status"])
WORKER_DEPENDENCY_UP = Gauge(
    "bridge_worker_dependency_up",
    "1 while this worker reaches the dependency, 0 while it waits for it",
    ["dependency"],
)
WORKER_RECONNECTS = Counter(
    "bridge_worker_reconnects_total",
    "Times this worker got a dependency back after losing it",
    ["dependency"],
)
THROTTLE_PAUSED_UNTIL = Gauge(
    "bridge_throttle_paused_until_seconds",
    "Unix time until which a target that asked us to slow down is not called (as this process knows it)",
    ["target"],
)
THROTTLE_PAUSES = Counter(
    "bridge_throttle_pauses_total", "Throttle signals from targets, by reason", ["target", "reason"]
)
INITIAL_LOAD_RECORDS = Counter(
    "bridge_initial_load_records_total",
    "Records an initial load read from a source, by source and outcome (stored, known, invalid)",
    ["source", "outcome"],
)
RECONCILIATION_DRIFTS = Gauge(
    "bridge_reconciliation_drifts",
    "Drifts the last finished reconciliation run found, by kind",
    ["kind"],
)

"""FastAPI's own OpenTelemetry instrumentation, switched off for every app in this package.

The bridge reports through Prometheus (`/metrics`) and its own scrubbed logs. FastAPI's exception logs
would carry request content (personal data) to whatever exporter an environment configures, and on, the
instrumentation looks the tracer provider up in the process environment for every request: about 5 % of
the webhook hot path's CPU in a py-spy profile of `bridge serve` under load.
"""

from __future__ import annotations

from fastapi.telemetry import TelemetryConfig

NO_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}

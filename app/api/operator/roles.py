"""Who may call what: one line per operator route, checked on every request.

A route missing here is refused to everyone (and the package refuses to import), so a new route cannot
ship unguarded. ``viewer`` reads everything but secrets; ``operator`` also replays, discards and runs the
Transfer job; ``admin`` also configures connections, settings and API keys.
"""

from __future__ import annotations

from app.services.api_keys import Role

V1 = "/api/v1"
VIEWER, OPERATOR, ADMIN = Role.VIEWER, Role.OPERATOR, Role.ADMIN

ROLE_MATRIX: dict[tuple[str, str], Role] = {
    ("GET", f"{V1}/connections"): VIEWER,
    ("POST", f"{V1}/connections"): ADMIN,
    ("GET", f"{V1}/connections/{{connection_id}}"): VIEWER,
    ("PATCH", f"{V1}/connections/{{connection_id}}"): ADMIN,
    ("DELETE", f"{V1}/connections/{{connection_id}}"): ADMIN,
    ("POST", f"{V1}/connections/{{connection_id}}/activate"): ADMIN,
    ("POST", f"{V1}/connections/{{connection_id}}/deactivate"): ADMIN,
    ("POST", f"{V1}/connections/{{connection_id}}/test"): OPERATOR,
    ("DELETE", f"{V1}/connections/{{connection_id}}/account-matches"): OPERATOR,  # a repair, not config
    ("POST", f"{V1}/connections/{{connection_id}}/webhook-secrets"): ADMIN,
    ("DELETE", f"{V1}/connections/{{connection_id}}/webhook-secrets/previous"): ADMIN,
    ("GET", f"{V1}/connections/{{connection_id}}/outbound-message-urls"): ADMIN,  # the paths hold secrets
    ("GET", f"{V1}/settings"): VIEWER,
    ("PUT", f"{V1}/settings"): ADMIN,
    ("GET", f"{V1}/settings/ctms-names"): VIEWER,
    ("GET", f"{V1}/events"): VIEWER,
    ("GET", f"{V1}/events/{{event_id}}"): VIEWER,
    ("GET", f"{V1}/deliveries"): VIEWER,
    ("GET", f"{V1}/deliveries/{{delivery_id}}"): VIEWER,
    ("POST", f"{V1}/deliveries/{{delivery_id}}/replay"): OPERATOR,
    ("POST", f"{V1}/deliveries/{{delivery_id}}/discard"): OPERATOR,
    ("POST", f"{V1}/deliveries/replay"): OPERATOR,
    ("GET", f"{V1}/links"): VIEWER,
    ("GET", f"{V1}/records/{{record_id}}/trace"): VIEWER,
    ("GET", f"{V1}/transfer-runs"): VIEWER,
    ("GET", f"{V1}/transfer-runs/{{run_id}}"): VIEWER,
    ("POST", f"{V1}/transfer-runs"): OPERATOR,  # the route comes with the Transfer job
    ("GET", f"{V1}/initial-loads"): VIEWER,
    ("GET", f"{V1}/initial-loads/{{load_id}}"): VIEWER,
    ("POST", f"{V1}/initial-loads"): OPERATOR,  # reads both systems and writes through the pipeline
    ("POST", f"{V1}/initial-loads/{{load_id}}/resume"): OPERATOR,
    ("GET", f"{V1}/reconciliations"): VIEWER,
    ("GET", f"{V1}/reconciliations/{{run_id}}"): VIEWER,
    ("GET", f"{V1}/reconciliations/{{run_id}}/drifts"): VIEWER,
    ("POST", f"{V1}/reconciliations"): OPERATOR,  # reads both systems, writes nothing
    ("POST", f"{V1}/reconciliations/{{run_id}}/repair"): OPERATOR,  # writes through the pipeline
    ("POST", f"{V1}/resync"): OPERATOR,  # a forced re-sync writes through the pipeline
    ("GET", f"{V1}/audit-log"): VIEWER,
    ("GET", f"{V1}/api-keys"): ADMIN,  # prefixes and holders of keys are an admin's business
    ("POST", f"{V1}/api-keys"): ADMIN,
    ("DELETE", f"{V1}/api-keys/{{key_id}}"): ADMIN,
}


def required_role(method: str, path: str) -> Role | None:
    return ROLE_MATRIX.get((method.upper(), path))


def unguarded(routes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (method, path) pairs that have no line in the matrix."""
    return [(m, p) for m, p in routes if (m, p) not in ROLE_MATRIX]

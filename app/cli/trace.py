"""`bridge trace <record-id>`: why is this record (not) in the other system? One answer, from the API."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer

from app.cli.http import (
    DEFAULT_API_URL,
    ApiClient,
    ApiKeyOption,
    ApiUrlOption,
    JsonOption,
    out,
    plain,
    show,
    table,
)


def trace(
    record_id: Annotated[
        str, typer.Argument(help="a CTMS record id, a CRM call id, or a target's record id")
    ],
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Everything the bridge knows about one record: events (and why one was ignored), deliveries with
    every attempt, where it went, and the last and next Transfer run."""
    with ApiClient(api_url, api_key) as api:
        answer = api.get(f"/api/v1/records/{quote(record_id.strip(), safe='')}/trace")
    if as_json:
        show(answer)
    elif plain():
        for line in lines(answer):
            typer.echo("\t".join(" ".join(str(cell).split()) for cell in line))
    else:
        _print(answer)


def _deliveries(answer: dict[str, Any]) -> list[dict[str, Any]]:
    planned: list[dict[str, Any]] = [d for e in answer["events"] for d in e["deliveries"]]
    return planned + list(answer["other_deliveries"])


def _dash(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def lines(answer: dict[str, Any]) -> list[list[Any]]:
    """For scripts: one tab-separated line per fact, its kind first (`grep ^delivery | cut -f2`)."""
    rows: list[list[Any]] = [["record", answer["record_id"], " ".join(answer["ids"])]]
    rows += [["finding", f] for f in answer["findings"]]
    for link in answer["links"]:
        rows.append(
            [
                "link",
                link["connection_id"],
                f"{link['source_system']} {link['source_object']} {link['source_id']}",
                f"{link['target_object']} {_dash(link['target_id'])}",
                "deleted" if link["deleted"] else "live",
            ]
        )
    for e in answer["events"]:
        rows.append(["event", e["id"], e["type"], e["status"], _dash(e["error_code"]), e["received_at"]])
    for d in _deliveries(answer):
        rows.append(
            [
                "delivery",
                d["id"],
                _dash(d["event_id"]),
                _dash(d["connection_id"]),
                d["operation"],
                d["status"],
                d["attempts"],
                _dash(d["last_error_code"]),
                _dash(d["target_id"]),
            ]
        )
        for a in d["attempt_history"]:
            rows.append(
                [
                    "attempt",
                    d["id"],
                    a["number"],
                    a["started_at"],
                    a["target"],
                    a["outcome"],
                    _dash(a["http_status"]),
                    _dash(a["error_code"]),
                ]
            )
    last = answer["transfer"]["last_run"]
    rows.append(
        [
            "transfer",
            f"last {last['id']} {last['status']} {last['started_at']}" if last else "last -",
            f"next {answer['transfer']['next_run_at']}",
        ]
    )
    return rows


def _print(answer: dict[str, Any]) -> None:
    out.print(
        f"[bold]{answer['record_id']}[/]"
        + (f" ↔ {', '.join(answer['ids'][1:])}" if answer["ids"][1:] else "")
    )
    for finding in answer["findings"]:
        out.print(f"• {finding}", highlight=False)
    if answer["links"]:
        table(
            answer["links"],
            [
                ("connection", "connection_id"),
                ("source", lambda r: f"{r['source_system']} {r['source_object']} {r['source_id']}"),
                ("target", lambda r: f"{r['target_object']} {_dash(r['target_id'])}"),
                ("deleted", "deleted"),
            ],
            title="Links",
        )
    if answer["events"]:
        table(
            answer["events"],
            [
                ("id", "id"),
                ("type", "type"),
                ("status", "status"),
                ("why", "error"),
                ("received", "received_at"),
            ],
            title="Events",
        )
    attempts = [
        {
            **a,
            "delivery": d["id"],
            "delivery_status": d["status"],
            "op": d["operation"],
            "connection": d["connection_id"],
        }
        for d in _deliveries(answer)
        for a in d["attempt_history"] or [{}]
    ]
    if attempts:
        table(
            attempts,
            [
                ("delivery", "delivery"),
                ("status", "delivery_status"),
                ("operation", "op"),
                ("connection", "connection"),
                ("attempt", "number"),
                ("target", "target"),
                ("outcome", "outcome"),
                ("error", "error_code"),
            ],
            title="Deliveries and attempts",
        )
    last = answer["transfer"]["last_run"]
    ran = f"{last['id']} {last['status']} at {last['started_at']}" if last else "none yet"
    out.print(f"Transfer: last run {ran}; next at {answer['transfer']['next_run_at']}", highlight=False)

"""Pieces every lane handler uses: newest event per record, the stale rule, chunked writes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app import metrics
from app.clients.errors import ClientError
from app.clients.results import WriteResult
from app.domain.upsert import TargetUpsert
from app.repositories.rows import DeliveryRow, LinkRow
from app.services.delivery.outcomes import Outcome
from app.services.delivery.work import LaneWork


def newest_per_record(deliveries: Sequence[DeliveryRow]) -> tuple[list[DeliveryRow], dict[int, Outcome]]:
    """Within one batch only the newest change of each record matters: older ones are stale, and a twin
    of the same change (a re-sent event) is unchanged. Of twins, the earliest delivery goes out."""
    newest: dict[tuple[str, str, str | None], DeliveryRow] = {}
    for d in sorted(deliveries, key=lambda d: d.id or 0):
        key = (d.source_object, d.source_id, d.connection_id)
        current = newest.get(key)
        if current is None or (_modified(d), _is_deletion(d)) > (_modified(current), _is_deletion(current)):
            newest[key] = d
    keep = list(newest.values())
    kept = {id(d) for d in keep}
    others: dict[int, Outcome] = {}
    for d in deliveries:
        if id(d) in kept or d.id is None:
            continue
        winner = newest[(d.source_object, d.source_id, d.connection_id)]
        if _modified(d) == _modified(winner) and d.operation == winner.operation:
            others[d.id] = Outcome.unchanged(f"the same change goes out with delivery {winner.id}")
        else:
            others[d.id] = Outcome.stale("a newer change of this record was in the same batch")
    return keep, others


def _modified(d: DeliveryRow) -> datetime:
    return d.source_modified_at or _EPOCH


def _is_deletion(d: DeliveryRow) -> bool:
    # a deletion at the same instant as an update is the later of the two
    return d.operation.startswith(("delete", "inactivate"))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def is_stale(delivery: DeliveryRow, link: LinkRow | None) -> bool:
    """Latest wins: an event older than what the target already has is skipped. A deletion wins over
    every change not known to be newer than it (a waiting upsert released later must not revive it)."""
    if link is None:
        return False
    applied, modified = link.last_applied_modified_at, delivery.source_modified_at
    if link.deleted and not _is_deletion(delivery):
        return applied is None or modified is None or modified <= applied
    return applied is not None and modified is not None and modified < applied


def already_marked_deleted(link: LinkRow | None) -> bool:
    """The target carries the bridge's deletion mark: a deletion has nothing more to write. A repair
    (the link's content hash forgotten) writes the mark again over a hand-made undo."""
    if link is None or not link.deleted:
        return False
    return link.target_id is None or link.content_hash is not None


def tombstone(
    delivery: DeliveryRow, *, source_system: str, connection_id: str, target_object: str
) -> dict[str, Any]:
    """The link a deletion leaves when the target never had the record: nothing is written, but an older
    change still waiting (unmatched, backing off) is stale once it comes round."""
    return link_values(
        delivery,
        source_system=source_system,
        connection_id=connection_id,
        target_object=target_object,
        target_id=None,
        upsert=None,
        deleted=True,
    )


Writer = Callable[[str, str, list[dict[str, Any]]], Awaitable[WriteResult]]


async def write_all(
    write: Writer, target: str, max_batch: int, items: Sequence[tuple[int, TargetUpsert]]
) -> dict[int, tuple[Any, Any]]:
    """Send upserts grouped by object, `max_batch` per call. Returns, per delivery id, either
    (RecordResult, CallFact) or (ClientError, None) when the whole call failed."""
    out: dict[int, tuple[Any, Any]] = {}
    by_object: dict[tuple[str, str], list[tuple[int, TargetUpsert]]] = {}
    for delivery_id, upsert in items:
        by_object.setdefault((upsert.object, upsert.id_field), []).append((delivery_id, upsert))
    for (object_name, id_field), group in by_object.items():
        for start in range(0, len(group), max_batch):
            chunk = group[start : start + max_batch]
            metrics.BATCH_SIZE.labels(target).observe(len(chunk))
            try:
                written = await write(object_name, id_field, [u.record() for _, u in chunk])
            except ClientError as exc:
                for delivery_id, _ in chunk:
                    out[delivery_id] = (exc, None)
                continue
            for (delivery_id, _), result in zip(chunk, written.results, strict=True):
                out[delivery_id] = (result, written.call)
    return out


@dataclass(frozen=True, slots=True)
class ParentRef:
    """A parent record (study, site) pushed ahead of its children, outside any delivery of its own."""

    source_object: str
    source_id: str
    source_modified_at: datetime | None


def link_values(
    delivery: DeliveryRow | ParentRef,
    *,
    source_system: str,
    connection_id: str,
    target_object: str,
    target_id: str | None,
    upsert: TargetUpsert | None,
    deleted: bool = False,
    last_fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "connection_id": connection_id,
        "source_system": source_system,
        "source_object": delivery.source_object,
        "source_id": delivery.source_id,
        "target_object": target_object,
        "target_id": target_id,
        "last_applied_modified_at": delivery.source_modified_at,
        "deleted": deleted,
    }
    if upsert is not None:
        values["content_hash"] = upsert.content_hash()
        values["last_fields"] = dict(upsert.fields) if last_fields is None else last_fields
    elif last_fields is not None:
        values["last_fields"] = last_fields
    return values


def outcome_of_write(
    delivery: DeliveryRow,
    result: Any,
    call: Any,
    *,
    target_object: str,
    link: Callable[[str | None], dict[str, Any]],
) -> Outcome:
    """Turn one record's write result into an outcome (and the link to keep on success)."""
    if isinstance(result, ClientError):
        return Outcome.from_error(result)
    if result.ok:
        return Outcome.delivered(target_object, result.id, call, link(result.id), created=result.created)
    if result.transient:
        return Outcome.again(result.error_code or "FAILURE", result.error_message or "", call=call)
    return Outcome.dead(
        result.error_code or "FAILURE", result.error_message or "the target refused the record", call
    )


def link_maker(
    d: DeliveryRow,
    *,
    source_system: str,
    connection_id: str,
    upsert: TargetUpsert,
    prior: LinkRow | None,
    marks_deletion: bool = False,
) -> Callable[[str | None], dict[str, Any]]:
    """The link to save once the write succeeds (its target id is known only then). A deletion mark or an
    inactivation keeps the last content with the mark written over it, so later comparisons match the
    target's record, mark included; it keeps the content hash too, or (after a repair forgot it) takes
    the mark's, so the next deletion knows the mark is there."""

    def make(target_id: str | None) -> dict[str, Any]:
        values = link_values(
            d,
            source_system=source_system,
            connection_id=connection_id,
            target_object=upsert.object,
            target_id=target_id or (prior.target_id if prior else None),
            upsert=None if marks_deletion else upsert,
            deleted=marks_deletion,
            last_fields={**(prior.last_fields if prior else {}), **upsert.fields} if marks_deletion else None,
        )
        if marks_deletion and (prior is None or prior.content_hash is None):
            values["content_hash"] = upsert.content_hash()
        return values

    return make


Inner = Callable[[LaneWork, dict[int, Outcome]], Awaitable[dict[int, Outcome]]]


def keeping_decided(inner: Inner) -> Callable[[LaneWork], Awaitable[dict[int, Outcome]]]:
    """A lane handler whose batch-wide read fails keeps what it already decided (dead letters for bad data
    stay dead after one attempt) and retries only the rest."""

    async def handle(work: LaneWork) -> dict[int, Outcome]:
        outcomes: dict[int, Outcome] = {}
        try:
            return await inner(work, outcomes)
        except ClientError as exc:
            return {d.id: outcomes.get(d.id) or Outcome.from_error(exc) for d in work.deliveries if d.id}

    handle.__doc__ = inner.__doc__
    return handle


async def send_all(
    write: Writer,
    target: str,
    max_batch: int,
    to_write: Sequence[tuple[int, TargetUpsert]],
    deliveries: Sequence[DeliveryRow],
    *,
    source_system: str,
    connection_id: Callable[[DeliveryRow], str],
    prior: Callable[[DeliveryRow], LinkRow | None],
    marks_deletion: Callable[[DeliveryRow], bool],
) -> dict[int, Outcome]:
    """Write the upserts in batches and judge each delivery by its own record's result."""
    written = await write_all(write, target, max_batch, to_write)
    by_id = {d.id: d for d in deliveries}
    outcomes: dict[int, Outcome] = {}
    for delivery_id, upsert in to_write:
        d = by_id[delivery_id]
        result, call = written[delivery_id]
        outcomes[delivery_id] = outcome_of_write(
            d,
            result,
            call,
            target_object=upsert.object,
            link=link_maker(
                d,
                source_system=source_system,
                connection_id=connection_id(d),
                upsert=upsert,
                prior=prior(d),
                marks_deletion=marks_deletion(d),
            ),
        )
    return outcomes

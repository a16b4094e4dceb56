"""Properties: CTMS -> CRM -> CTMS keeps channel, date, completion and person identity, on both platforms
and under picklist overrides; marking and hashing behave whatever the input."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.crm import parse_crm_call
from app.domain.ctms import parse_ctms_activity
from app.domain.mapping.accounts import (
    AccountMatch,
    call_account_identifier,
    choose_account,
    choose_person,
    person_identifier,
)
from app.domain.mapping.activities import (
    clinical_activity_to_interaction,
    crm_call_to_medical_activity,
    mark_interaction_deleted,
)
from app.domain.names import CrmNames, CtmsNames
from app.domain.upsert import content_hash
from app.domain.vocabulary import Channel, Platform

CTMS = CtmsNames.defaults()
ids = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=6, max_size=15)
identifiers = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789", min_size=1, max_size=20)
platforms = st.sampled_from(["salesforce", "vault"])
# A connection may rename its channel values; the round trip must hold for any one-to-one table.
channel_tables = st.permutations([f"Channel_{i}__c" for i in range(len(Channel))]).map(
    lambda values: dict(zip(Channel, values, strict=True))
)


def _as_call(
    interaction: dict[str, Any], names: CrmNames, call_id: str, account: dict[str, Any]
) -> dict[str, Any]:
    """The interaction's content as the CRM would send it back as a call (what a user sees and re-sends)."""
    sent = names.interaction.fields
    call = names.call.fields
    return {
        call.id: call_id,
        call.date: interaction[sent.date],
        call.channel: interaction[sent.channel],
        call.status: interaction[sent.status],
        call.subject: interaction[sent.subject],
        call.account: interaction[sent.account],
        call.account_relationship: account,
    }


@settings(max_examples=150, deadline=None)
@given(
    platform=platforms,
    channel_table=st.one_of(st.none(), channel_tables),
    channel=st.sampled_from(list(Channel)),
    day=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)),
    complete=st.sampled_from([True, False, None]),
    person_id=ids,
    account_id=ids,
    activity_id=ids,
    call_id=ids,
    identifier=identifiers,
)
def test_ctms_to_crm_to_ctms_keeps_what_matters(
    platform: Platform,
    channel_table: dict[Channel, str] | None,
    channel: Channel,
    day: date,
    complete: bool | None,
    person_id: str,
    account_id: str,
    activity_id: str,
    call_id: str,
    identifier: str,
) -> None:
    overrides = (
        {"picklists": {"channel": {k.value: v for k, v in channel_table.items()}}} if channel_table else {}
    )
    names = CrmNames.with_overrides(platform, overrides)
    account_field = "External_ID_vod__c" if platform == "salesforce" else "external_id__v"
    match = AccountMatch(ctms_person_field="external_id__v", crm_account_field=account_field)
    person = {"id": person_id, "external_id__v": identifier}
    account = {names.account.id: account_id, account_field: identifier}
    ctms_channel = CTMS.picklists.channel[channel]
    record: dict[str, object] = {
        "id": activity_id,
        "object_type__v": "clinical_activity__v",
        "person__v": person_id,
        "activity_date__v": day.isoformat(),
        "channel__v": [ctms_channel],
        "complete__v": complete,
        "site__v": "0SI000000000301",
    }

    # CTMS -> CRM: the person is resolved to an account through the shared identifier.
    matched_account = choose_account(person_identifier(person, match), [account], match=match, names=names)
    assert matched_account == account_id
    interaction = clinical_activity_to_interaction(
        parse_ctms_activity(record, CTMS),
        names=names,
        account_id=matched_account,
        study_ref=None,
        site_ref="a1C5g000001SiTeA",
        created_by=None,
        sync_studies_and_sites=True,
    )

    # CRM -> CTMS: the same content comes back as a call and becomes a Medical Activity.
    call = parse_crm_call(_as_call(interaction.fields, names, call_id, account), platform, names)
    back_identifier = call_account_identifier(call, match)
    assert back_identifier is not None
    back_person = choose_person(back_identifier, [person], match=match)
    assert back_person is not None
    medical = crm_call_to_medical_activity(
        call, connection_id="conn-1", person_id=back_person, ctms_names=CTMS
    )

    fields = CTMS.activity.fields
    assert medical.fields[fields.channel] == ctms_channel
    assert medical.fields[fields.date] == day.isoformat()
    assert medical.fields[fields.complete] is (complete is True)
    assert medical.fields[fields.person] == person_id


@given(st.one_of(st.none(), st.text(max_size=80)))
def test_marking_deleted_is_idempotent(subject: str | None) -> None:
    once = mark_interaction_deleted(subject)
    assert once.endswith("Deleted")
    assert mark_interaction_deleted(once) == once
    assert once.startswith((subject or "").rstrip())  # the subject itself is kept, only the mark is added


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))


@given(st.dictionaries(st.text(max_size=10), json_scalars, max_size=8), st.randoms())
def test_content_hash_ignores_key_order(fields: dict[str, Any], random: Any) -> None:
    keys = list(fields)
    random.shuffle(keys)
    assert content_hash({key: fields[key] for key in keys}) == content_hash(fields)


@given(st.dictionaries(st.text(max_size=10), json_scalars, min_size=1, max_size=8), json_scalars)
def test_content_hash_sees_every_change(fields: dict[str, Any], replacement: Any) -> None:
    key = next(iter(fields))
    changed = fields | {key: replacement}
    same = changed[key] == fields[key] and type(changed[key]) is type(fields[key])
    assert (content_hash(changed) == content_hash(fields)) is same

"""Persons ↔ Accounts (SPEC.md section 4): exact match on the identifier pair in force for a connection.

A match is cached per (connection, person) and forgotten when the person changes or the pair changes.
No match waits as ``unmatched`` (retried by the Transfer job); several matches are an error, never a pick.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.clients.crm import CrmGateway, vault_find_by_field, vault_read_by_ids
from app.clients.vault import VaultClient
from app.domain.errors import AmbiguousAccount, AmbiguousPerson, MappingError
from app.domain.mapping.accounts import AccountMatch, effective_account_match, person_identifier
from app.domain.names import CrmNames, CtmsNames
from app.models import Connection, GlobalSettings
from app.services.delivery.outcomes import Outcome

NOT_MATCHED = "PERSON_NOT_MATCHED"


def match_pair(connection: Connection, settings: GlobalSettings) -> AccountMatch:
    global_pair = AccountMatch(
        ctms_person_field=settings.ctms_person_field, crm_account_field=settings.crm_account_field
    )
    own = (
        AccountMatch.from_config(connection.account_match, setting="account_match")
        if connection.account_match
        else None
    )
    return effective_account_match(global_pair, own, connection.platform)


@dataclass
class Resolved:
    """person/account id per source id, or the outcome for the deliveries that cannot proceed."""

    ids: dict[str, str]
    failures: dict[str, Outcome]


async def accounts_for_persons(
    ctms: VaultClient,
    crm: CrmGateway,
    *,
    person_ids: set[str],
    cached: dict[str, str],
    pair: AccountMatch,
    crm_names: CrmNames,
    ctms_names: CtmsNames,
) -> tuple[Resolved, dict[str, tuple[str, str]]]:
    """CTMS person id → CRM account id. Returns also the new matches to cache (person → (value, account))."""
    resolved = Resolved(ids={p: a for p, a in cached.items() if p in person_ids}, failures={})
    missing = sorted(person_ids - resolved.ids.keys())
    if not missing:
        return resolved, {}
    persons = await vault_read_by_ids(ctms, ctms_names.person.object, [pair.ctms_person_field], missing)
    identifiers: dict[str, str] = {}
    for person_id in missing:
        raw = persons.get(person_id)
        if raw is None:
            resolved.failures[person_id] = Outcome.unmatched(
                NOT_MATCHED, f"person {person_id} was not found in the vault"
            )
            continue
        try:
            identifiers[person_id] = person_identifier(raw, pair, ctms_names)
        except MappingError as exc:
            resolved.failures[person_id] = Outcome.unmatched(exc.code, exc.message)
    found = await crm.find_by_field(
        crm_names.account.object, pair.crm_account_field, list(identifiers.values())
    )
    learned: dict[str, tuple[str, str]] = {}
    for person_id, value in identifiers.items():
        accounts = found.get(value, [])
        if len(accounts) > 1:
            error = AmbiguousAccount(pair.crm_account_field, accounts)
            resolved.failures[person_id] = Outcome.dead(error.code, error.message)
        elif not accounts:
            resolved.failures[person_id] = Outcome.unmatched(
                NOT_MATCHED,
                f"no CRM account has {pair.crm_account_field} equal to the identifier of person {person_id}",
            )
        else:
            resolved.ids[person_id] = accounts[0]
            learned[person_id] = (value, accounts[0])
    return resolved, learned


async def persons_for_identifiers(
    ctms: VaultClient, *, identifiers: set[str], pair: AccountMatch, ctms_names: CtmsNames
) -> Resolved:
    """CRM account identifier value → CTMS person id (for calls sent to Vault Clinical)."""
    found = await vault_find_by_field(
        ctms, ctms_names.person.object, pair.ctms_person_field, sorted(identifiers)
    )
    resolved = Resolved(ids={}, failures={})
    for value in identifiers:
        persons = found.get(value, [])
        if len(persons) > 1:
            error = AmbiguousPerson(pair.ctms_person_field, persons)
            resolved.failures[value] = Outcome.dead(error.code, error.message)
        elif not persons:
            resolved.failures[value] = Outcome.unmatched(
                NOT_MATCHED, f"no vault person has {pair.ctms_person_field} equal to the account's identifier"
            )
        else:
            resolved.ids[value] = persons[0]
    return resolved

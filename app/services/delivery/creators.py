"""Who created CTMS activities ("From"), read from the vault in batches and remembered for a while.

A user's name and email almost never change, while every batch of activities names a handful of the
same creators: without the memory each batch (and each connection) reads them again. "From" is
informational, so a change reaching it minutes late is fine.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from app.clients.crm import vault_read_by_ids
from app.clients.vault import VaultClient
from app.domain.ctms import parse_vault_user
from app.domain.errors import MappingError
from app.domain.names import CtmsNames
from app.domain.users import VaultUser

REMEMBER_SECONDS = 600.0
MAX_REMEMBERED = 10_000
_remembered: dict[tuple[str, str], tuple[float, VaultUser | None]] = {}  # (vault, user id) ->


async def creators(ctms: VaultClient, ids: Iterable[str], ctms_names: CtmsNames) -> dict[str, VaultUser]:
    """The users of `ids` that the vault has (and that parse); the others are left out."""
    now = time.monotonic()
    vault = ctms.base_url
    known: dict[str, tuple[float, VaultUser | None]] = {}
    for user_id in set(ids):
        entry = _remembered.get((vault, user_id))
        if entry is not None and entry[0] > now:
            known[user_id] = entry
    missing = set(ids) - known.keys()
    if missing:
        user = ctms_names.user
        rows = await vault_read_by_ids(
            ctms, user.object, [user.first_name, user.last_name, user.email], missing
        )
        if len(_remembered) + len(missing) > MAX_REMEMBERED:
            _remembered.clear()  # crude, and rare: a vault with more creators than this re-reads them
        for user_id in missing:
            parsed = _parse(rows.get(user_id), ctms_names)
            _remembered[(vault, user_id)] = (now + REMEMBER_SECONDS, parsed)
            known[user_id] = (0.0, parsed)
    return {i: u for i, (_, u) in known.items() if u is not None}


def _parse(raw: dict[str, object] | None, ctms_names: CtmsNames) -> VaultUser | None:
    if not raw:
        return None
    try:
        return parse_vault_user(raw, ctms_names)
    except MappingError:
        return None  # "From" is optional: a user we cannot read leaves it empty

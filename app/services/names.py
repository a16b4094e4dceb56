"""The names in force: a connection's CRM names (the platform defaults with its own overrides) and the
CTMS names (the defaults with the bridge-wide overrides of the settings), both validated when saved."""

from __future__ import annotations

from functools import lru_cache
from typing import cast

import orjson

from app.domain.names import CrmNames, CtmsNames
from app.domain.vocabulary import Platform
from app.models import Connection, GlobalSettings


def crm_names_for(connection: Connection) -> CrmNames:
    return CrmNames.with_overrides(cast(Platform, connection.platform), connection.object_names)


def ctms_names_for(settings: GlobalSettings | None) -> CtmsNames:
    """Built once per distinct overrides document: the engine asks for every batch."""
    overrides = settings.ctms_names if settings is not None else None
    if not overrides:
        return CtmsNames.defaults()
    return _ctms_names(orjson.dumps(overrides, option=orjson.OPT_SORT_KEYS))


@lru_cache(maxsize=16)
def _ctms_names(document: bytes) -> CtmsNames:
    return CtmsNames.with_overrides(orjson.loads(document))

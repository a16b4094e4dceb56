"""A connection's CRM names: the platform defaults with its own overrides (validated when it was saved)."""

from __future__ import annotations

from typing import cast

from app.domain.names import CrmNames
from app.domain.vocabulary import Platform
from app.models import Connection


def crm_names_for(connection: Connection) -> CrmNames:
    return CrmNames.with_overrides(cast(Platform, connection.platform), connection.object_names)

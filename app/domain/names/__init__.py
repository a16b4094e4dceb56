"""Default object, field and picklist names of every system, and per-connection overrides."""

from app.domain.names._overrides import ApiName, Frozen
from app.domain.names.crm import CrmNames
from app.domain.names.ctms import CtmsNames

__all__ = ["ApiName", "CrmNames", "CtmsNames", "Frozen"]

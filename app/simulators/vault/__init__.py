"""Veeva Vault REST API simulator: the CTMS vault and Vault CRM orgs the bridge talks to.

Start one with ``create_vault_app(flavor="ctms" | "crm")``, or build a ``VaultState`` first to seed data,
switch faults and act as a human user in-process.
"""

from app.simulators.vault.app import create_vault_app
from app.simulators.vault.default_schemas import crm_schema, ctms_schema, schema_for
from app.simulators.vault.schema import (
    FieldDef,
    FieldType,
    NameMode,
    ObjectSchema,
    SchemaRegistry,
    define_object,
)
from app.simulators.vault.state import HumanUser, RecordRejected, VaultConfig, VaultState

__all__ = [
    "FieldDef",
    "FieldType",
    "HumanUser",
    "NameMode",
    "ObjectSchema",
    "RecordRejected",
    "SchemaRegistry",
    "VaultConfig",
    "VaultState",
    "create_vault_app",
    "crm_schema",
    "ctms_schema",
    "define_object",
    "schema_for",
]

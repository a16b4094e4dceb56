"""The bridge's own, platform-neutral words for picklist meanings.

Every system spells a channel or a status its own way; mapping goes source value -> one of these ->
target value, through the tables in ``app.domain.names``, so no two platforms are ever mapped directly.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

Platform = Literal["salesforce", "vault"]
"""A connection's CRM: Veeva CRM on Salesforce, or Vault CRM."""


class Channel(StrEnum):
    """Method of communication; the CTMS and CRM picklists match one to one (SPEC.md section 3)."""

    IN_PERSON = "in_person"
    VIDEO = "video"
    PHONE = "phone"
    CHAT_TEXT = "chat_text"
    EMAIL = "email"
    OTHER = "other"


class CallStatus(StrEnum):
    """A CRM call's status. Only ``submitted`` means the activity is complete."""

    PLANNED = "planned"
    SAVED = "saved"
    SUBMITTED = "submitted"


class RecordStatus(StrEnum):
    """Status of a study or study site, as the CRM's Clinical Study and Clinical Site show it."""

    PLANNED = "planned"
    ACTIVE = "active"
    ENROLLING = "enrolling"
    CLOSED = "closed"
    COMPLETED = "completed"
    TERMINATED = "terminated"
    DELETED_IN_VAULT_CLINICAL = "deleted_in_vault_clinical"


class Phase(StrEnum):
    PHASE_1 = "phase_1"
    PHASE_2 = "phase_2"
    PHASE_3 = "phase_3"
    PHASE_4 = "phase_4"
    NOT_APPLICABLE = "not_applicable"

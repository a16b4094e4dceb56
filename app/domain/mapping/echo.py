"""F9: recognizing the bridge's own writes when they come back as change events, so nothing loops.

CTMS side: the bridge writes Medical Activities, so an Activity event whose object type is Medical
Activity is an echo. Object types reach us in several shapes (``object_type__v`` as a name, or as an id
with ``object_type__vr.api_name__v`` beside it); when the payload carries no type we can name (none, or an
id alone), an ``external_id__v`` of the form ``{connection id}:{call id}`` for a known connection still
gives it away.
Clinical Activities the bridge creates by automation (F8) are *not* echoes: they must flow by F1.

CRM side: the bridge is the only writer of Vault Clinical Interactions, Clinical Studies and Clinical
Sites, so any event about them is an echo. Salesforce API names are case-insensitive, so are we there.
A Salesforce record names its object (``attributes.type``); a Vault CRM record does not, so one that
carries the external id field of an object the bridge writes (``vault_activity_id__v`` …) is one of them:
a call never has those fields.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from app.domain.crm import crm_object_name
from app.domain.ctms import object_type_of
from app.domain.errors import MappingError
from app.domain.names import CrmNames, CtmsNames


def is_ctms_echo(
    object_name: str,
    record: Mapping[str, object] | None,
    names: CtmsNames | None = None,
    *,
    connection_ids: Collection[str] = (),
) -> bool:
    """True for a CTMS event about a Medical Activity. A thin event (no record) cannot be judged: it
    answers False, and the engine reads the record and asks again (F1 also refuses a Medical Activity)."""
    names = names or CtmsNames.defaults()
    activity = names.activity
    if object_name != activity.object or record is None:
        return False
    try:
        object_type = object_type_of(record, activity.fields.object_type)
    except MappingError:
        object_type = None  # a malformed type is not proof of an echo; the mapping will report it
    if object_type in names.picklists.object_type.values():
        return object_type == names.picklists.medical_activity
    # no type, or one given only by its id (a real vault's answer): the external id may still tell
    external_id = record.get(activity.fields.external_id)
    if isinstance(external_id, str) and ":" in external_id:
        return external_id.split(":", 1)[0] in connection_ids
    return False


def is_crm_echo(object_name: str | None, names: CrmNames) -> bool:
    """True when a CRM event is about an object only the bridge writes."""
    if not object_name:
        return False
    if names.platform == "salesforce":
        return object_name.casefold() in {name.casefold() for name in names.written_objects()}
    return object_name in names.written_objects()


def is_crm_record_echo(record: Mapping[str, object] | None, names: CrmNames) -> bool:
    """``is_crm_echo`` for a raw record: by the object it names, or else by the external id it carries."""
    if record is None:
        return False
    object_name = crm_object_name(record)
    if object_name is not None:
        return is_crm_echo(object_name, names)
    return any(record.get(field) not in (None, "") for field in names.written_external_ids())

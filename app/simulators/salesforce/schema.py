"""The org's schema: which objects and fields exist, their types, picklists, references and access.

The defaults are the Veeva CRM objects the bridge writes and reads. Tests and demos can change them
(hide a field, make one read-only, add a picklist value) to see how a client copes with another org.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class FieldType(StrEnum):
    ID = "id"
    STRING = "string"
    TEXTAREA = "textarea"
    EMAIL = "email"
    PICKLIST = "picklist"
    REFERENCE = "reference"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    DOUBLE = "double"


TEXT_TYPES = frozenset({FieldType.STRING, FieldType.TEXTAREA, FieldType.EMAIL, FieldType.PICKLIST})
ID_TYPES = frozenset({FieldType.ID, FieldType.REFERENCE})


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: FieldType
    label: str
    length: int = 0
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    external_id: bool = False
    unique: bool = False
    picklist: tuple[str, ...] = ()
    inactive: tuple[str, ...] = ()  # picklist values an admin deactivated: describe omits them
    restricted: bool = False
    reference_to: str | None = None
    relationship_name: str | None = None
    auto_number_prefix: str | None = None  # set: the platform numbers the records (Name of a call)
    custom: bool = False

    @property
    def active_picklist(self) -> tuple[str, ...]:
        return tuple(v for v in self.picklist if v not in self.inactive)


@dataclass
class ObjectDef:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: dict[str, FieldDef]
    custom: bool = True
    name_from: tuple[str, str] | None = None  # (first, last): Name is derived, as for person accounts

    def field(self, name: str) -> FieldDef | None:
        """Field names are case-insensitive in the API, as in the platform."""
        found = self.fields.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        return next((f for f in self.fields.values() if f.name.lower() == lowered), None)

    def relationship(self, name: str) -> FieldDef | None:
        lowered = name.lower()
        return next(
            (
                f
                for f in self.fields.values()
                if f.relationship_name and f.relationship_name.lower() == lowered
            ),
            None,
        )


@dataclass
class Schema:
    objects: dict[str, ObjectDef] = field(default_factory=dict)

    def get(self, name: str) -> ObjectDef | None:
        found = self.objects.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        return next((o for o in self.objects.values() if o.name.lower() == lowered), None)

    def register(self, obj: ObjectDef) -> None:
        self.objects[obj.name] = obj

    def set_field(self, object_name: str, field_def: FieldDef) -> None:
        self.objects[object_name].fields[field_def.name] = field_def

    def remove_field(self, object_name: str, field_name: str) -> None:
        """As if the integration user had no field-level access: the field no longer exists for it."""
        self.objects[object_name].fields.pop(field_name, None)

    def set_access(self, object_name: str, field_name: str, *, createable: bool, updateable: bool) -> None:
        current = self.objects[object_name].fields[field_name]
        self.set_field(object_name, replace(current, createable=createable, updateable=updateable))

    def add_picklist_values(self, object_name: str, field_name: str, *values: str) -> None:
        """Add (or reactivate) values, as an admin editing the field would."""
        current = self.objects[object_name].fields[field_name]
        merged = current.picklist + tuple(v for v in values if v not in current.picklist)
        inactive = tuple(v for v in current.inactive if v not in values)
        self.set_field(object_name, replace(current, picklist=merged, inactive=inactive))

    def deactivate_picklist_value(self, object_name: str, field_name: str, value: str) -> None:
        """Setup's "Deactivate": the value stays on old records but describe omits it, and a restricted
        picklist refuses it (``INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST``)."""
        current = self.objects[object_name].fields[field_name]
        if value not in current.picklist:
            raise KeyError(value)
        if value not in current.inactive:
            self.set_field(object_name, replace(current, inactive=(*current.inactive, value)))


CALL_CHANNELS = ("Face_to_face_vod", "Video_vod", "Phone_vod", "Message_vod", "Email_vod", "Other_vod")
CALL_STATUSES = ("Planned_vod", "Saved_vod", "Submitted_vod")
DELETED_IN_VAULT = "Deleted_in_Vault_Clinical_vod"
STUDY_STATUSES = (
    "Planned_vod",
    "Active_vod",
    "Enrolling_vod",
    "Closed_vod",
    "Completed_vod",
    "Terminated_vod",
    DELETED_IN_VAULT,
)
SITE_STATUSES = (
    "Planned_vod",
    "Active_vod",
    "Enrolling_vod",
    "Closed_vod",
    "Terminated_vod",
    DELETED_IN_VAULT,
)
STUDY_PHASES = ("Phase_1_vod", "Phase_2_vod", "Phase_3_vod", "Phase_4_vod", "Not_applicable_vod")


def _system_fields(*, owned: bool) -> list[FieldDef]:
    read_only: dict[str, Any] = {"createable": False, "updateable": False}
    user_ref: dict[str, Any] = {"type": FieldType.REFERENCE, "reference_to": "User", **read_only}
    fields = [
        FieldDef("Id", FieldType.ID, "Record ID", length=18, nillable=False, **read_only),
        FieldDef("IsDeleted", FieldType.BOOLEAN, "Deleted", nillable=False, **read_only),
        FieldDef("CreatedDate", FieldType.DATETIME, "Created Date", nillable=False, **read_only),
        FieldDef("CreatedById", label="Created By ID", relationship_name="CreatedBy", length=18, **user_ref),
        FieldDef("LastModifiedDate", FieldType.DATETIME, "Last Modified Date", nillable=False, **read_only),
        FieldDef(
            "LastModifiedById",
            label="Last Modified By ID",
            relationship_name="LastModifiedBy",
            length=18,
            **user_ref,
        ),
        FieldDef("SystemModstamp", FieldType.DATETIME, "System Modstamp", nillable=False, **read_only),
    ]
    if owned:
        fields.append(
            FieldDef(
                "OwnerId",
                FieldType.REFERENCE,
                "Owner ID",
                length=18,
                reference_to="User",
                relationship_name="Owner",
            )
        )
    return fields


def _custom(name: str, ftype: FieldType, label: str, **kwargs: Any) -> FieldDef:
    if ftype in TEXT_TYPES and "length" not in kwargs:
        kwargs["length"] = 255
    return FieldDef(name, ftype, label, custom=True, **kwargs)


def _ref(name: str, label: str, target: str) -> FieldDef:
    return _custom(
        name, FieldType.REFERENCE, label, length=18, reference_to=target, relationship_name=name[:-1] + "r"
    )


def _object(
    name: str, label: str, plural: str, prefix: str, fields: list[FieldDef], **kwargs: Any
) -> ObjectDef:
    all_fields = _system_fields(owned=name != "User") + fields
    return ObjectDef(name, label, plural, prefix, {f.name: f for f in all_fields}, **kwargs)


def _name(label: str = "Name", *, auto_prefix: str | None = None) -> FieldDef:
    if auto_prefix is not None:
        return FieldDef(
            "Name",
            FieldType.STRING,
            label,
            length=80,
            createable=False,
            updateable=False,
            auto_number_prefix=auto_prefix,
        )
    return FieldDef("Name", FieldType.STRING, label, length=80)


def default_schema() -> Schema:
    """Veeva CRM on Salesforce, as far as the bridge is concerned (CONTRACT.md section 3 defaults)."""
    text, date_, picklist = FieldType.STRING, FieldType.DATE, FieldType.PICKLIST
    channel = _custom(
        "Call_Channel_vod__c", picklist, "Call Channel", picklist=CALL_CHANNELS, restricted=True
    )
    status = _custom("Status_vod__c", picklist, "Status", picklist=CALL_STATUSES, restricted=True)
    subject = _custom("Subject_vod__c", text, "Subject")
    account = _ref("Account_vod__c", "Account", "Account")
    objects = [
        _object(
            "Account",
            "Account",
            "Accounts",
            "001",
            [
                FieldDef("Name", text, "Account Name", length=255, nillable=False),
                FieldDef("FirstName", text, "First Name", length=40),
                FieldDef("LastName", text, "Last Name", length=80),
                FieldDef("PersonEmail", FieldType.EMAIL, "Email", length=80),
                _custom("External_ID_vod__c", text, "External ID", external_id=True),
                _custom("NPI_vod__c", text, "NPI", length=10, external_id=True),
                _custom(
                    "Specialty_1_vod__c", picklist, "Specialty 1", picklist=("Oncology_vod", "Cardiology_vod")
                ),
            ],
            custom=False,
            name_from=("FirstName", "LastName"),
        ),
        _object(
            "User",
            "User",
            "Users",
            "005",
            [
                FieldDef("Name", text, "Full Name", length=121, createable=False, updateable=False),
                FieldDef("FirstName", text, "First Name", length=40),
                FieldDef("LastName", text, "Last Name", length=80, nillable=False),
                FieldDef("Email", FieldType.EMAIL, "Email", length=128, nillable=False),
                FieldDef("Username", text, "Username", length=80),
                FieldDef("IsActive", FieldType.BOOLEAN, "Active", nillable=False),
            ],
            custom=False,
            name_from=("FirstName", "LastName"),
        ),
        _object(
            "Call2_vod__c",
            "Call",
            "Calls",
            "a0B",
            [
                _name("Call Name", auto_prefix="C-"),
                _custom("Call_Date_vod__c", date_, "Date"),
                _custom("Call_Datetime_vod__c", FieldType.DATETIME, "Datetime"),
                channel,
                status,
                subject,
                account,
                # default name: set by "Send to Vault Clinical", so catch-up can find sent calls
                _custom("Sent_to_Vault_Clinical_vod__c", FieldType.BOOLEAN, "Sent to Vault Clinical"),
            ],
        ),
        _object(
            "Vault_Clinical_Interaction_vod__c",
            "Vault Clinical Interaction",
            "Vault Clinical Interactions",
            "a2V",
            [
                _name("Interaction Name", auto_prefix="VCI-"),
                _custom("Vault_Activity_ID_vod__c", text, "Vault Activity ID", external_id=True, unique=True),
                account,
                _custom("Interaction_Date_vod__c", date_, "Interaction Date"),
                channel,
                status,
                _custom("From_vod__c", text, "From"),
                subject,
                _ref("Clinical_Study_vod__c", "Clinical Study", "Clinical_Study_vod__c"),
                _ref("Clinical_Site_vod__c", "Clinical Site", "Clinical_Site_vod__c"),
            ],
        ),
        _object(
            "Clinical_Study_vod__c",
            "Clinical Study",
            "Clinical Studies",
            "a1S",
            [
                _name("Clinical Study Name"),
                _custom("Vault_Study_ID_vod__c", text, "Vault Study ID", external_id=True, unique=True),
                _custom("Status_vod__c", picklist, "Status", picklist=STUDY_STATUSES, restricted=True),
                _custom("Phase_vod__c", picklist, "Phase", picklist=STUDY_PHASES),
            ],
        ),
        _object(
            "Clinical_Site_vod__c",
            "Clinical Site",
            "Clinical Sites",
            "a1T",
            [
                _name("Clinical Site Name"),
                _custom("Vault_Site_ID_vod__c", text, "Vault Site ID", external_id=True, unique=True),
                _custom("Status_vod__c", picklist, "Status", picklist=SITE_STATUSES, restricted=True),
                _ref("Clinical_Study_vod__c", "Clinical Study", "Clinical_Study_vod__c"),
                _custom("Country_vod__c", text, "Country"),
            ],
        ),
    ]
    return Schema({o.name: o for o in objects})

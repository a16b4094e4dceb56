"""Default object configurations: a CTMS vault (Clinical Operations) and a Vault CRM org.

Names follow CONTRACT.md section 3 and SPEC.md. Where public Veeva documentation does not confirm a name
(marked "default" below) the value is ours, as SPEC.md allows; a test or demo can register its own.
"""

from __future__ import annotations

from app.simulators.vault.schema import FieldDef, FieldType, NameMode, SchemaRegistry, define_object

S, B = FieldType.STRING, FieldType.BOOLEAN
D, P, REF = FieldType.DATE, FieldType.PICKLIST, FieldType.OBJECT

CTMS_CHANNELS = ("in_person__v", "video__v", "phone__v", "chat_text__v", "email__v", "other__v")  # default
# default: the visit and communication method tables of app/domain/names/ctms.py
VISIT_METHODS = ("on_site__v", "remote__v", "video__v", "phone__v")
COMMUNICATION_METHODS = (
    "in_person__v",
    "meeting__v",
    "video__v",
    "phone__v",
    "chat_text__v",
    "email__v",
    "letter__v",
    "other__v",
)
# default: the phase and study/site status tables of app/domain/names/ctms.py
STUDY_PHASES = ("phase_1__v", "phase_2__v", "phase_3__v", "phase_4__v", "not_applicable__v")
RECORD_STATUSES = (
    "planned__v",
    "active__v",
    "enrolling__v",
    "closed__v",
    "completed__v",
    "terminated__v",
)
CRM_CHANNELS = ("face_to_face__v", "video__v", "phone__v", "message__v", "email__v", "other__v")  # default
CRM_CALL_STATUSES = ("planned__v", "saved__v", "submitted__v")  # default
CRM_SYNC_STATUSES = ("active__v", "inactive__v", "deleted_in_vault_clinical__v")  # default


def _ref(name: str, target: str, *, required: bool = False) -> FieldDef:
    return FieldDef(name, REF, target=target, required=required)


def _unique(name: str) -> FieldDef:
    return FieldDef(name, S, unique=True, max_length=255)


def _users() -> list[FieldDef]:
    return [
        FieldDef("username__sys", S, "User Name", required=True, unique=True),
        FieldDef("first_name__sys", S, "First Name", required=True),
        FieldDef("last_name__sys", S, "Last Name", required=True),
        FieldDef("email__sys", S, "Email", required=True),
    ]


def ctms_schema() -> SchemaRegistry:
    """Clinical Operations objects the bridge reads and writes."""
    # F8 sources: the levels and person an automated Clinical Activity copies, and the flag that asks
    # for the activity to be updated (names as app/domain/names/ctms.py's defaults).
    person_levels = [
        _ref("study__v", "study__v"),
        _ref("study_country__v", "study_country__v"),
        _ref("site__v", "site__v"),
        _ref("person__v", "person__sys"),
        FieldDef("activity_update_required__v", B, "Activity Update Required", default=False),
    ]
    return SchemaRegistry(
        [
            define_object("user__sys", "User", "USR", _users(), name_mode=NameMode.PERSON, numeric_ids=True),
            define_object(
                "study__v",
                "Study",
                "0ST",
                [
                    _unique("external_id__v"),
                    FieldDef("phase__v", P, "Phase", picklist=STUDY_PHASES),
                    FieldDef("study_status__v", P, "Study Status", picklist=RECORD_STATUSES),
                ],
                label_plural="Studies",
                name_mode=NameMode.REQUIRED,
            ),
            define_object(
                "study_country__v",
                "Study Country",
                "0SC",
                [_ref("study__v", "study__v", required=True), FieldDef("country__v", S)],
                label_plural="Study Countries",
                name_mode=NameMode.REQUIRED,
            ),
            define_object(
                "site__v",
                "Study Site",
                "0SI",
                [
                    _unique("external_id__v"),
                    _ref("study__v", "study__v", required=True),
                    _ref("study_country__v", "study_country__v"),
                    FieldDef("country__v", S),
                    FieldDef("site_status__v", P, "Site Status", picklist=RECORD_STATUSES),
                ],
                name_mode=NameMode.REQUIRED,
            ),
            define_object(
                "person__sys",
                "Person",
                "V0P",
                [
                    FieldDef("first_name__sys", S, required=True),
                    FieldDef("last_name__sys", S, required=True),
                    FieldDef("email__sys", S),
                    _unique("external_id__v"),  # default identifier shared with CRM accounts (SPEC.md 4)
                    _unique("npi__v"),  # a second identifier, for connections that match on NPI
                ],
                name_mode=NameMode.PERSON,
            ),
            define_object(
                "study_person__clin",
                "Study Person",
                "V1P",
                [
                    _ref("study__v", "study__v", required=True),
                    _ref("site__v", "site__v"),
                    _ref("person__clin", "person__sys", required=True),
                ],
                label_plural="Study People",
            ),
            define_object(
                "monitoring_event__v",
                "Monitoring Event",
                "V5M",
                [
                    *person_levels,
                    FieldDef(
                        "monitoring_visit_method__v", P, "Monitoring Visit Method", picklist=VISIT_METHODS
                    ),
                    FieldDef("planned_visit_start_date__v", D, "Planned Visit Start Date"),
                    FieldDef("actual_visit_start_date__v", D, "Actual Visit Start Date"),
                ],
                name_mode=NameMode.REQUIRED,  # "IMV 3 - Site 101": becomes the activity's subject
            ),
            define_object(
                "study_communication_log__ctms",  # default name (SPEC.md 1)
                "Study Communication Log Item",
                "V7L",
                [
                    *person_levels,
                    FieldDef("subject__v", S, max_length=255),
                    FieldDef("communication_date__v", D, "Communication Date"),
                    FieldDef(
                        "communication_method__v", P, "Communication Method", picklist=COMMUNICATION_METHODS
                    ),
                ],
            ),
            define_object(
                "crm_activity__v",
                "Activity",
                "V6A",
                [
                    _ref("person__v", "person__sys"),
                    FieldDef("activity_date__v", D),
                    FieldDef("channel__v", P, picklist=CTMS_CHANNELS),
                    FieldDef("complete__v", B, default=False),
                    FieldDef("from__v", S, max_length=255),
                    FieldDef("subject__v", S, max_length=255),
                    _ref("study__v", "study__v"),
                    _ref("study_country__v", "study_country__v"),
                    _ref("site__v", "site__v"),
                    _ref("study_person__v", "study_person__clin"),
                    _ref("monitoring_event__v", "monitoring_event__v"),
                    _ref("study_communication_log__v", "study_communication_log__ctms"),
                    _unique("external_id__v"),
                ],
                label_plural="Activities",
                object_types=("clinical_activity__v", "medical_activity__v"),
            ),
        ]
    )


def crm_schema() -> SchemaRegistry:
    """Vault CRM objects (all names here are defaults: Vault CRM's public docs do not list them)."""
    return SchemaRegistry(
        [
            define_object("user__sys", "User", "USR", _users(), name_mode=NameMode.PERSON, numeric_ids=True),
            define_object(
                "account__v",
                "Account",
                "V0A",
                [
                    FieldDef("first_name__v", S),
                    FieldDef("last_name__v", S),
                    _unique("external_id__v"),  # default account identifier
                ],
                name_mode=NameMode.PERSON,
            ),
            define_object(
                "clinical_study__v",
                "Clinical Study",
                "V2S",
                [
                    _unique("vault_study_id__v"),
                    FieldDef("phase__v", P, "Phase", picklist=STUDY_PHASES),  # the bridge's CRM default
                    # Vault keeps status__v for active/inactive: an object's own status is {object}_status__v
                    FieldDef(
                        "clinical_study_status__v", P, "Clinical Study Status", picklist=CRM_SYNC_STATUSES
                    ),
                ],
                label_plural="Clinical Studies",
                name_mode=NameMode.REQUIRED,
            ),
            define_object(
                "clinical_site__v",
                "Clinical Site",
                "V2T",
                [
                    _unique("vault_site_id__v"),
                    _ref("clinical_study__v", "clinical_study__v"),
                    FieldDef("country__v", S),
                    FieldDef(
                        "clinical_site_status__v", P, "Clinical Site Status", picklist=CRM_SYNC_STATUSES
                    ),
                ],
                name_mode=NameMode.REQUIRED,
            ),
            define_object(
                "call2__v",
                "Call",
                "V2C",
                [
                    _ref("account__v", "account__v", required=True),
                    FieldDef("call_date__v", D),
                    FieldDef("call_datetime__v", FieldType.DATETIME),
                    FieldDef("call_channel__v", P, picklist=CRM_CHANNELS),
                    FieldDef("subject__v", S, max_length=255),
                    # default name: set by "Send to Vault Clinical", so catch-up can find sent calls
                    FieldDef("sent_to_vault_clinical__v", B, default=False),
                    FieldDef("call2_status__v", P, "Call Status", picklist=CRM_CALL_STATUSES),
                ],
            ),
            define_object(
                "vault_clinical_interaction__v",
                "Vault Clinical Interaction",
                "V2I",
                [
                    _unique("vault_activity_id__v"),
                    _ref("account__v", "account__v", required=True),
                    FieldDef("interaction_date__v", D),
                    FieldDef("call_channel__v", P, picklist=CRM_CHANNELS),
                    FieldDef("from__v", S, max_length=255),
                    FieldDef("subject__v", S, max_length=255),
                    _ref("clinical_study__v", "clinical_study__v"),
                    _ref("clinical_site__v", "clinical_site__v"),
                    FieldDef(
                        "vault_clinical_interaction_status__v",
                        P,
                        "Interaction Status",
                        picklist=CRM_CALL_STATUSES,
                    ),
                ],
            ),
        ]
    )


def schema_for(flavor: str) -> SchemaRegistry:
    if flavor == "ctms":
        return ctms_schema()
    if flavor == "crm":
        return crm_schema()
    raise ValueError(f"unknown vault flavor {flavor!r}: expected 'ctms' or 'crm'")

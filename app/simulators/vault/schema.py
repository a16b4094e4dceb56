"""The object schema registry: which Vault objects exist, their fields, picklists and references.

The simulator validates every write against it and renders the metadata API from it, so a bridge that
passes against the simulator sends only fields and values a vault with this configuration would accept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class FieldType(StrEnum):
    """Field data types, spelled as the metadata API spells them."""

    ID = "ID"
    STRING = "String"
    NUMBER = "Number"
    BOOLEAN = "Boolean"
    DATE = "Date"
    DATETIME = "DateTime"
    PICKLIST = "Picklist"
    OBJECT = "Object"


class NameMode(StrEnum):
    """How ``name__v`` gets its value."""

    REQUIRED = "required"  # the caller supplies it
    AUTO = "auto"  # system-managed: an auto-number, not editable
    PERSON = "person"  # system-managed: "First Last" from the first/last name fields


@dataclass(frozen=True, slots=True)
class FieldDef:
    name: str
    type: FieldType
    label: str = ""
    required: bool = False
    unique: bool = False
    editable: bool = True
    picklist: tuple[str, ...] = ()  # allowed values, for PICKLIST fields
    multi_value: bool = False  # PICKLIST only
    picklist_name: str | None = None  # PICKLIST only; default: the field's name with __v
    default: Any = None  # value a create gets when the caller leaves the field out
    target: str | None = None  # referenced object, for OBJECT fields
    max_length: int | None = None

    @property
    def picklist_ref(self) -> str:
        """The (vault-wide) picklist the field draws its values from, as the metadata API names it."""
        return self.picklist_name or self.name.rsplit("__", 1)[0] + "__v"

    @property
    def relationship(self) -> str:
        """Vault names an outbound reference's relationship after its field: ``site__v`` -> ``site__vr``."""
        return self.name + "r"

    def metadata(self, api_version: str) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "name": self.name,
            "label": self.label or _label(self.name),
            "type": self.type.value,
            "required": self.required,
            "unique": self.unique,
            "editable": self.editable,
            "status": ["active__v"],
        }
        if self.type is FieldType.PICKLIST:
            meta["picklist"] = self.picklist_ref
            meta["multi_value"] = self.multi_value
        if self.type is FieldType.OBJECT and self.target:
            meta["relationship_name"] = self.relationship
            meta["object"] = {
                "name": self.target,
                "url": f"/api/{api_version}/metadata/vobjects/{self.target}",
            }
        if self.max_length is not None:
            meta["max_length"] = self.max_length
        return meta


@dataclass(slots=True)
class ObjectSchema:
    name: str
    label: str
    label_plural: str
    prefix: str  # the 3 characters every record id of this object starts with
    fields: dict[str, FieldDef] = field(default_factory=dict)
    object_types: tuple[str, ...] = ()  # API names of the object's types; the first is the default
    name_mode: NameMode = NameMode.AUTO
    numeric_ids: bool = False  # user__sys: ids are numbers, as Vault user ids are

    def field(self, name: str) -> FieldDef | None:
        return self.fields.get(name)

    def relationship(self, relationship: str) -> FieldDef | None:
        """The reference field behind a relationship name such as ``person__vr``."""
        if not relationship.endswith("r"):
            return None
        found = self.fields.get(relationship[:-1])
        return found if found is not None and found.type is FieldType.OBJECT else None

    @property
    def unique_fields(self) -> list[str]:
        return [f.name for f in self.fields.values() if f.unique]

    def summary(self, api_version: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "label_plural": self.label_plural,
            "prefix": self.prefix,
            "url": f"/api/{api_version}/metadata/vobjects/{self.name}",
        }

    def metadata(self, api_version: str, registry: SchemaRegistry) -> dict[str, Any]:
        relationships = []
        for f in self.fields.values():
            if f.type is FieldType.OBJECT and f.target and f.editable:
                target = registry.get(f.target)
                relationships.append(
                    {
                        "relationship_name": f.relationship,
                        "relationship_label": f.label or _label(f.name),
                        "field": f.name,
                        "relationship_type": "reference_outbound",
                        "object": target.summary(api_version) if target else {"name": f.target},
                    }
                )
        base = f"/api/{api_version}"
        return {
            **self.summary(api_version),
            "source": "standard",
            "status": ["active__v"],
            "available_lifecycles": [],
            "allow_types": bool(self.object_types),
            "object_types": list(self.object_types),
            "system_managed_name": self.name_mode is not NameMode.REQUIRED,
            "urls": {
                "field": f"{base}/metadata/vobjects/{self.name}/fields/{{name}}",
                "record": f"{base}/vobjects/{self.name}/{{id}}",
                "list": f"{base}/vobjects/{self.name}",
                "metadata": f"{base}/metadata/vobjects/{self.name}",
            },
            "relationships": relationships,
            "fields": [f.metadata(api_version) for f in self.fields.values()],
        }


class SchemaRegistry:
    """The objects a simulated vault has. Add or replace objects to model a customer's configuration."""

    def __init__(self, objects: Iterable[ObjectSchema] = ()) -> None:
        self._objects: dict[str, ObjectSchema] = {}
        for obj in objects:
            self.add(obj)

    def add(self, obj: ObjectSchema) -> None:
        clash = next(
            (o.name for o in self._objects.values() if o.prefix == obj.prefix and o.name != obj.name), None
        )
        if clash:
            raise ValueError(f"prefix {obj.prefix} of {obj.name} is already used by {clash}")
        self._objects[obj.name] = obj
        if obj.object_types and OBJECT_TYPE not in self._objects:
            self.add(object_type_schema())  # an object with types needs the object its types live in

    def get(self, name: str) -> ObjectSchema | None:
        return self._objects.get(name)

    def names(self) -> list[str]:
        return list(self._objects)

    def __iter__(self) -> Iterator[ObjectSchema]:
        return iter(self._objects.values())

    def __contains__(self, name: object) -> bool:
        return name in self._objects

    def picklist_fields(self, picklist: str) -> list[tuple[ObjectSchema, FieldDef]]:
        """Every (object, field) that draws its values from ``picklist``: Vault picklists are shared."""
        return [
            (obj, f)
            for obj in self._objects.values()
            for f in obj.fields.values()
            if f.type is FieldType.PICKLIST and f.picklist_ref == picklist
        ]

    def picklist_names(self) -> list[str]:
        return sorted(
            {f.picklist_ref for o in self._objects.values() for f in o.fields.values() if f.picklist}
        )

    def add_picklist_value(self, picklist: str, value: str) -> None:
        """A new value on a picklist, as an admin adds one: every field using the picklist accepts it."""
        for obj, f in self.picklist_fields(picklist):
            if value not in f.picklist:
                obj.fields[f.name] = replace(f, picklist=(*f.picklist, value))


def _label(name: str) -> str:
    return name.rsplit("__", 1)[0].replace("_", " ").title()


STATUS_VALUES = ("active__v", "inactive__v")
OBJECT_TYPE = "object_type__v"  # the queryable object whose records are the vault's object types


def object_type_schema() -> ObjectSchema:
    """Vault's object types as records (VQL ``FROM object_type__v``): their ids are what records carry."""
    return define_object(
        OBJECT_TYPE,
        "Object Type",
        "OOT",
        [
            FieldDef("api_name__v", FieldType.STRING, "API Name", editable=False),
            FieldDef("object_name__v", FieldType.STRING, "Object", editable=False),
            FieldDef("type_label__v", FieldType.STRING, "Type Label", editable=False),
        ],
    )


def define_object(
    name: str,
    label: str,
    prefix: str,
    fields: Iterable[FieldDef],
    *,
    label_plural: str | None = None,
    object_types: tuple[str, ...] = (),
    name_mode: NameMode = NameMode.AUTO,
    status_values: tuple[str, ...] = STATUS_VALUES,
    numeric_ids: bool = False,
) -> ObjectSchema:
    """An object with Vault's standard fields (id, name__v, status__v, audit fields) plus ``fields``."""
    std: list[FieldDef] = [
        FieldDef("id", FieldType.ID, "ID", editable=False),
        FieldDef(
            "name__v",
            FieldType.STRING,
            "Name",
            required=name_mode is NameMode.REQUIRED,
            editable=name_mode is NameMode.REQUIRED,
            max_length=128,
        ),
        FieldDef(
            "status__v",
            FieldType.PICKLIST,
            "Status",
            picklist=status_values,
            default=status_values[0],
            # an object with its own statuses has its own picklist, so the shared status__v stays intact
            picklist_name=None if status_values == STATUS_VALUES else name.rsplit("__", 1)[0] + "_status__v",
        ),
    ]
    if object_types:  # a reference to an object_type__v record: records carry the type's id, as Vault's do
        std.append(FieldDef("object_type__v", FieldType.OBJECT, "Object Type", target=OBJECT_TYPE))
    audit = [
        FieldDef("created_date__v", FieldType.DATETIME, "Created Date", editable=False),
        FieldDef("modified_date__v", FieldType.DATETIME, "Last Modified Date", editable=False),
        FieldDef("created_by__v", FieldType.OBJECT, "Created By", editable=False, target="user__sys"),
        FieldDef("modified_by__v", FieldType.OBJECT, "Last Modified By", editable=False, target="user__sys"),
    ]
    all_fields: dict[str, FieldDef] = {}
    for f in [*std, *fields, *audit]:
        all_fields[f.name] = f  # an explicit field replaces a standard one of the same name
    return ObjectSchema(
        name=name,
        label=label,
        label_plural=label_plural or label + "s",
        prefix=prefix,
        fields=all_fields,
        object_types=object_types,
        name_mode=name_mode,
        numeric_ids=numeric_ids,
    )

"""Salesforce Outbound Messages: the SOAP 1.1 ``notifications`` a Flow or workflow rule sends, parsed with
no DTDs or entities, and the SOAP answers (pure: no I/O).

Facts from Salesforce's docs ("Outbound Messaging", its WSDL): the body is a SOAP envelope whose
``notifications`` element (namespace ``http://soap.sforce.com/2005/09/outbound``) holds ``OrganizationId``,
``ActionId``, ``SessionId`` (when chosen), ``EnterpriseUrl``, ``PartnerUrl`` and up to 100 ``Notification``,
each an ``Id`` and an ``sObject`` (``xsi:type="sf:<object>"``) with the fields the admin chose. Salesforce
retries for up to 24 hours until the answer is a ``notificationsResponse`` with ``<Ack>true</Ack>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element  # the type only: parsing goes through defusedxml
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from app.domain.refusals import Refused

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SALESFORCE_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
MAX_NOTIFICATIONS = 100


MessageRefused = Refused  # an Outbound Message refused (answered as a SOAP fault)


@dataclass(frozen=True)
class Notification:
    id: str  # Salesforce's id for this notification: the same on every retry
    object: str  # the sObject's type, e.g. Call2_vod__c
    fields: dict[str, Any] = field(default_factory=dict)  # strings, or None for xsi:nil


@dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    action_id: str | None
    notifications: list[Notification]


def _local(tag: str) -> tuple[str, str]:
    namespace, _, name = tag.rpartition("}")
    return namespace.lstrip("{"), name


def _child(parent: Element, namespace: str, name: str) -> Element | None:
    return parent.find(f"{{{namespace}}}{name}")


def _text(element: Element | None) -> str | None:
    if element is None or element.get(f"{{{XSI}}}nil") == "true":
        return None
    return (element.text or "").strip()


def parse(body: bytes) -> OutboundMessage:
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise MessageRefused(400, "XML_FORBIDDEN", "DTDs and entities are not accepted") from None
    except (ParseError, LookupError, ValueError):  # LookupError: an encoding the declaration names, unknown
        raise MessageRefused(400, "XML_INVALID", "the body is not well-formed XML") from None
    if root.tag != f"{{{SOAP}}}Envelope":
        raise MessageRefused(400, "NOT_A_SOAP_ENVELOPE", "the body is not a SOAP 1.1 envelope")
    soap_body = _child(root, SOAP, "Body")
    notifications = _child(soap_body, OUTBOUND, "notifications") if soap_body is not None else None
    if notifications is None:
        raise MessageRefused(400, "NOT_AN_OUTBOUND_MESSAGE", "the envelope holds no notifications element")
    organization_id = _text(_child(notifications, OUTBOUND, "OrganizationId"))
    if not organization_id or not SALESFORCE_ID.match(organization_id):
        raise MessageRefused(400, "MESSAGE_INVALID", "OrganizationId is missing or not a Salesforce id")
    items = notifications.findall(f"{{{OUTBOUND}}}Notification")
    if len(items) > MAX_NOTIFICATIONS:
        raise MessageRefused(400, "MESSAGE_INVALID", f"more than {MAX_NOTIFICATIONS} notifications")
    return OutboundMessage(
        organization_id=organization_id,
        action_id=_text(_child(notifications, OUTBOUND, "ActionId")),
        notifications=[_notification(n) for n in items],
    )


def _notification(element: Element) -> Notification:
    notification_id = _text(_child(element, OUTBOUND, "Id"))
    sobject = _child(element, OUTBOUND, "sObject")
    if not notification_id or not SALESFORCE_ID.match(notification_id) or sobject is None:
        raise MessageRefused(400, "MESSAGE_INVALID", "each Notification needs its Id and an sObject")
    object_name = (sobject.get(f"{{{XSI}}}type") or "").rpartition(":")[2]
    if not FIELD_NAME.match(object_name):
        raise MessageRefused(400, "MESSAGE_INVALID", "an sObject's xsi:type does not name an object")
    fields: dict[str, Any] = {}
    for child in sobject:
        _, name = _local(child.tag)
        if FIELD_NAME.match(name):
            fields[name] = _text(child)
    record_id = fields.get("Id")
    if not isinstance(record_id, str) or not SALESFORCE_ID.match(record_id):
        raise MessageRefused(400, "MESSAGE_INVALID", "each sObject needs its Id (choose the Id field)")
    return Notification(notification_id, object_name, fields)


def ack() -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP}"><soapenv:Body>'
        f'<notificationsResponse xmlns="{OUTBOUND}"><Ack>true</Ack></notificationsResponse>'
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()


def fault(code: str, message: str, *, server: bool) -> bytes:
    """A SOAP 1.1 fault: no Ack, so Salesforce sends the message again later."""
    who = "Server" if server else "Client"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP}"><soapenv:Body>'
        f"<soapenv:Fault><faultcode>soapenv:{who}</faultcode><faultstring>{escape(code)}: {escape(message)}"
        "</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    ).encode()

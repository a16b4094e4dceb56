"""Outbound Messages, as an org sends them when a Flow's "Send to Vault Clinical" criteria are met.

A SOAP 1.1 ``notifications`` message (namespace ``http://soap.sforce.com/2005/09/outbound``) with the org
id, the action id, the endpoint URLs and one ``Notification`` per record (its own ``Id``, kept on every
retry) whose ``sObject`` carries the fields an admin chose: here the call's own fields, no relationships,
as the real feature allows. Values are text; an empty field is ``xsi:nil``.
"""

from __future__ import annotations

import secrets
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from app.simulators.salesforce.formats import id_suffix

CHOSEN_FIELDS = (
    "Id",
    "Account_vod__c",
    "Call_Date_vod__c",
    "Call_Channel_vod__c",
    "Status_vod__c",
    "Subject_vod__c",
    "CreatedById",
    "LastModifiedDate",
)
ACTION_ID = "04k5g000000SimA" + id_suffix("04k5g000000SimA")


def new_notification_id() -> str:
    id15 = "04l5g" + "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(10))
    return id15 + id_suffix(id15)


def _value(name: str, value: Any) -> str:
    if value is None:
        return f'<sf:{name} xsi:nil="true"/>'
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return f"<sf:{name}>{escape(text)}</sf:{name}>"


def notifications_body(
    org_id: str, instance_url: str, object_name: str, notifications: list[tuple[str, dict[str, Any]]]
) -> bytes:
    """The SOAP envelope for ``(notification id, record)`` pairs of one object."""
    items = "".join(
        f"<Notification><Id>{escape(notification_id)}</Id>"
        f'<sObject xsi:type={quoteattr("sf:" + object_name)} xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        + "".join(_value(name, record.get(name)) for name in CHOSEN_FIELDS)
        + "</sObject></Notification>"
        for notification_id, record in notifications
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{escape(org_id)}</OrganizationId><ActionId>{ACTION_ID}</ActionId>"
        '<SessionId xsi:nil="true"/>'
        f"<EnterpriseUrl>{escape(instance_url)}/services/Soap/c/62.0/{escape(org_id[:15])}</EnterpriseUrl>"
        f"<PartnerUrl>{escape(instance_url)}/services/Soap/u/62.0/{escape(org_id[:15])}</PartnerUrl>"
        f"{items}</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()

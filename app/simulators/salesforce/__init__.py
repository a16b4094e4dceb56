"""The Veeva CRM on Salesforce simulator: OAuth, sObjects, collections, SOQL, faults and signed events."""

from app.simulators.salesforce.app import create_salesforce_app
from app.simulators.salesforce.state import SalesforceState

__all__ = ["SalesforceState", "create_salesforce_app"]

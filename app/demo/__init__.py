"""`bridge demo`: the whole product in one process — the bridge on its embedded default, a simulated CTMS
vault and a simulated Salesforce CRM org — playing every flow of SPEC.md section 2."""

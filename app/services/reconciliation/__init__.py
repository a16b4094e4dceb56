"""Reconciliation: do the CTMS and every CRM org agree right now (run.py), and make them agree (repair.py)."""

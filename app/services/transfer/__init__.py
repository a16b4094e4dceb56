"""The Transfer job (SPEC.md section 5): CRM deletions, waiting deliveries, and catch-up for lost webhooks."""

"""Pure rules, no I/O: typed CTMS and CRM records, default names with overrides, and the mappings.

Layout: ``vocabulary`` (platform-neutral meanings), ``names`` (API names per system, overrides),
``errors`` (typed ``MappingError`` with stable codes), ``fields``/``dates`` (reading raw records),
``ctms``/``crm``/``users`` (parsed records), ``values`` (picklist tables), ``upsert`` (the output),
``mapping/`` (the F1-F9 rules and account matching). ``tests/domain/test_purity.py`` keeps I/O out.
"""

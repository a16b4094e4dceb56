"""The translation rules of SPEC.md sections 2 to 4, as pure functions over typed records.

One module per subject: ``activities`` (F1-F4), ``studies`` and ``sites`` (F5-F7), ``automation`` (F8),
``echo`` (F9), ``accounts`` (Person <-> Account). Import from the modules themselves.
"""

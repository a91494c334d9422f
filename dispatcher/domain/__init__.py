"""Domain: what an incident is and what is due for it, as pure functions over plain data.

Owns the incident and the validation of its fields (:mod:`.incident`,
:mod:`.fields`), planning who gets what (:mod:`.plan`, with the delivery keys),
the timers that say which steps, escalations and reminders are due
(:mod:`.timers`), and the matching primitives of triage (:mod:`.phrases`,
:mod:`.matchers`). Standard library only, no I/O: no store, no sender, no
templates. Not yet true everywhere: see the import-linter contracts in
pyproject.toml for the imports of config/ and render/ still to remove.
"""

"""Domain: what an incident is and what is due for it, as pure functions over plain data.

Owns the incident and the validation of its fields (:mod:`.incident`,
:mod:`.fields`), the states of a delivery and an incident (:mod:`.states`),
planning who gets what (:mod:`.plan`, keyed by :mod:`.delivery_key`;
:mod:`.entries`, one line of a step's audience), the timers that say which
steps, escalations and reminders are due (:mod:`.timers`), the order the outbox
sends in (:mod:`.priority`), durations as people write and read them
(:mod:`.durations`), and triage (:mod:`.triage`, over
:mod:`.phrases`, :mod:`.concepts` and :mod:`.matchers`). Standard library only
(and the Snowball stemmer, which :mod:`.concepts` imports on first use), no I/O: no
store, no sender, no templates. The loaded directory, policy and routing rules
are read by attribute and imported for type checking only; the project
imports at run time are the error types (:mod:`dispatcher.errors`: invalid
input is an InputError naming its field) and the plugin contract's Address,
which a planned delivery carries (pyproject.toml, import-linter).
"""

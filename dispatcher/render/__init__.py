"""Render: an incident's context into what each medium can carry, safely and within budget.

Owns the jinja2 templates (:mod:`.templates`), escaping for each medium
(:mod:`.escaping`, :mod:`.spans`), the SMS budget (:mod:`.gsm7`), the sample
contexts `notify check` renders (:mod:`.samples`) and the terminal tables every
command prints (:mod:`.table`). Knows nothing of the store or of sending.
"""

"""Render: an incident's context into what each medium can carry, safely and within budget.

Owns the jinja2 templates (:mod:`.templates`: loading, strict rendering, lint;
:mod:`.jinja_context`: what a template sees), the notice every template or the
plain fallback produces, with drill marks and budgets (:mod:`.notice`),
escaping for each medium (:mod:`.escaping`, :mod:`.spans`), the SMS budget
(:mod:`.gsm7`), the sample contexts `notify check` renders (:mod:`.samples`)
and the terminal tables every command prints (:mod:`.table`). Knows nothing of
the store or of sending.
"""

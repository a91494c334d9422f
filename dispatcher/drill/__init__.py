"""Scripted escalation drills: the scenario, its stand-ins and its expectations.

`scenario` loads and validates a drill file; `sandbox` starts local stand-ins
for every channel; `expect` checks the expectations (pure). Playing the
timeline through the use cases is itself a use case, in app/
(:mod:`dispatcher.app.drill`), and so is its report
(:mod:`dispatcher.app.drill_report`: terminal table, JSON and HTML); this
package sits below app/ and imports none of it.
"""

"""Scripted escalation drills: a scenario on a simulated clock, through the real engine, with a report.

`scenario` loads and validates a drill file; `sandbox` starts local stand-ins
for every channel; `runner` plays the timeline; `expect` checks the
expectations (pure); `report` renders the terminal table, JSON and HTML.
"""

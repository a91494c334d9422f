"""Documents for the questions people ask: which category is this (triage), who gets paged (who), which channels are installed.

Each function returns a plain JSON-able dict (``"schema": 1``) and a text
rendering; the CLI prints one of them. Nothing here sends or writes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from ..domain.account import checked_acv, checked_plan, stated_plan
from ..domain.durations import format_duration
from ..domain.incident import Incident, format_time
from ..domain.plan import Planned, plan_escalation, plan_step, step_entries
from ..domain.quiet_hours import hold_quiet_pages
from ..domain.triage import Report, TriageResult, triage
from ..render.table import PLAIN, Column, Output, render
from .engine import Runtime

# Report: the facts triage reads (text, plan, contract value...), which `notify triage` builds from its options.
__all__ = ["Report", "account_facts", "installed_channels", "report_with_account", "run_triage", "triage_document", "triage_text", "who_document", "who_text"]


def account_facts(values: dict[str, Any]) -> tuple[str | None, float | None]:
    """The plan and contract value given with a report, checked as an incident checks them (InputError naming
    the field): triage reads exactly what the incident will keep."""
    acv = checked_acv(values.get("acv"))
    return checked_plan(values.get("plan")), float(acv) if acv is not None else None


def report_with_account(rt: Runtime, report: Report, customer: str | None) -> tuple[Report, str | None]:
    """Fill plan, contract value and Fortune 500 flag from a known account, else the plan the text states
    ("they are on the enterprise plan"); explicit options win."""
    if not customer or not (found := rt.directory.customer(customer)):
        return replace(report, plan=report.plan or stated_plan(report.text)), None
    account_id, account = found
    return replace(report, plan=report.plan or account.plan,
                   acv=report.acv if report.acv is not None else float(account.annual_contract_value),
                   fortune500=report.fortune500 if report.fortune500 is not None else account.fortune500), account_id


def triage_document(rt: Runtime, report: Report, result: TriageResult, now: datetime) -> dict[str, Any]:
    klass = rt.policy.classes[result.klass]
    winner = result.winner
    level = (winner.level if winner and winner.level else None)
    incident = Incident("", result.klass, now, {}, also=result.also, needs_review=result.needs_review)
    return {
        "schema": 1, "command": "triage", "class": result.klass, "title": klass.title, "tier": result.tier,
        "tier_title": rt.policy.tiers[result.tier].title, "response_sla": format_duration(klass.response_sla),
        "respond_by": format_time(now + klass.response_sla), "level": _level(rt, level, report.plan),
        "needs_review": result.needs_review, "default_used": result.default_used,
        "audience": list(dict.fromkeys(e.to for e in step_entries(incident, klass, 0))),
        "matches": [{"rule": m.rule, "criterion": m.criterion, "class": m.klass, "tier": m.tier,
                     "words": list(m.words), "conditions": list(m.conditions), "weak": m.weak}
                    for m in result.matches],
        "negated": [{"rule": rule, "words": words, "cue": cue} for rule, words, cue in result.negated],
        "hypothetical": [{"rule": rule, "words": words, "cue": cue} for rule, words, cue in result.hypothetical],
        "bias": _bias(result),
        "inputs": {"plan": report.plan, "acv": report.acv, "amount": report.amount, "fortune500": report.fortune500,
                   "unresolved_hours": report.unresolved_hours, "customers_affected": report.customers_affected,
                   "labels": dict(report.labels)},
    }


def _bias(result: TriageResult) -> dict[str, Any] | None:
    """The safety bias, when it decided the class: the mention, and the class it overrode."""
    bias = result.bias
    if bias is None:
        return None
    instead = f"{bias.instead} (no rule matched: default)" if bias.instead_default else bias.instead
    return {"class": bias.klass, "rules": list(bias.rules), "words": list(bias.words), "instead": bias.instead,
            "instead_default": bias.instead_default,
            "why": f"the report mentions {bias.klass} ({', '.join(repr(w) for w in bias.words)}), neither negated "
                   f"nor hypothetical, without a confident {bias.klass} rule: classed {bias.klass} for review "
                   f"rather than {instead}"}


def _level(rt: Runtime, level: int | None, plan: str | None) -> dict[str, Any] | None:
    """The owning escalation level and its ticket response expectation for the plan."""
    if level is None or str(level) not in rt.policy.levels:
        return None
    spec = rt.policy.levels[str(level)]
    response = spec.response.get(plan or "", spec.response.get("all"))
    return {"level": level, "name": spec.name, "response": format_duration(response) if response else None,
            "roles": [rid for rid, role in rt.directory.roles.items() if role.level == level]}


def triage_text(doc: dict[str, Any]) -> str:
    lines = [f"category:  {doc['class']} ({doc['title']})",
             f"tier:      {doc['tier']} ({doc['tier_title']}): respond within {doc['response_sla']}, "
             f"by {doc['respond_by']}"]
    if doc["level"]:
        lvl = doc["level"]
        lines.append(f"level:     L{lvl['level']} {lvl['name']} ({', '.join(lvl['roles'])})"
                     + (f"; ticket response {lvl['response']}" if lvl["response"] else ""))
    lines.append(f"audience:  {', '.join(doc['audience'])}")
    if doc["needs_review"]:
        why = "no rule matched: default category" if doc["default_used"] else "only a weak rule matched"
        lines.append(f"REVIEW:    {why}; the team is paged, notices to the customer and outside contacts are held "
                     "until a person confirms the class (notify reclassify)")
    if doc.get("bias"):
        lines.append(f"bias:      {doc['bias']['why']}")
    for m in doc["matches"]:
        said = ", ".join(f'"{w}"' for w in m["words"] + m["conditions"])
        lines.append(f"matched:   {m['rule']} -> {m['class']} ({m['tier']}{', weak' if m['weak'] else ''}): "
                     f"{m['criterion']}; on {said}")
    for n in doc["negated"]:
        lines.append(f"negated:   {n['rule']}: \"{n['words']}\" (after \"{n['cue']}\"), not counted")
    for n in doc.get("hypothetical", []):
        lines.append(f"hypothetical: {n['rule']}: \"{n['words']}\" (\"{n['cue']}\"), not counted")
    lines += [f"note:      {note}" for note in doc.get("notes", [])]
    return "\n".join(lines)


def run_triage(rt: Runtime, report: Report) -> TriageResult:
    return triage(rt.routing, rt.policy, report)


def who_document(rt: Runtime, klass_name: str, at: datetime) -> dict[str, Any]:
    """Who each step and escalation stage of a class would reach at a moment, with channels."""
    klass = rt.klass(klass_name)
    incident = Incident(f"{klass.prefix}-{at.year}-000", klass_name, at, {})
    # Quiet hours as they would apply when each step fires (the escalation stages come at the SLA: never held).
    steps = [{"step": i, "name": s.name, "at": format_duration(s.at) if s.at else "at once",
              "recipients": [_recipient(p) for p in hold_quiet_pages(plan_step(incident, klass, i, rt.directory),
                                                                     klass, rt.directory, at + s.at, opened=at)[0]]}
             for i, s in enumerate(klass.steps)]
    escalation = [{"stage": i + 1, "after": format_duration(offset), "audience": audience,
                   "recipients": [_recipient(p) for p in plan_escalation(incident, klass, i, rt.directory)]}
                  for i, (offset, audience) in enumerate(klass.escalation_schedule())]
    on_call = {}
    if rt.directory.rotation:
        for slot in rt.directory.rotation.slots:
            person = rt.directory.on_duty(slot, at)
            on_call[slot] = {"person": person, "name": rt.directory.people[person].name}
    return {"schema": 1, "command": "who", "class": klass_name, "at": at.isoformat(), "on_call": on_call,
            "steps": steps, "escalation_while_unacknowledged": escalation, "repeat": _repeat(klass)}


def _repeat(klass: Any) -> dict[str, Any] | None:
    """How often the ladder runs again while unacknowledged, and when its last page is (None: it runs once)."""
    if not klass.repeat or not klass.escalation:
        return None
    last = klass.escalation_pages()[-1][2]
    return {"times": klass.repeat, "passes": klass.repeat + 1, "every": format_duration(klass.response_sla),
            "last_page_after": format_duration(last)}


def _recipient(planned: Planned) -> dict[str, Any]:
    a = planned.address
    return {"recipient": a.person, "display": a.display, "role": a.role, "channel": a.channel,
            "target": a.masked if a.target else "", "fallbacks": [f"{f.channel} {f.masked}" for f in planned.fallbacks],
            "skip": planned.skip, "held": planned.held}


_WHO_COLUMNS = (Column("RECIPIENT"), Column("ROLE"), Column("CHANNEL", fixed=True), Column("TARGET"), Column("NOTE"))


def who_text(doc: dict[str, Any], out: Output = PLAIN) -> str:
    """On call now, then each step and escalation stage with its recipients: one table, aligned throughout."""
    lines = [f"{doc['class']} at {doc['at']}"]
    lines += [f"on call {slot}: {who['name']} ({who['person']})" for slot, who in doc["on_call"].items()]
    sections = [(f"step {step['step']} ({step['at']}): {step['name']}", step["recipients"]) for step in doc["steps"]]
    sections += [(f"escalation {stage['stage']} (+{stage['after']} unacknowledged): {stage['audience']}",
                  stage["recipients"]) for stage in doc["escalation_while_unacknowledged"]]
    table = render(_WHO_COLUMNS, [_recipient_row(r) for _, recipients in sections for r in recipients], out,
                   indent="    ").split("\n")
    lines.append(table[0])
    row = 1
    for heading, recipients in sections:  # each section's heading above its rows of the one table
        lines.append(heading)
        lines += table[row:row + len(recipients)]
        row += len(recipients)
    if doc.get("repeat"):
        r = doc["repeat"]
        lines.append(f"then the escalation ladder again from escalation 1, {r['times']} more time"
                     f"{'s' if r['times'] > 1 else ''} ({r['passes']} passes in all, one stage per {r['every']}) "
                     f"while unacknowledged: last page at +{r['last_page_after']}")
    return "\n".join(lines)


def _recipient_row(r: dict[str, Any]) -> tuple[str, ...]:
    if r["skip"]:
        return r["display"], r["role"], "", "", f"skipped: {r['skip']}"
    if r.get("held"):
        return r["display"], r["role"], r["channel"], r["target"], f"held: {r['held']}"
    return r["display"], r["role"], r["channel"], r["target"], f"then {', '.join(r['fallbacks'])}" if r["fallbacks"] else ""


def installed_channels(settings: Any) -> list[dict[str, Any]]:
    """`notify channels`: every installed channel (entry points), what it supports and whether it is configured."""
    from ..delivery.registry import (  # the channels' modules: only this command needs them
        Registry,
        discover,
    )

    registry = Registry(settings, None)
    try:
        rows = []
        for name, entry_point in discover().items():
            channel = registry.get(name)
            caps = channel.capabilities
            rows.append({"name": name, "module": entry_point.value, "configured": channel.configured(),
                         "target": caps.target.value, "html": caps.html, "voice": caps.voice,
                         "max_length": caps.max_length, "dedup_key": caps.dedup_key})
        return rows
    finally:
        registry.close()

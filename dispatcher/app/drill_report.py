"""The drill report: one JSON document, a terminal table, and a self-contained HTML timeline."""

from __future__ import annotations

import html
from datetime import datetime, timezone
from typing import Any

from ..api import mask_secrets
from ..domain.states import DeliveryState
from ..domain.timers import parse_stamp
from ..drill.expect import Check, Facts, Sent, check_all, minutes
from ..drill.scenario import Scenario
from ..render.table import PLAIN, Column, Output, render
from .actions import via_label
from .drill import DrillOutcome
from .engine import Runtime
from .report import OUTCOME_COLOURS, outcome_label

__all__ = ["build_document", "render_html", "render_table"]


def _attempts_by_delivery(outcome: DrillOutcome) -> dict[int, list]:
    """Each delivery's attempts: within one (recipient, channel, kind, step), attempt 1 starts the next delivery."""
    queues: dict[tuple, list[int]] = {}
    for d in outcome.deliveries:
        queues.setdefault((d.person, d.channel, d.kind, d.step), []).append(d.id)
    owned: dict[int, list] = {d.id: [] for d in outcome.deliveries}
    current: dict[tuple, int] = {}
    for a in outcome.attempts:
        group = (a.person, a.channel, a.kind, a.step)
        if a.attempt == 1 or group not in current:
            if not queues.get(group):
                continue
            current[group] = queues[group].pop(0)
        owned[current[group]].append(a)
    return owned


def _sent_rows(outcome: DrillOutcome) -> list[Sent]:
    fired = {e.key: e.at for e in outcome.events}
    by_id = {d.id: d for d in outcome.deliveries}
    attempts = _attempts_by_delivery(outcome)
    rows = []
    for d in outcome.deliveries:
        label = d.delivery_key.label
        mine = attempts[d.id]
        delivered = next((a.at for a in mine if a.outcome.is_accepted), None)
        first = mine[0].at if mine else None
        due = fired.get(label, outcome.t0)
        original = by_id.get(d.fallback_of) if d.fallback_of else None
        failures = tuple(a.at for a in mine if not a.outcome.is_accepted)
        rows.append(Sent(d.kind, d.step, d.person, d.display, d.role, d.channel, d.masked_target, d.status, due,
                         first, delivered, d.attempts, d.skip or d.reason,
                         f"{original.person}/{original.channel}" if original else None, failures))
    return rows


def build_document(rt: Runtime, scenario: Scenario, outcome: DrillOutcome, sandboxed: bool,
                   ran_at: datetime | None = None) -> dict[str, Any]:
    """The drill's document; `ran_at` is when it was run (the command's clock; default: now)."""
    klass = rt.klass(scenario.klass)
    sent = _sent_rows(outcome)
    acked = outcome.incident.acked_at
    missed = [parse_stamp(e.key.rsplit("-", 1)[1]) for e in outcome.events if e.kind == "overdue"]
    posted = [e.at for e in outcome.events if e.kind == "update"]
    facts = Facts(outcome.t0, sent, acked, klass.response_sla, missed, klass.update_every is not None, posted,
                  outcome.end, rt.directory.holders)
    checks = check_all(scenario.expect, facts)
    rel = lambda moment: minutes(moment - outcome.t0) if moment else None  # noqa: E731
    deadline = outcome.t0 + klass.response_sla
    expect_miss = any(e.sla == "response" and not e.met for e in scenario.expect)
    response = {"deadline": rel(deadline), "acknowledged": rel(acked), "met": bool(acked and acked <= deadline),
                "by": minutes(abs(deadline - acked)) if acked else None,
                "expected": "missed" if expect_miss else "met"}
    updates_due = sorted({parse_stamp(e.key.rsplit("-", 1)[1]) for e in outcome.events
                          if e.kind in ("reminder", "overdue")})
    resolved = next((e.at for e in outcome.events if e.kind == "resolved"), None)
    return {
        "schema": 1, "command": "drill", "scenario": scenario.name, "description": scenario.description,
        "sandbox": sandboxed, "incident": {"id": outcome.incident.id, "class": scenario.klass, "title": klass.title,
                                           "status": outcome.incident.status, "acked_by": outcome.incident.acked_by,
                                           "acked_at": rel(acked), "acked_via": _acked_via(outcome.events)},
        "ran_at": (ran_at or datetime.now(timezone.utc)).isoformat(),
        "started": outcome.t0.isoformat(), "simulated": minutes(outcome.end - outcome.t0),
        "response_sla": minutes(klass.response_sla), "response": response,
        "update_every": minutes(klass.update_every) if klass.update_every else None,
        "expectations": [{"expectation": c.expectation, "held": c.held, "detail": c.detail,
                          "deadline": rel(c.deadline), "margin": minutes(c.margin) if c.margin is not None else None,
                          "implied": c.implied} for c in checks],
        "deliveries": [{"kind": s.kind, "step": s.step, "recipient": s.person, "display": s.display, "role": s.role,
                        "channel": s.channel, "target": s.target, "outcome": s.outcome, "attempts": s.attempts,
                        "due": rel(s.due), "sent": rel(s.first_attempt), "delivered": rel(s.delivered),
                        "lag": minutes(s.delivered - s.due) if s.delivered else None, "reason": s.reason,
                        "fallback_of": s.fallback_of} for s in sent],
        "timeline": [{"at": rel(e.at), "kind": e.kind, "detail": e.detail, "by": e.by}
                     for e in outcome.events],
        "received": [{"channel": r.channel, "to": r.to, "text": r.text} for r in outcome.received],
        "ok": all(c.held for c in checks), "store": outcome.store_path,
        "_checks": checks, "_sent": sent, "_t0": outcome.t0, "_end": outcome.end, "_acked": acked,
        "_sla": klass.response_sla, "_missed": missed, "_updates_due": updates_due, "_resolved": resolved,
    }


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """The JSON document without the in-memory helpers."""
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def _response_line(doc: dict[str, Any]) -> str:
    """The response SLA in one line, for the terminal and the page; a miss the drill file expects says so."""
    r = doc["response"]
    expected = "" if r["met"] or r["expected"] != "missed" else ", as the drill expects"
    if r["acknowledged"] is None:
        return f"response SLA {doc['response_sla']}: never acknowledged (MISSED{expected})"
    verdict = f"met with {r['by']} to spare" if r["met"] else f"MISSED by {r['by']}{expected}"
    via = doc["incident"].get("acked_via")
    return (f"response SLA {doc['response_sla']}: acknowledged by {doc['incident']['acked_by']}"
            f"{f' via {via}' if via else ''} at +{r['acknowledged']}, {verdict}")


def _acked_via(events: list) -> str | None:
    """How the incident was acknowledged ("SMS", "link", "drill"), as its acknowledged event recorded it."""
    detail = next((e.detail for e in events if e.kind == "acknowledged"), None)
    return via_label(detail.rpartition(" via ")[2]) if detail and " via " in detail else None


_DRILL_DELIVERIES = (Column("KIND", fixed=True), Column("WHO"), Column("CHANNEL", fixed=True), Column("DUE", fixed=True),
                     Column("SENT", fixed=True), Column("ACCEPTED", fixed=True),  # by the provider: not "reached"
                     Column("OUTCOME", fixed=True, colours=OUTCOME_COLOURS), Column("LAG / REASON"))
_EXPECTATIONS = (Column("RESULT", fixed=True, colours={"PASS": "green", "FAIL": "red"}), Column("EXPECTATION"),
                 Column("DETAIL"))


def render_table(doc: dict[str, Any], out: Output = PLAIN) -> str:
    """The drill's results for a terminal (fitted to `out`) or a pipe: deliveries, the response SLA, expectations."""
    lines = [f"[DRILL] {doc['scenario']}  ({doc['incident']['id']}, {doc['incident']['title']}, "
             f"{doc['simulated']} simulated{', sandbox' if doc['sandbox'] else ''})", ""]
    lines.append(render(_DRILL_DELIVERIES, [
        (d["kind"], d["display"], d["channel"], d["due"] or "", d["sent"] or "-", d["delivered"] or "-",
         outcome_label(d["outcome"]), d["lag"] or (d["reason"] or "")) for d in doc["deliveries"]], out))
    lines += ["", _response_line(doc), "", "expectations:"]
    lines.append(render(_EXPECTATIONS, [("PASS" if e["held"] else "FAIL", e["expectation"], e["detail"])
                                        for e in doc["expectations"]], out, indent="  "))
    failed = [e for e in doc["expectations"] if not e["held"]]
    lines += ["", f"{len(doc['expectations']) - len(failed)} of {len(doc['expectations'])} expectations held"
                  + ("" if not failed else f"; FAILED: {', '.join(e['expectation'] for e in failed)}")]
    return "\n".join(lines)


# --- HTML: a picture a manager reads at a glance -------------------------------------------

_COLORS = {DeliveryState.ACCEPTED: "#1a7f37", DeliveryState.CONFIRMED: "#1a7f37",
           DeliveryState.FAILED_PERMANENT: "#cf222e", DeliveryState.FAILED_TRANSIENT: "#cf222e",
           DeliveryState.SKIPPED: "#8c959f", DeliveryState.PENDING: "#bf8700",
           DeliveryState.POSSIBLY_DELIVERED: "#bf8700"}


def render_html(doc: dict[str, Any]) -> str:
    """A self-contained page: when it ran, one verdict, expectations, an SVG timeline, what each stand-in got."""
    sent: list[Sent] = doc["_sent"]
    t0: datetime = doc["_t0"]
    span = max((doc["_end"] - t0).total_seconds(), 60.0)
    rows = _timeline_rows(sent)
    left, width, row_h, top = 260, 760, 26, 40
    height = top + row_h * len(rows) + 40
    x = lambda moment: left + width * max(0.0, min((moment - t0).total_seconds() / span, 1.0))  # noqa: E731
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 30}" height="{height}" '
           f'viewBox="0 0 {left + width + 30} {height}" font-family="sans-serif" font-size="12">']
    svg += _axis(left, width, top, height, span)
    svg += _deadlines(doc, t0, x, top, height)
    for i, (label, items) in enumerate(rows):
        y = top + row_h * i + row_h / 2
        svg.append(f'<text x="{left - 8}" y="{y + 4}" text-anchor="end">{html.escape(label)}</text>')
        svg.append(f'<line x1="{left}" y1="{y}" x2="{left + width}" y2="{y}" stroke="#eaeef2"/>')
        for s in items:
            svg.append(_marker(s, x, y))
    svg.append("</svg>")
    checks: list[Check] = doc["_checks"]
    items = "".join(f'<li class="{"pass" if c.held else "fail"}">{"&#10004;" if c.held else "&#10008;"} '
                    f'{html.escape(c.expectation)}: {html.escape(c.detail)}</li>' for c in checks)
    failed = sum(not c.held for c in checks)
    verdict = (f"All {len(checks)} expectations held" if not failed
               else f"{failed} of {len(checks)} expectations FAILED")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>[DRILL] {html.escape(doc['scenario'])}</title>
<style>body{{font-family:sans-serif;margin:2em;color:#1f2328}} .pass{{color:#1a7f37}} .fail{{color:#cf222e}}
.expected-miss{{color:#9a6700}}
svg{{max-width:100%;height:auto}} table{{display:block;max-width:100%;overflow-x:auto}}
@media (max-width:600px){{body{{margin:.8em}}}}
li{{margin:.3em 0}} .verdict{{font-size:1.3em;font-weight:bold}} .legend span{{margin-right:1.5em}}
table{{border-collapse:collapse;font-size:13px}} td,th{{border:1px solid #d0d7de;padding:3px 8px;text-align:left}}
details{{margin:.4em 0}} summary{{cursor:pointer}}</style>
</head><body>
<h1>[DRILL] {html.escape(doc['scenario'])}</h1>
<p>{html.escape(doc['description'])}</p>
{_run_paragraph(doc)}
<p>Incident {html.escape(doc['incident']['id'])} ({html.escape(doc['incident']['title'])}), {doc['simulated']} simulated{
', updates every ' + doc['update_every'] if doc['update_every'] else ''}.</p>
{_sla_paragraph(doc)}
<p class="verdict {'pass' if doc['ok'] else 'fail'}">{verdict}</p>
<ul>{items}</ul>
<h2>Timeline</h2>
<p class="legend"><span style="color:#1a7f37">&#9679; accepted</span><span style="color:#cf222e">&#10006; failed</span>
<span style="color:#8c959f">&#9675; skipped</span><span style="color:#cf222e">&#8942; response SLA deadline</span>
<span style="color:#0969da">| acknowledged</span><span style="color:#bf8700">&#8942; update due (missed in red)</span>
<span style="color:#1a7f37">| resolved</span></p>
{''.join(svg)}
<h2>Deliveries</h2>
{_table(doc)}
<h2>What the stand-ins received</h2>
{_received(doc)}
</body></html>"""


def _time(iso: str) -> str:
    moment = datetime.fromisoformat(iso).astimezone(timezone.utc)
    return f'<time datetime="{moment.isoformat()}">{moment:%Y-%m-%d %H:%M:%S} UTC</time>'


def _run_paragraph(doc: dict[str, Any]) -> str:
    """When the drill was run, and where its simulated clock started (a drill's `start` may be another week)."""
    made_up = doc.get("clock", {}).get("source")
    where = "in the sandbox" if doc["sandbox"] else "live"
    return (f'<p class="run">Run {where} on {_time(doc["ran_at"])}'
            f'{f" (a made-up time, set by {html.escape(made_up)})" if made_up else ""}; '
            f'simulated clock from {_time(doc["started"])}.</p>')


def _sla_paragraph(doc: dict[str, Any]) -> str:
    """The response SLA, coloured by whether it went as the drill expects (a miss may be the point)."""
    r = doc["response"]
    if r["acknowledged"] is None and doc["_end"] < doc["_t0"] + doc["_sla"]:
        return (f'<p class="sla untested"><b>response SLA {doc["response_sla"]}: nobody acknowledged before the '
                f'drill ended at +{doc["simulated"]}, short of the deadline (not tested)</b></p>')
    as_expected = r["met"] == (r["expected"] == "met")
    # A miss the drill meant is no failure, but it must not read as a success at a glance either: amber.
    kind = "fail" if not as_expected else ("pass" if r["met"] else "pass expected-miss")
    return f'<p class="sla {kind}"><b>{html.escape(_response_line(doc))}</b></p>'


_STAND_INS = (("email", "Email (SMTP server)"), ("slack", "Slack (incoming webhook)"), ("sms", "SMS (Twilio)"),
              ("phone", "Phone calls (Twilio)"))


def _received(doc: dict[str, Any]) -> str:
    """One collapsible section per stand-in, with every message it received."""
    if not doc["sandbox"]:
        return "<p>A live drill has no stand-ins: the deliveries above went to the real recipients.</p>"
    sections = []
    for channel, name in _STAND_INS:
        got = [m for m in doc["received"] if m["channel"] == channel]
        # masked as every printed line is: an action link's token acts as its person, even in a report
        rows = "".join(f"<tr><td>{html.escape(m['to'])}</td><td>{html.escape(mask_secrets(m['text']))}</td></tr>"
                       for m in got)
        body = f"<table><tr><th>to</th><th>message</th></tr>{rows}</table>" if got else "<p>nothing</p>"
        sections.append(f'<details class="stand-in" data-channel="{channel}"><summary>{name}: {len(got)} '
                        f'message{"" if len(got) == 1 else "s"}</summary>{body}</details>')
    return "\n".join(sections)


def _timeline_rows(sent: list[Sent]) -> list[tuple[str, list[Sent]]]:
    rows: dict[str, list[Sent]] = {}
    for s in sent:
        rows.setdefault(f"{s.display} ({s.channel})", []).append(s)
    return list(rows.items())


def _axis(left: int, width: int, top: int, height: int, span: float) -> list[str]:
    step = 15 * 60 if span > 3600 else 5 * 60
    marks = []
    for second in range(0, int(span) + 1, step):
        x = left + width * second / span
        marks.append(f'<line x1="{x}" y1="{top - 10}" x2="{x}" y2="{height - 30}" stroke="#eaeef2"/>')
        marks.append(f'<text x="{x}" y="{height - 14}" text-anchor="middle">+{second // 60}m</text>')
    return marks


def _deadlines(doc: dict[str, Any], t0: datetime, x, top: int, height: int) -> list[str]:
    marks = []
    sla_x = x(t0 + doc["_sla"])
    marks.append(f'<line x1="{sla_x}" y1="{top - 10}" x2="{sla_x}" y2="{height - 30}" stroke="#cf222e" '
                 f'stroke-dasharray="4,3"><title>response SLA</title></line>')
    if doc["_acked"] is not None:
        ack_x = x(doc["_acked"])
        marks.append(f'<line x1="{ack_x}" y1="{top - 10}" x2="{ack_x}" y2="{height - 30}" stroke="#0969da" '
                     f'stroke-width="2"><title>acknowledged</title></line>')
    for due in doc["_updates_due"]:
        missed = due in doc["_missed"]
        mx = x(due)
        marks.append(f'<line x1="{mx}" y1="{top - 10}" x2="{mx}" y2="{height - 30}" '
                     f'stroke="{"#cf222e" if missed else "#bf8700"}" stroke-dasharray="1,3">'
                     f'<title>update {"missed" if missed else "due"}</title></line>')
    if doc["_resolved"] is not None:
        rx = x(doc["_resolved"])
        marks.append(f'<line x1="{rx}" y1="{top - 10}" x2="{rx}" y2="{height - 30}" stroke="#1a7f37" '
                     f'stroke-width="2"><title>resolved</title></line>')
    return marks


def _marker(s: Sent, x, y: float) -> str:
    failed = "".join(_cross(x(f), y, "#cf222e", html.escape(f"{s.display} by {s.channel}: attempt failed"))
                     for f in s.failures)
    return failed + _final_marker(s, x, y)


def _cross(cx: float, y: float, color: str, title: str) -> str:
    return (f'<path d="M{cx - 5},{y - 5} L{cx + 5},{y + 5} M{cx + 5},{y - 5} L{cx - 5},{y + 5}" stroke="{color}" '
            f'stroke-width="2"><title>{title}</title></path>')


def _final_marker(s: Sent, x, y: float) -> str:
    moment = s.delivered or s.first_attempt or s.due
    color = _COLORS.get(s.outcome, "#57606a")
    title = html.escape(f"{s.kind} {s.display} by {s.channel}: {s.outcome}")
    if DeliveryState(s.outcome).is_accepted:
        return f'<circle cx="{x(moment)}" cy="{y}" r="5" fill="{color}"><title>{title}</title></circle>'
    if s.outcome == DeliveryState.SKIPPED:
        return f'<circle cx="{x(moment)}" cy="{y}" r="5" fill="none" stroke="{color}"><title>{title}</title></circle>'
    return "" if s.failures else _cross(x(moment), y, color, title)


def _table(doc: dict[str, Any]) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("kind", "who", "role", "channel", "due", "sent", "accepted", "outcome",
                                             "lag / reason"))
    body = "".join(  # the words of the terminal's table: "accepted" by a provider is not a person reached
        "<tr>" + "".join(f"<td>{html.escape(str(v or ''))}</td>" for v in (
            d["kind"], d["display"], d["role"], d["channel"], d["due"], d["sent"], d["delivered"],
            outcome_label(d["outcome"]), d["lag"] or d["reason"])) + "</tr>" for d in doc["deliveries"])
    return f"<table><tr>{head}</tr>{body}</table>"

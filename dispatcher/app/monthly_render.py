"""The monthly report (:mod:`.monthly`) as a terminal table, CSV, or one self-contained HTML file with SVG charts.

The HTML is a jinja2 template shipped in the package (``pages/monthly-report.html.j2``):
no script, no font, no image to fetch, so it reads the same attached to an email,
opened offline or printed. The charts are inline SVG drawn from numbers computed
here; every figure a chart shows is in a table beside it.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..domain.durations import format_duration
from ..render.table import PLAIN, Column, Output, render
from .report import outcome_label

__all__ = ["CSV_COLUMNS", "render_csv", "render_html", "render_text"]

CSV_COLUMNS = ("month", "tz", "class", "tier", "incidents", "acknowledged", "resolved", "ack_median_s", "ack_p90_s",
               "resolve_median_s", "resolve_p90_s", "response_sla_met", "response_sla_counted", "response_sla_share",
               "resolution_met", "resolution_counted", "resolution_share", "escalations", "resolution_breaches",
               "deliveries", "root_causes_on_time", "root_causes_late", "root_causes_overdue", "csat_answers",
               "csat_share")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return format_duration(timedelta(seconds=seconds)) if seconds >= 60 else f"{seconds:.0f} s"


def percent(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f}%"


def _group_rows(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(g["class"], g["tier"], g) for g in doc["groups"]] + [("all", "", doc["total"])]


_MAIN = (Column("CLASS", fixed=True), Column("TIER", fixed=True), Column("INC", align="right"),
         Column("ACK MEDIAN"), Column("ACK P90"), Column("RESOLVE MEDIAN"), Column("RESOLVE P90"),
         Column("RESPONSE SLA", align="right"), Column("RESOLUTION", align="right"), Column("ESCALATIONS"),
         Column("ROOT CAUSE ON TIME"), Column("CSAT"))


def render_text(doc: dict[str, Any], out: Output = PLAIN) -> str:
    t = doc["targets"]
    lines = [f"Monthly escalation report {doc['month']} ({doc['tz']}): {doc['total']['incidents']} incidents"
             + _in_progress(doc), ""]
    lines.append(render(_MAIN, [(k, tier, g["incidents"], duration(g["ack_seconds"]["median"]),
                                 duration(g["ack_seconds"]["p90"]), duration(g["resolve_seconds"]["median"]),
                                 duration(g["resolve_seconds"]["p90"]), _ratio(g["response_sla"]),
                                 _ratio(g["resolution_target"]), _levels(g["escalations"], g["resolution_breaches"]),
                                 _causes(g["root_causes"]), _ratio(g["satisfaction"]))
                                for k, tier, g in _group_rows(doc)], out))
    total = doc["total"]
    drills = doc["drills"]
    lines += ["", (f"response SLA compliance: {percent(total['response_sla']['share'])} "
                  f"(target {percent(t['response_sla'])}: {_verdict(total['response_sla']['meets_target'])})"),
              (f"customer satisfaction: {percent(total['satisfaction']['share'])} of "
              f"{total['satisfaction']['answers']} answers (target above {percent(t['satisfaction'])}: "
              f"{_verdict(total['satisfaction']['meets_target'])})"),
              (f"drills run: {drills['run']} ({drills['passed']} passed) of {drills['required']} required: "
              f"{_verdict(drills['met'])}"),
              f"first-call resolution: {doc['first_call_resolution']}",
              f"escalation rate: {doc['escalation_rate']}", "", "deliveries by channel and outcome:"]
    lines.append(render((Column("CHANNEL", fixed=True), Column("OUTCOMES")),
                        [(c, ", ".join(f"{outcome_label(o)} {n}" for o, n in outcomes.items()))
                         for c, outcomes in total["deliveries"].items()], out, indent="  "))
    lines += ["", "trend (last six months):"]
    lines.append(render((Column("MONTH", fixed=True), Column("INC", align="right"), Column("ACK MEDIAN"),
                         Column("RESPONSE SLA", align="right"), Column("RESOLUTION", align="right"),
                         Column("CSAT", align="right"), Column("DRILLS", align="right")),
                        [(m["month"], m["incidents"], duration(m["ack_median_seconds"]), percent(m["response_sla"]),
                          percent(m["resolution_target"]), percent(m["satisfaction"]), m["drills"])
                         for m in doc["trend"]], out, indent="  "))
    return "\n".join(lines)


def _ratio(share: dict[str, Any]) -> str:
    return "-" if share["share"] is None else f"{percent(share['share'])} ({share['met']}/{share['counted']})"


def _levels(levels: dict[str, int], breaches: int) -> str:
    text = " ".join(f"L{k}:{n}" for k, n in levels.items()) or "none"
    return text + (f" +{breaches} target breach{'es' * (breaches != 1)}" if breaches else "")


def _causes(c: dict[str, int]) -> str:
    """On time out of the reviews whose 48 hours are over ('1/2 (1 late)'); one still within them is no miss yet."""
    if not c["reviews"]:
        return "-"
    extra = [f"{c['late']} late"] * bool(c["late"]) + [f"{c['overdue']} overdue"] * bool(c["overdue"])
    extra += [f"{c['pending']} not due yet"] * bool(c["pending"])
    decided = c["reviews"] - c["pending"]
    if not decided:
        return ", ".join(extra)
    return f"{c['on_time']}/{decided}" + (f" ({', '.join(extra)})" if extra else "")


def _verdict(meets: bool | None) -> str:
    return "no data" if meets is None else ("met" if meets else "MISSED")


def render_csv(doc: dict[str, Any]) -> str:
    """One row per class and tier, and one for the whole month (class "all"); durations in seconds."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for k, tier, g in _group_rows(doc):
        writer.writerow([doc["month"], doc["tz"], k, tier, g["incidents"], g["acknowledged"], g["resolved"],
                         *_num(g["ack_seconds"]["median"], g["ack_seconds"]["p90"], g["resolve_seconds"]["median"],
                               g["resolve_seconds"]["p90"]),
                         g["response_sla"]["met"], g["response_sla"]["counted"], *_num(g["response_sla"]["share"]),
                         g["resolution_target"]["met"], g["resolution_target"]["counted"],
                         *_num(g["resolution_target"]["share"]),
                         " ".join(f"L{k2}:{n}" for k2, n in g["escalations"].items()), g["resolution_breaches"],
                         " ".join(f"{c}/{o}:{n}" for c, outcomes in g["deliveries"].items() for o, n in outcomes.items()),
                         g["root_causes"]["on_time"], g["root_causes"]["late"], g["root_causes"]["overdue"],
                         g["satisfaction"]["answers"], *_num(g["satisfaction"]["share"])])
    return buffer.getvalue()


def _when(moment: str) -> str:
    """An ISO time as a report reads it: to the minute, no microseconds ('2026-12-06 09:32')."""
    return datetime.fromisoformat(moment).strftime("%Y-%m-%d %H:%M")


def _in_progress(doc: dict[str, Any]) -> str:
    """Said after the count when the month has not ended: its numbers are so far, not the month's."""
    made, end = datetime.fromisoformat(doc["made_at"]), datetime.fromisoformat(doc["window"]["end"])
    return f" so far (the month is in progress: counted to {_when(doc['made_at'])})" if made < end else ""


def _num(*values: float | None) -> list[str]:
    return ["" if v is None else f"{v:.4f}".rstrip("0").rstrip(".") for v in values]


def render_html(doc: dict[str, Any]) -> str:
    """The report as one self-contained HTML file (inline CSS and SVG)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "pages")),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters.update(duration=duration, percent=percent, ratio=_ratio, causes=_causes, verdict=_verdict,
                       outcome=outcome_label, levels=_levels, when=_when, in_progress=_in_progress)
    return env.get_template("monthly-report.html.j2").render(
        doc=doc, rows=_group_rows(doc), trend=_trend_chart(doc["trend"]), shares=_share_chart(doc))


def _trend_chart(trend: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars of incidents per month, and the response-SLA share as a line over them (0-100 %)."""
    width, height, left, top = 560, 200, 40, 20
    most = max([m["incidents"] for m in trend] + [1])
    step = width / len(trend)
    bars, points = [], []
    for i, m in enumerate(trend):
        h = (height - 40) * m["incidents"] / most
        x = left + i * step
        bars.append({"x": x + step * 0.2, "y": top + height - 40 - h, "w": step * 0.6, "h": h,
                     "label": m["month"], "value": m["incidents"]})
        if m["response_sla"] is not None:
            points.append((x + step / 2, top + (height - 40) * (1 - m["response_sla"]), m["month"], m["response_sla"]))
    # A dot per month as well as the line: one month with data is a line of one point, which draws nothing.
    return {"width": width + left + 10, "height": height + top, "left": left, "top": top, "base": top + height - 40,
            "bars": bars, "line": " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in points),
            "dots": [{"x": px, "y": py, "label": f"{month}: response SLA {percent(share)}"}
                     for px, py, month, share in points]}


def _share_chart(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Per class and tier: response-SLA and resolution-target shares as bar widths out of 300 px."""
    return [{"label": f"{g['class']} ({g['tier']})",
             "response": 300 * (g["response_sla"]["share"] or 0), "response_text": percent(g["response_sla"]["share"]),
             "resolution": 300 * (g["resolution_target"]["share"] or 0),
             "resolution_text": percent(g["resolution_target"]["share"])} for g in doc["groups"]]

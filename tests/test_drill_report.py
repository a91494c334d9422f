"""The drill's HTML report, parsed: when it ran, what each stand-in received, one verdict the SLA rows agree with.

(Browser tests come with the browser set-up; until then the page is checked by its structure.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from .helpers import run

DRILLS = Path(__file__).resolve().parent.parent / "drills"
VOID = {"meta", "br", "hr", "img", "input", "link"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list["Node | str"] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def find_all(self, tag: str, **attrs: str) -> list["Node"]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if child.tag == tag and all(attrs[k] in child.attrs.get(k.rstrip("_"), "").split()
                                            for k in attrs):
                    found.append(child)
                found += child.find_all(tag, **attrs)
        return found

    def one(self, tag: str, **attrs: str) -> "Node":
        [node] = self.find_all(tag, **attrs)
        return node


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(page: str) -> Node:
    tree = _Tree()
    tree.feed(page)
    tree.close()
    assert tree.stack == [tree.root], "every element is closed"
    return tree.root


def drill(tmp_path: Path, drill_file: Path, *args: str, env: dict | None = None) -> tuple[int, dict, Node]:
    report = tmp_path / "report.html"
    result = run("drill", str(drill_file), "--sandbox", "--json", "--report", str(report), *args, env=env)
    return result.exit_code, json.loads(result.stdout), parse(report.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_the_report_says_when_the_drill_ran_and_where_its_simulated_clock_started(tmp_path: Path) -> None:
    scenario = tmp_path / "outage.toml"
    scenario.write_text((DRILLS / "platform-outage.toml").read_text()
                        .replace("start = 2026-12-07T17:01:00Z", "start = 2026-12-14T17:01:00Z"))
    code, doc, page = drill(tmp_path, scenario, env={"NOTIFY_NOW": "2027-03-02T08:30:00Z"})
    assert code == 0
    ran, started = page.one("p", class_="run").find_all("time")
    assert ran.text.startswith("2027-03-02 08:30:0") and ran.text.endswith(" UTC")
    assert datetime.fromisoformat(ran.attrs["datetime"]) - datetime(2027, 3, 2, 8, 30, tzinfo=timezone.utc) \
        < timedelta(minutes=1)
    assert "NOTIFY_NOW" in page.one("p", class_="run").text  # a made-up run time says so
    assert (started.text, started.attrs["datetime"]) == ("2026-12-14 17:01:00 UTC", "2026-12-14T17:01:00+00:00")
    assert doc["ran_at"].startswith("2027-03-02T08:30:0") and doc["started"] == "2026-12-14T17:01:00+00:00"


@pytest.mark.slow
def test_the_report_shows_what_each_stand_in_received_in_a_collapsible_section(tmp_path: Path) -> None:
    code, doc, page = drill(tmp_path, DRILLS / "security-breach.toml")
    assert code == 0
    sections = {d.attrs["data-channel"]: d for d in page.find_all("details", class_="stand-in")}
    assert list(sections) == ["email", "slack", "sms", "phone"]
    for channel, section in sections.items():
        got = [m for m in doc["received"] if m["channel"] == channel]
        assert got, f"the seed drill reaches the {channel} stand-in"
        assert f"{len(got)} message" in section.one("summary").text
        rows = [[td.text for td in tr.find_all("td")] for tr in section.find_all("tr")[1:]]
        assert rows == [[m["to"], m["text"]] for m in got]
        assert all("[DRILL]" in text for _, text in rows)
    deliveries = next(t for t in page.find_all("table") if "lag / reason" in t.find_all("tr")[0].text)
    head = [th.text for th in deliveries.find_all("tr")[0].find_all("th")]
    outcomes = {tr.find_all("td")[head.index("outcome")].text for tr in deliveries.find_all("tr")[1:]}
    assert "accepted" in head and "accepted" in outcomes and "delivered" not in outcomes  # the terminal's words
    assert page.one("p", class_="legend").text.startswith("\u25cf accepted")  # the timeline's green dot too


def _verdict_and_sla(page: Node) -> tuple[str, str, str, str]:
    verdict = page.one("p", class_="verdict")
    [sla] = [p for p in page.find_all("p") if p.text.startswith("response SLA")]
    return verdict.attrs["class"], verdict.text, sla.attrs["class"], sla.text


@pytest.mark.slow
def test_an_sla_missed_without_the_drill_expecting_it_fails_the_verdict(tmp_path: Path) -> None:
    scenario = tmp_path / "breach.toml"
    text = (DRILLS / "security-breach.toml").read_text()
    scenario.write_text(text.split("\n\n[[expect]]                 # the seed acknowledges")[0])  # not expected
    code, doc, page = drill(tmp_path, scenario)
    assert code == 1 and doc["ok"] is False
    verdict_class, verdict, sla_class, sla = _verdict_and_sla(page)
    assert "MISSED by 7m00s" in sla and "fail" in sla_class.split()
    assert "fail" in verdict_class.split() and verdict == f"1 of {len(doc['expectations'])} expectations FAILED"
    [failed] = page.find_all("li", class_="fail")
    assert failed.text.startswith("✘ response SLA (15m00s) met: acknowledged at +22m00s: missed by 7m00s")
    assert [e["implied"] for e in doc["expectations"] if not e["held"]] == [True]


@pytest.mark.slow
def test_an_sla_miss_the_drill_expects_holds_and_the_page_says_so(tmp_path: Path) -> None:
    code, doc, page = drill(tmp_path, DRILLS / "security-breach.toml")
    assert code == 0
    verdict_class, verdict, sla_class, sla = _verdict_and_sla(page)
    assert "MISSED by 7m00s, as the drill expects" in sla and "pass" in sla_class.split()
    assert "expected-miss" in sla_class.split()  # amber, not the green of an SLA met
    assert "pass" in verdict_class.split() and verdict == f"All {len(doc['expectations'])} expectations held"
    rows = [li.text for li in page.find_all("li", class_="pass")]
    assert "✔ response SLA (15m00s) missed, as the drill expects: acknowledged at +22m00s: missed by 7m00s" in rows
    # a drill never contacts the customer, but updates also reach #security-alerts and the commander: delivered
    assert any(row.startswith("✔ update cadence met") for row in rows), rows


@pytest.mark.slow
@pytest.mark.parametrize("scenario", sorted(p.name for p in DRILLS.glob("*.toml")))
def test_every_shipped_report_has_one_verdict_its_rows_agree_with(scenario: str, tmp_path: Path) -> None:
    _, doc, page = drill(tmp_path, DRILLS / scenario)
    verdict_class, verdict, sla_class, sla = _verdict_and_sla(page)
    failed = page.find_all("li", class_="fail")
    assert ("pass" in verdict_class.split()) == (not failed) == doc["ok"]
    assert "MISSED" not in sla or "as the drill expects" in sla or failed
    assert ("pass" in sla_class.split()) == (doc["response"]["met"] == (doc["response"]["expected"] == "met"))


T0 = datetime(2026, 12, 7, 17, 1, tzinfo=timezone.utc)


def _update(outcome: str, at_minutes: int) -> "object":
    from dispatcher.drill.expect import Sent

    due = T0 + timedelta(minutes=at_minutes)
    return Sent("update", 0, "customer", "Customer", "customer", "email", "c***@example.com", outcome, due,
                due if outcome != "skipped" else None, due if outcome == "delivered" else None, 1,
                "drills never contact customers or external contacts" if outcome == "skipped" else None)


@pytest.mark.parametrize(("cadence", "posted", "outcome", "expected"), [
    (False, [], None, (False, "update cadence met", "this class has no update cadence")),
    (True, [], None, (False, "update cadence met", "no update was posted in the drill")),
    (True, [28], "delivered", (True, "update cadence met", "1 update(s) posted at +28m00s, each before it was due, "
                                                           "and delivered")),
    (True, [28], "skipped", (True, "updates posted on time, none delivered", "1 update(s) posted at +28m00s")),
    (True, [28], "failed-permanent", (False, "updates posted on time, none delivered", "none was delivered")),
])
def test_update_cadence_met_only_when_updates_were_posted_and_sent(cadence: bool, posted: list[int],
                                                                   outcome: str | None, expected: tuple) -> None:
    from dispatcher.drill.expect import Facts, check_all
    from dispatcher.drill.scenario import Expectation

    sent = [_update(outcome, m) for m in posted] if outcome else []
    facts = Facts(T0, sent, T0 + timedelta(minutes=5), timedelta(minutes=15), updates_expected=cadence,
                  updates_posted=[T0 + timedelta(minutes=m) for m in posted])
    [check] = check_all([Expectation(sla="updates")], facts)
    held, name, detail = expected
    assert (check.held, check.expectation) == (held, name) and detail in check.detail, check


def test_met_false_belongs_to_an_sla_expectation(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.toml"
    text = (DRILLS / "nobody-acks.toml").read_text()
    scenario.write_text(text.replace('within = "46m"', 'within = "46m"\nmet = false'))
    result = run("drill", str(scenario), "--sandbox")
    assert result.exit_code == 2 and str(scenario) in result.stderr
    assert "expect[3]" in result.stderr and "'met' goes with 'sla'" in result.stderr


def test_a_drill_that_ends_before_the_response_deadline_has_not_missed_it() -> None:
    from dispatcher.drill.expect import Facts, check_all
    from dispatcher.drill.scenario import Expectation

    short = Facts(T0, [], None, timedelta(minutes=15), end=T0 + timedelta(minutes=5))
    assert check_all([Expectation(who="cto", never=True)], short)[1:] == []  # no implied miss
    [stated] = check_all([Expectation(sla="response")], short)
    assert not stated.held and stated.detail.startswith("not tested: nobody acknowledged before the drill ended")
    [missed] = check_all([Expectation(who="cto", never=True)], Facts(T0, [], None, timedelta(minutes=15),
                                                                      end=T0 + timedelta(minutes=20)))[1:]
    assert (missed.held, missed.implied, missed.detail.split(";")[0]) == (False, True, "never acknowledged")


@pytest.mark.slow
def test_the_terminal_table_says_an_expected_miss_is_expected(tmp_path: Path) -> None:
    result = run("drill", str(DRILLS / "security-breach.toml"), "--sandbox")
    assert result.exit_code == 0
    line = next(x for x in result.stdout.splitlines() if x.startswith("response SLA"))
    assert line.endswith("MISSED by 7m00s, as the drill expects")

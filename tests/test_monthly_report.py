"""`notify report --month`: a simulated November on a fake clock, its numbers recomputed from the raw SQLite rows.

The simulation opens, acknowledges and resolves three dozen incidents of five classes through the real
use cases (trigger, worker ticks, ack, resolve, review), sending to local stand-ins. The test then reads
the store file with sqlite3 and policy.toml with tomllib, computes every figure its own way, and compares.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import statistics
import struct
import subprocess
import tomllib
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dispatcher.app import engine
from dispatcher.app.actions import acknowledge
from dispatcher.app.incidents import resolve
from dispatcher.app.monthly import build_report
from dispatcher.app.monthly_render import (
    CSV_COLUMNS,
    render_csv,
    render_html,
    render_text,
)
from dispatcher.app.reviews import record_csat, record_root_cause
from dispatcher.app.worker import Worker
from dispatcher.clock import FakeClock
from dispatcher.domain.durations import parse_duration

from .helpers import run
from .stage import Stage, make_stage

pytestmark = pytest.mark.slow  # three dozen incidents sent to stand-ins: some seconds

M, H = timedelta(minutes=1), timedelta(hours=1)
NOV = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
CLASSES = [("security", "SEC"), ("outage", "OUT"), ("enterprise", "ENT"), ("technical", "TEC"),
           ("satisfaction", "SAT")]
FIELDS = {"customer": "Acme Corp", "reported_by": "jane@acme.example", "summary": "Simulated incident"}
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stage, dict]]:
    """The simulated month, played once for the module's tests."""
    from .conftest import REPO

    tmp = tmp_path_factory.mktemp("month")
    config = tmp / "config"
    config.mkdir()
    for name in ("contacts.toml", "policy.toml"):
        (config / name).write_bytes((REPO / name).read_bytes())
    import shutil

    shutil.copytree(REPO / "templates", config / "templates")
    config.chmod(0o700)
    with pytest.MonkeyPatch.context() as patch:
        for stage in make_stage(config, tmp, patch):
            stage.clock = FakeClock(NOV - 40 * 24 * H)  # one incident in late September, for the trend
            played = simulate(stage)
            yield stage, played


def simulate(stage: Stage) -> dict:
    rt = stage.runtime()
    store = stage.store()
    worker = Worker(rt, store, stage.clock)
    september = stage.clock.now()
    opened = []
    for n in range(37):
        klass, prefix = CLASSES[n % len(CLASSES)]
        at = september if n == 0 else NOV + (n - 1) * 19 * H  # 36 incidents over November, 19 hours apart
        stage.clock = worker.clock = FakeClock(at)
        incident = engine.new_incident(rt, klass, FIELDS, now=at, drill=False, incident_id=f"{prefix}-2026-{n + 1:03d}")
        engine.trigger(rt, klass, incident, store=store, clock=stage.clock)
        opened.append(incident.id)
        ack_after = ((n * 7) % 40 + 1) * M  # 1 to 40 minutes: some past a 15-minute SLA, escalated first
        resolve_after = ((n * 5) % 30 + 1) * H  # 1 to 30 hours: some past a 4-hour target
        stage.clock.advance(ack_after)
        worker.tick()
        if n % 11 != 5:  # a few are never acknowledged
            acknowledge(rt, store, incident.id, "Support Manager A", stage.clock.now())
        if n == 36:
            continue  # the last stays open
        stage.clock.advance(resolve_after - ack_after)
        worker.tick()
        resolve(rt, store, incident.id, "fixed", "Support Manager A", stage.clock.now())
        worker.tick()
        if store.review(incident.id) is not None:
            if n % 4 == 0:
                record_root_cause(store, incident.id, "config drift", None, "Dana", stage.clock.now() + 10 * H)
            elif n % 4 == 1:
                record_root_cause(store, incident.id, "late analysis", None, "Dana", stage.clock.now() + 60 * H)
            if n % 3:
                record_csat(store, incident.id, 5 - (n // 5) % 3, stage.clock.now() + 24 * H)  # 5, 4 or 3
    store.add_drill_run("security-breach", "security", NOV + 3 * 24 * H, NOV + 3 * 24 * H + 2 * H, True, {})
    store.add_drill_run("platform-outage", "outage", NOV - 20 * 24 * H, NOV - 20 * 24 * H + H, True, {})
    made_at = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    doc = build_report(rt, store, "2026-11", None, made_at)
    worker.close()
    store.close()
    return {"doc": doc, "ids": opened, "made_at": made_at, "rt": rt}


# -- the independent recomputation -----------------------------------------------------------------


def p90(values: list[float]) -> float | None:
    """The smallest value with at least 90% of the values at or below it."""
    return next((v for v in sorted(values) if sum(x <= v for x in values) >= 0.9 * len(values)), None)


def raw(stage: Stage) -> dict:
    """Every figure from the SQLite file and policy.toml, without the report's code."""
    policy = tomllib.loads((stage.config_dir / "policy.toml").read_text())
    db = sqlite3.connect(stage.store_path)
    rows = db.execute("SELECT id, class, created, acked_at, resolved_at FROM incidents "
                      "WHERE created >= '2026-11-01' AND created < '2026-12-01' AND drill = 0").fetchall()
    made_at = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    out: dict = {}
    for klass in {r[1] for r in rows}:
        mine = [r for r in rows if r[1] == klass]
        sla = parse_duration(policy["classes"][klass]["response_sla"])
        target = parse_duration(policy["classes"][klass]["resolution_target"])
        t = lambda s: datetime.fromisoformat(s) if s else None
        acks = [(t(a) - t(c)).total_seconds() for _, _, c, a, _ in mine if a]
        fixes = [(t(r) - t(c)).total_seconds() for _, _, c, _, r in mine if r]
        response = [(t(a or r) - t(c)) <= sla for _, _, c, a, r in mine if a or r]
        response += [False for _, _, c, a, r in mine if not (a or r) and made_at - t(c) > sla]
        resolution = [(t(r) - t(c)) <= target for _, _, c, _, r in mine if r]
        resolution += [False for _, _, c, _, r in mine if not r and made_at - t(c) > target]
        ids = tuple(r[0] for r in mine)
        marks = ",".join("?" * len(ids))
        levels = Counter(key.split("-")[1] for (key,) in db.execute(
            f"SELECT key FROM events WHERE incident_id IN ({marks}) AND kind IN ('escalation', 'escalation-repeat')",
            ids))
        deliveries = {(c, s): n for c, s, n in db.execute(
            f"SELECT channel, status, count(*) FROM deliveries WHERE incident_id IN ({marks}) GROUP BY channel, status",
            ids)}
        reviews = db.execute(f"SELECT root_cause_due, root_cause_at, csat FROM reviews WHERE incident_id IN ({marks})",
                             ids).fetchall()
        answers = [c for _, _, c in reviews if c is not None]
        out[klass] = {
            "incidents": len(mine), "ack_median": statistics.median(acks) if acks else None, "ack_p90": p90(acks),
            "resolve_median": statistics.median(fixes) if fixes else None, "resolve_p90": p90(fixes),
            "response": (sum(response), len(response)), "resolution": (sum(resolution), len(resolution)),
            "levels": dict(levels), "deliveries": deliveries,
            "on_time": sum(1 for due, at, _ in reviews if at and at <= due),
            "late": sum(1 for due, at, _ in reviews if at and at > due),
            "csat": (sum(a >= 4 for a in answers), len(answers)),
        }
    return out


def test_a_simulated_month_reports_what_the_rows_say(month) -> None:
    stage, played = month
    doc = played["doc"]
    expected = raw(stage)
    assert doc["total"]["incidents"] == 36 == sum(e["incidents"] for e in expected.values())
    assert {g["class"] for g in doc["groups"]} == set(expected)
    for g in doc["groups"]:
        e = expected[g["class"]]
        assert g["incidents"] == e["incidents"]
        assert (g["ack_seconds"]["median"], g["ack_seconds"]["p90"]) == (e["ack_median"], e["ack_p90"])
        assert (g["resolve_seconds"]["median"], g["resolve_seconds"]["p90"]) == (e["resolve_median"], e["resolve_p90"])
        assert (g["response_sla"]["met"], g["response_sla"]["counted"]) == e["response"]
        assert (g["resolution_target"]["met"], g["resolution_target"]["counted"]) == e["resolution"]
        assert g["escalations"] == e["levels"]
        assert {(c, o): n for c, outcomes in g["deliveries"].items() for o, n in outcomes.items()} == e["deliveries"]
        assert (g["root_causes"]["on_time"], g["root_causes"]["late"]) == (e["on_time"], e["late"])
        assert (g["satisfaction"]["met"], g["satisfaction"]["answers"]) == e["csat"]
    # the simulation exercised what the report measures: misses, escalations, reviews, answers
    total = doc["total"]
    assert 0 < total["response_sla"]["met"] < total["response_sla"]["counted"]
    assert 0 < total["resolution_target"]["met"] < total["resolution_target"]["counted"]
    assert total["escalations"] and total["root_causes"]["on_time"] and total["root_causes"]["late"]
    assert total["satisfaction"]["answers"] >= 5
    assert total["response_sla"]["meets_target"] is False  # well under 99%
    assert doc["drills"] == {"run": 1, "passed": 1, "required": 1, "met": True,
                             "runs": [{"scenario": "security-breach", "class": "security",
                                       "started": (NOV + 3 * 24 * H).isoformat(), "passed": True}]}
    assert doc["first_call_resolution"].startswith("not measured")
    assert [m["month"] for m in doc["trend"]] == ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]
    assert [m["incidents"] for m in doc["trend"]] == [0, 0, 0, 1, 0, 36]
    assert [m["drills"] for m in doc["trend"]] == [0, 0, 0, 0, 1, 1]


def test_the_text_and_csv_carry_the_same_numbers(month) -> None:
    _, played = month
    doc = played["doc"]
    text = render_text(doc)
    assert "Monthly escalation report 2026-11 (UTC): 36 incidents" in text
    assert "first-call resolution: not measured" in text
    outcomes = text.split("deliveries by channel and outcome:", 1)[1].split("trend (last six months):", 1)[0]
    assert "accepted " in outcomes and "delivered" not in outcomes  # the provider took it: no person reached yet
    assert any("delivered" in o for c in doc["total"]["deliveries"].values() for o in c)  # the data's schema-1 word
    lines = render_csv(doc).splitlines()
    assert lines[0].split(",") == list(CSV_COLUMNS)
    import csv

    rows = list(csv.DictReader(lines))
    assert [r["class"] for r in rows] == [g["class"] for g in doc["groups"]] + ["all"]
    assert sum(int(r["incidents"]) for r in rows[:-1]) == int(rows[-1]["incidents"]) == 36
    for row, g in zip(rows, doc["groups"]):
        assert int(row["response_sla_met"]) == g["response_sla"]["met"]
        assert math.isclose(float(row["ack_median_s"]), g["ack_seconds"]["median"])


def test_a_month_in_another_time_zone_moves_the_boundaries(month) -> None:
    stage, played = month
    store = stage.store()
    try:
        berlin = build_report(played["rt"], store, "2026-11", "Europe/Berlin", played["made_at"])
    finally:
        store.close()
    assert berlin["window"] == {"start": "2026-10-31T23:00:00+00:00", "end": "2026-11-30T23:00:00+00:00"}
    last = NOV + 35 * 19 * H  # 2026-11-29 09:00 UTC: inside both windows
    assert last < datetime(2026, 11, 30, 23, tzinfo=UTC)
    assert berlin["total"]["incidents"] == 36


def test_bad_month_and_zone_are_refused_by_name(month) -> None:
    bad = run("report", "--month", "2026-13")
    assert bad.exit_code == 2 and "--month: '2026-13' is not a month like 2026-11" in bad.output
    bad = run("report", "--month", "2026-11", "--tz", "Mars/Olympus")
    assert bad.exit_code == 2 and "is not a time zone" in bad.output


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit PNG, decoded with the standard library."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    idat = b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IDAT":
            idat += body
        chunks.setdefault(kind, body)
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8 and colour in (2, 6)
    bpp = 3 if colour == 2 else 4
    raw_rows = zlib.decompress(idat)
    stride = width * bpp
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw_rows[y * (stride + 1)]
        line = bytearray(raw_rows[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)")
def test_the_html_report_is_one_self_contained_file_that_chromium_draws(month, tmp_path: Path) -> None:
    _, played = month
    page = tmp_path / "report.html"
    html = render_html(played["doc"])
    page.write_text(html, encoding="utf-8")
    assert html.count("<svg") == 2 and "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    assert "@media print" in html and "not measured" in html
    dots = re.findall(r'<circle [^>]*fill="#cf222e"><title>([^<]+)</title>', html)  # one per month with data
    assert dots and all(": response SLA " in d for d in dots)  # a single month's line of one point draws nothing
    made = re.search(r"made ([^.;<]+)", html).group(1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d.*", made) and "+00:00" not in made  # to the minute
    outcomes = html.split("<h2>Deliveries by channel and outcome</h2>", 1)[1].split("</table>", 1)[0]
    assert "accepted " in outcomes and "delivered" not in outcomes
    shot = tmp_path / "shot.png"
    result = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                             "--disable-background-networking", "--hide-scrollbars", f"--screenshot={shot}",
                             "--window-size=1000,1400", page.as_uri()],
                            capture_output=True, text=True, timeout=120, env={"HOME": str(tmp_path)}, check=False)
    assert shot.exists(), result.stderr[-2000:]
    width, height, rows = png_pixels(shot)
    assert (width, height) == (1000, 1400)
    bpp = len(rows[0]) // width
    inked = sum(1 for row in rows for x in range(0, len(row), bpp) if row[x:x + 3] != b"\xff\xff\xff")
    blue = sum(1 for row in rows for x in range(0, len(row), bpp) if row[x:x + 3] == bytes((0x09, 0x69, 0xDA)))
    assert inked > width * height // 50  # text, tables and charts: far from a blank page
    assert blue > 200  # the trend chart's bars were drawn


def test_the_report_command_writes_json_csv_and_html(month, tmp_path: Path, monkeypatch) -> None:
    stage, played = month
    monkeypatch.setenv("NOTIFY_STORE_URL", f"sqlite:///{stage.store_path}")
    monkeypatch.setenv("NOTIFY_CONFIG_DIR", str(stage.config_dir))
    at = played["made_at"].isoformat()
    doc = json.loads(run("report", "--month", "2026-11", "--json", now=at).stdout)
    assert doc["total"]["incidents"] == 36 and doc["groups"] == played["doc"]["groups"]
    assert run("report", "--month", "2026-11", "--csv", now=at).stdout == render_csv(played["doc"])
    out = run("report", "--month", "2026-11", "--html", str(tmp_path / "r.html"), now=at)
    assert out.exit_code == 0 and (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    default = json.loads(run("report", "--json", now=at).stdout)
    assert default["month"] == "2026-11"  # on 3 December the last full month


def test_each_drill_leaves_a_summary_row_the_report_counts(tmp_path: Path) -> None:
    from .conftest import REPO

    at = "2026-11-12T10:00:00+00:00"
    played = run("drill", str(REPO / "drills" / "platform-outage.toml"), "--sandbox", "--state-dir",
                 str(tmp_path / "drill"), now=at)
    assert played.exit_code == 0, played.output
    doc = json.loads(run("report", "--month", "2026-11", "--json", now="2026-12-01T09:00:00+00:00").stdout)
    assert doc["drills"]["run"] == 1 and doc["drills"]["met"] is True
    assert doc["drills"]["runs"][0]["scenario"].startswith("Platform outage") and doc["drills"]["runs"][0]["passed"]
    assert doc["total"]["incidents"] == 0  # the drill's incident lives in its own store


@pytest.mark.parametrize("counts, shown", [
    ({"reviews": 1, "on_time": 0, "late": 0, "overdue": 0, "pending": 1}, "1 not due yet"),  # was "0/1": a miss
    ({"reviews": 3, "on_time": 1, "late": 1, "overdue": 0, "pending": 1}, "1/2 (1 late, 1 not due yet)"),
    ({"reviews": 2, "on_time": 1, "late": 0, "overdue": 1, "pending": 0}, "1/2 (1 overdue)"),
    ({"reviews": 0, "on_time": 0, "late": 0, "overdue": 0, "pending": 0}, "-"),
])
def test_root_causes_still_within_their_48_hours_are_not_counted_as_missed(counts, shown) -> None:
    from dispatcher.app.monthly_render import _causes

    assert _causes(counts) == shown


@pytest.mark.parametrize(("made_at", "said"), [
    ("2026-12-06T09:32:54.521288+00:00", " so far (the month is in progress: counted to 2026-12-06 09:32)"),
    ("2027-01-02T08:00:00+00:00", ""),  # made after the month ended: the month's numbers
])
def test_a_month_in_progress_says_its_numbers_are_so_far(made_at: str, said: str) -> None:
    from dispatcher.app.monthly_render import _in_progress

    window = {"start": "2026-12-01T00:00:00+00:00", "end": "2027-01-01T00:00:00+00:00"}
    assert _in_progress({"made_at": made_at, "window": window}) == said

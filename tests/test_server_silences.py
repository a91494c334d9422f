"""Silences and maintenance windows over `notify serve`'s API: authenticated, validated, and paging on expiry."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest

from .stage import Stage, make_stage
from .test_server import API_TOKEN, SECRET, TOKEN, Server, metric

DISK = {"class": "outage", "dedup_key": "disk-db-1", "summary": "Disk full on db-1",
        "labels": {"alertname": "DiskFull", "instance": "db-1"}}
SILENCE = {"matchers": ['alertname="DiskFull"', 'instance=~"db-.*"'], "for": "2h", "by": "alice",
           "reason": "disk swap"}


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    yield from make_stage(config_dir, tmp_path, monkeypatch)


@pytest.fixture
def server(stage: Stage) -> Iterator[Server]:
    srv = Server(stage, webhook_token=TOKEN, webhook_hmac_secret=SECRET, api_token=API_TOKEN)
    yield srv
    srv.stop()


def test_a_silence_made_over_the_api_holds_an_alert_and_its_expiry_pages(server: Server, stage: Stage) -> None:
    made = server.post("/silences", SILENCE)
    assert made.status_code == 201, made.text
    silence = made.json()["silence"]
    assert [s["id"] for s in server.get("/silences").json()["silences"]] == [silence["id"]]

    held = server.post("/hooks/generic", DISK).json()
    assert (held["outcome"], held["deliveries"]["planned"]) == ("silenced", 0)
    timeline = server.get(f"/incidents/{held['incident']}").json()["timeline"]
    assert any(e["kind"] == "silenced" and silence["id"] in e["detail"] for e in timeline)
    assert metric(server, 'notify_pages_held_total{reason="silence"}') == 1

    expired = server.post(f"/silences/{silence['id']}/expire", b"")
    assert expired.status_code == 200 and expired.json()["released"] == [held["incident"]]
    server.worker.tick()
    delivered = [a for a in server.store.attempts(incident_id=held["incident"]) if a.outcome == "delivered"]
    assert delivered and {a.kind for a in delivered} == {"step"}


def test_the_silence_routes_take_the_api_token(server: Server) -> None:
    assert server.get("/silences", token=None).status_code == 401
    assert server.post("/silences", SILENCE, token=TOKEN).status_code == 401  # the hook credential is not enough
    assert server.post("/maintenance", {}, token="wrong-token-000000000").status_code == 401
    assert server.store.silences() == []


@pytest.mark.parametrize("path, body, field", [
    ("/silences", {**SILENCE, "matchers": 'alertname="DiskFull"'}, "matchers"),
    ("/silences", {**SILENCE, "matchers": ['alertname=~"("']}, "match"),
    ("/silences", {**SILENCE, "for": "soon"}, "for"),
    ("/silences", {k: v for k, v in SILENCE.items() if k != "reason"}, "reason"),
    ("/maintenance", {"services": ["api"], "from": "2026-03-02T10:00Z", "to": "later", "by": "b", "reason": "r"},
     "to"),
])
def test_a_bad_silence_or_window_is_answered_422_naming_the_field(server: Server, path, body, field) -> None:
    answer = server.post(path, body)
    assert answer.status_code == 422 and answer.json()["field"] == field, answer.text
    assert server.store.silences() == []


def test_expiring_an_unknown_silence_is_404(server: Server) -> None:
    answer = server.post("/silences/S-000000/expire", b"")
    assert answer.status_code == 404 and "S-000000" in answer.json()["error"]


def test_a_window_is_scheduled_and_listed_over_the_api(server: Server, stage: Stage) -> None:
    start = stage.clock.now()
    body = {"services": ["api"], "from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat(),
            "by": "bob", "reason": "upgrade"}
    made = server.post("/maintenance", body)
    assert made.status_code == 201, made.text
    assert [w["services"] for w in server.get("/maintenance").json()["silences"]] == [["api"]]

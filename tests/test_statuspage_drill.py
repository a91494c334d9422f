"""The outage drill updates a Statuspage stand-in: the exact requests Statuspage's documented API would receive
(POST /v1/pages/{page_id}/incidents at step 0, a PATCH of that incident on each update, status resolved at the end)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dispatcher.drill.sandbox import STATUSPAGE_HOST, STATUSPAGE_KEY

pytestmark = pytest.mark.slow  # each plays the 70-minute outage drill through the sandbox: seconds, not milliseconds

DRILLS = Path(__file__).resolve().parent.parent / "drills"
PAGE = "tfstatus0001"  # the page id of contacts.toml's [statuspage.public]
COMPONENTS = {"API": "drillapi0001", "Webhooks": "drillhook0001"}  # the sandbox's NOTIFY_STATUSPAGE_COMPONENTS


def _play_outage(tmp_path: Path, *, failing: int = 0):
    from dispatcher.app import engine
    from dispatcher.app.drill import play
    from dispatcher.clock import FakeClock
    from dispatcher.config.settings import load_settings
    from dispatcher.drill.sandbox import Sandbox
    from dispatcher.drill.scenario import load_scenario

    scenario = load_scenario(DRILLS / "platform-outage.toml")
    with Sandbox() as stand_ins:
        rt = engine.load_runtime(DRILLS.parent, load_settings(**stand_ins.settings))
        if failing:
            stand_ins.fail("statuspage", 503, failing)
        outcome = play(rt, scenario, clock=FakeClock(datetime(2026, 12, 8, 10, 0, tzinfo=UTC)),
                       state_dir=tmp_path, sandbox=stand_ins)
        requests = [r for r in stand_ins.proxy.requests if r.host == STATUSPAGE_HOST]
    _play_outage.runtime = rt  # type: ignore[attr-defined]
    return outcome, requests


def test_the_outage_drill_opens_updates_and_resolves_the_statuspage_incident(tmp_path: Path) -> None:
    outcome, requests = _play_outage(tmp_path)
    assert [(r.method, r.path) for r in requests] == [
        ("POST", f"/v1/pages/{PAGE}/incidents"),
        *[("PATCH", f"/v1/pages/{PAGE}/incidents/drillinc0001")] * 4,  # three updates, then the resolution
    ]
    for request in requests:
        assert request.headers["Authorization"] == f"OAuth {STATUSPAGE_KEY}"
        assert request.headers["Content-Type"].startswith("application/json")
        assert list(request.json) == ["incident"]

    created = requests[0].json["incident"]
    assert created["name"] == "[DRILL] Service disruption: API, Webhooks"  # a drill says so, on the page too
    assert created["status"] == "investigating"
    assert created["component_ids"] == [COMPONENTS["API"], COMPONENTS["Webhooks"]]
    assert created["components"] == {COMPONENTS["API"]: "major_outage", COMPONENTS["Webhooks"]: "major_outage"}
    assert "We are investigating a service disruption affecting API, Webhooks." in created["body"]
    assert "Support Manager" not in created["body"] and "+1" not in created["body"]  # public: nobody internal

    updates = [r.json["incident"] for r in requests[1:4]]
    assert [u["status"] for u in updates] == ["identified"] * 3
    assert [f"Update #{n} on {outcome.incident.id}: {message}" in u["body"] for u, (n, message) in zip(updates,
        ((1, "Database failover in progress"), (2, "Failover complete; error rate falling"),
         (3, "Error rate back to normal; monitoring")))] == [True] * 3
    assert all(set(u) == {"status", "body"} for u in updates)  # the components stay as they are

    resolved = requests[4].json["incident"]
    assert resolved["status"] == "resolved"
    assert resolved["components"] == {COMPONENTS["API"]: "operational", COMPONENTS["Webhooks"]: "operational"}
    assert "Root cause: a saturated connection pool" in resolved["body"]


def test_each_statuspage_delivery_is_logged_with_the_incident_id_statuspage_answered(tmp_path: Path) -> None:
    from dispatcher.store import open_store

    outcome, _ = _play_outage(tmp_path)
    with open_store(f"sqlite:///{tmp_path / 'drill.db'}") as store:
        sent = [d for d in store.deliveries(outcome.incident.id) if d.channel == "statuspage"]
        attempts = [a for a in store.attempts(incident_id=outcome.incident.id) if a.channel == "statuspage"]
        assert store.earlier_provider_id(outcome.incident.id, "statuspage", PAGE) == "drillinc0001"
    assert [d.kind for d in sent] == ["step", "update", "update", "update", "resolved"]
    assert all(d.status.is_accepted for d in sent)
    assert [a.provider_id for a in attempts] == ["drillinc0001"] * 5
    assert [a.detail.split(";")[0] for a in attempts] == [
        "created status page incident drillinc0001", *["updated status page incident drillinc0001"] * 4]


def test_a_statuspage_failure_is_retried_and_logged_like_any_delivery(tmp_path: Path) -> None:
    outcome, requests = _play_outage(tmp_path, failing=1)
    assert [r.method for r in requests] == ["POST", "POST", "PATCH", "PATCH", "PATCH", "PATCH"]
    first = [a for a in outcome.attempts if a.channel == "statuspage" and a.kind == "step"]
    assert [(a.attempt, a.outcome, a.reason, a.provider_id) for a in first] == [
        (1, "failed-transient", "server-error", None), (2, "delivered", "ok", "drillinc0001")]
    assert requests[2].path == f"/v1/pages/{PAGE}/incidents/drillinc0001"  # the retried creation's id is updated


def test_notify_status_says_whether_the_status_page_took_the_update(tmp_path: Path) -> None:
    from dispatcher.app.incidents import status_document, status_text
    from dispatcher.store import open_store

    outcome, _ = _play_outage(tmp_path, failing=99)  # Statuspage answers 503 to every request
    with open_store(f"sqlite:///{tmp_path / 'drill.db'}") as store:
        doc = status_document(_play_outage.runtime, store, outcome.incident.id, outcome.end)
    assert doc["status_page"] == "update not accepted (server-error)"  # no "see notify status" in notify status
    assert f"  status page: {doc['status_page']}" in status_text(doc).splitlines()
    sent = [d for d in doc["deliveries"] if d["channel"] == "statuspage"]
    assert sent and all(d["outcome"] == "failed-transient" for d in sent)  # retried, then visible as failed

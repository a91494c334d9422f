"""`notify serve` over real HTTP: hooks, grouping and dedup, auth, limits, the API, health and metrics."""

from __future__ import annotations

import copy
import json
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
import requests
import uvicorn

from dispatcher.app.incidents import status_text
from dispatcher.server.auth import sign_grafana
from dispatcher.server.run import build

from .stage import Stage, make_stage

PAYLOADS = Path(__file__).parent / "payloads"
TOKEN = "inbound-token-123"  # hooks
SECRET = "hmac-secret-4567890"  # hooks, signed
API_TOKEN = "operator-api-token-789"  # ack, resolve, read
AUTO = "the route's own credential"


class Server:
    """The real ASGI app under uvicorn on a local port; the worker is ticked by the test, not a thread."""

    def __init__(self, stage: Stage, **settings) -> None:
        self.stage = stage
        self.store = stage.store()
        self.rt = stage.runtime(**settings)
        self.app, self.worker, self.wake = build(self.rt, self.store, stage.clock)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)

    def post(self, path: str, body: bytes | dict, token: str | None = AUTO, **headers) -> requests.Response:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        token = _credential(path) if token is AUTO else token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.post(self.url + path, data=data, headers=headers, timeout=10)

    def get(self, path: str, token: str | None = AUTO) -> requests.Response:
        token = _credential(path) if token is AUTO else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(self.url + path, headers=headers, timeout=10)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.worker.close()
        self.store.close()


def _credential(path: str) -> str:
    """The credential a route takes: the webhook token for hooks, the API token for the rest."""
    return TOKEN if path.startswith("/hooks/") else API_TOKEN


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    yield from make_stage(config_dir, tmp_path, monkeypatch)


@pytest.fixture
def server(stage: Stage) -> Iterator[Server]:
    srv = Server(stage, webhook_token=TOKEN, webhook_hmac_secret=SECRET, api_token=API_TOKEN)
    yield srv
    srv.stop()


def alertmanager(name: str = "alertmanager-0.25-webhook-v4.json") -> dict:
    return json.loads((PAYLOADS / name).read_text())


def sent(stage: Stage) -> int:
    return len(stage.proxy.requests) + len(stage.smtp.messages)


def metric(server: Server, line_start: str) -> float:
    for line in server.get("/metrics", token=None).text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric line starting {line_start!r}")


def test_alertmanager_group_is_queued_then_opens_once_updates_on_new_alerts_and_resolves(
        server: Server, stage: Stage) -> None:
    payload = alertmanager()
    first = server.post("/hooks/alertmanager", payload)
    assert first.status_code == 202
    assert first.json() == {"schema": 1, "outcome": "queued", "event": 1,
                            "dedup_key": "alertmanager:" + payload["groupKey"]}
    assert server.wake.is_set()  # a stored webhook wakes the worker loop; no polling interval in the path
    assert server.store.incidents() == []  # stored as received: triage is the worker loop's
    assert server.get("/healthz").json()["inbox"] == {"waiting": 1, "failing": 0, "given_up": 0}
    server.worker.tick()
    [incident] = server.store.incidents()
    delivered = [d for d in server.store.deliveries(incident.id) if d.status == "delivered"]
    assert delivered and sent(stage) == len(delivered)
    assert server.get("/healthz").json()["inbox"] == {"waiting": 0, "failing": 0, "given_up": 0}
    assert metric(server, 'notify_ingested_total{outcome="opened",source="alertmanager"}') == 1

    before = sent(stage)
    repeat = server.post("/hooks/alertmanager", payload)  # Alertmanager re-sends the group every repeat_interval
    assert repeat.json()["outcome"] == "queued" and repeat.json()["event"] == 2
    server.worker.tick()
    assert sent(stage) == before  # nobody paged again
    assert metric(server, 'notify_ingested_total{outcome="duplicate",source="alertmanager"}') == 1

    grown = copy.deepcopy(payload)
    extra = copy.deepcopy(grown["alerts"][0])
    extra["fingerprint"], extra["labels"]["instance"] = "f00dfeedf00dfeed", "db-2:9100"
    grown["alerts"].append(extra)
    server.post("/hooks/alertmanager", grown)
    resolved = copy.deepcopy(grown)
    resolved["status"] = "resolved"
    for alert in resolved["alerts"]:
        alert["status"] = "resolved"
    server.post("/hooks/alertmanager", resolved)
    server.worker.tick()  # both in one tick, in the order received: the update, then the resolve
    status = server.get(f"/incidents/{incident.id}").json()
    assert status["incident"]["status"] == "resolved"
    kinds = {d["kind"] for d in status["deliveries"] if d["outcome"] == "delivered"}
    assert {"step", "update", "resolved"} <= kinds
    assert [s.id for s in server.store.incidents()] == [incident.id]


def test_a_new_firing_after_resolution_opens_a_new_incident_in_the_order_received(server: Server) -> None:
    payload = alertmanager()
    resolved = copy.deepcopy(payload)
    resolved["status"] = "resolved"
    server.worker.inbox.batch = 2  # more than one batch
    for body in (payload, resolved, payload):
        assert server.post("/hooks/alertmanager", body).status_code == 202
    server.worker.tick()
    first, again = sorted(server.store.incidents(), key=lambda row: row.id)
    assert (first.status, again.status) == ("resolved", "open")
    assert server.store.inbox_counts() == (0, 0, 0)


def test_a_stored_webhook_that_no_longer_parses_is_given_up_at_once_kept_and_counted(
        server: Server, stage: Stage, caplog: pytest.LogCaptureFixture) -> None:
    payload = alertmanager()
    group = "alertmanager:" + payload["groupKey"]
    # A row the parser refuses now (written by hand, or by an older notify): never silently dropped.
    server.store.enqueue("alertmanager", group, '{"status": "firing"}', stage.clock.now())
    resolved = copy.deepcopy(payload)
    resolved["status"] = "resolved"
    assert server.post("/hooks/alertmanager", resolved).status_code == 202  # its group's, behind it
    other = copy.deepcopy(payload)
    other["groupKey"] = '{}:{alertname="Other"}'
    assert server.post("/hooks/alertmanager", other).status_code == 202
    server.worker.tick()
    assert len(server.store.incidents()) == 1  # the other group's; the resolve found nothing open
    assert server.get("/healthz").json()["inbox"] == {"waiting": 0, "failing": 0, "given_up": 1}
    assert metric(server, "notify_inbox_given_up ") == 1 and metric(server, "notify_inbox_waiting ") == 0
    assert metric(server, 'notify_ingested_total{outcome="not-open",source="alertmanager"}') == 1
    assert "inbox.given-up incident=- inbox_event=1 source=alertmanager" in caplog.text
    assert 'why="it never will be as it is"' in caplog.text


def test_generic_trigger_pages_and_metrics_count_it(server: Server) -> None:
    body = {"class": "outage", "summary": "API returns 503 for all tenants", "affected_services": ["API"]}
    answer = server.post("/hooks/generic", body)
    assert answer.status_code == 202 and answer.json()["class"] == "outage"
    server.worker.tick()
    metrics = server.get("/metrics", token=None).text
    assert 'notify_deliveries_total{channel="email",outcome="delivered"}' in metrics
    assert "notify_open_incidents 1.0" in metrics
    assert 'notify_ingested_total{outcome="opened",source="generic"} 1.0' in metrics
    assert 'notify_delivery_latency_seconds_bucket{channel="sms",le="0.005"}' in metrics


OUTAGE = {"class": "outage", "summary": "API returns 503 for all tenants"}


def answer_while_the_worker_ticks(server: Server, path: str, body: dict) -> requests.Response:
    """POST in a thread; tick the worker once the event is stored, as the server's worker loop would on its wake."""
    server.wake.clear()
    answers: list[requests.Response] = []
    poster = threading.Thread(target=lambda: answers.append(server.post(path, body)))
    poster.start()
    assert server.wake.wait(10), "the event was not stored"
    server.worker.tick()
    poster.join(15)
    return answers[0]


def test_the_generic_answer_counts_planned_and_pending_deliveries_it_has_not_sent_yet(server: Server) -> None:
    answer = server.post("/hooks/generic", OUTAGE).json()
    planned = [d for d in server.store.deliveries(answer["incident"]) if d.status == "pending"]
    assert answer["deliveries"] == {"planned": len(planned), "delivered": 0, "failed": 0, "pending": len(planned)}


def test_waiting_for_the_generic_answer_reports_every_failure_and_fallback(stage: Stage) -> None:
    """No channel has settings: every step-0 delivery and each fallback fails, and the answer says so."""
    server = Server(stage, webhook_token=TOKEN, email_url=None, slack_url=None, sms_url=None, phone_url=None,
                    statuspage_url=None)
    try:
        answer = answer_while_the_worker_ticks(server, "/hooks/generic?wait=10", OUTAGE)
        assert answer.status_code == 202, answer.text
        rows = [d for d in server.store.deliveries(answer.json()["incident"]) if d.status != "skipped"]
        step0 = [d for d in rows if d.fallback_of is None]
        assert any(d.fallback_of for d in rows)  # fallbacks were tried before the answer
        assert [(d.person, d.status) for d in rows if d.status != "failed-permanent"] == []
        assert answer.json()["deliveries"] == {"planned": len(step0), "delivered": 0, "failed": len(step0),
                                               "pending": 0}
    finally:
        server.stop()


def test_waiting_for_the_generic_answer_reports_real_sends_as_delivered(server: Server, stage: Stage) -> None:
    answer = answer_while_the_worker_ticks(server, "/hooks/generic?wait=10", OUTAGE).json()
    delivered = [d for d in server.store.deliveries(answer["incident"]) if d.status == "delivered"]
    assert sent(stage) == len(delivered) > 0
    assert answer["deliveries"] == {"planned": len(delivered), "delivered": len(delivered), "failed": 0,
                                    "pending": 0}


@pytest.mark.parametrize("path", ["/hooks/generic?wait=31", "/hooks/generic?wait=-1", "/hooks/generic?wait=soon",
                                  "/hooks/generic?wait=nan", "/hooks/alertmanager?wait=5"])
def test_a_wait_out_of_range_or_on_a_queued_hook_is_refused_before_anything_is_stored(server: Server,
                                                                                    path: str) -> None:
    body = alertmanager() if "alertmanager" in path else OUTAGE
    answer = server.post(path, body)
    assert answer.status_code == 422 and answer.json()["field"] == "wait", answer.text
    assert server.store.incidents() == [] and not server.wake.is_set()


def test_an_alert_no_rule_matches_still_notifies(server: Server) -> None:
    body = {"summary": "Disk 91% full on build-agent-7"}
    answer = server.post("/hooks/generic", body).json()
    assert answer["outcome"] == "opened" and answer["class"] == "technical" and answer["needs_review"] is True
    assert answer["deliveries"]["planned"] >= 1  # the on-call primary hears about it
    # and the mark stays visible after the answer (an Alertmanager hook's answer is only "queued")
    assert [i["needs_review"] for i in server.get("/incidents").json()["incidents"]] == [True]
    status = server.get(f"/incidents/{answer['incident']}").json()
    assert status["incident"]["needs_review"] is True
    assert "needs review: triage was not sure of the class" in status_text(status)


@pytest.mark.parametrize("headers, token", [({}, None), ({}, "wrong"), ({"Authorization": "Basic abc"}, None)])
def test_without_valid_auth_401_and_nothing_stored(server: Server, headers: dict, token: str | None) -> None:
    answer = server.post("/hooks/generic", {"summary": "x"}, token=token, **headers)
    assert answer.status_code == 401 and "credentials" in answer.json()["error"]
    assert server.store.incidents() == []
    assert server.get("/incidents", token=None).status_code == 401


def test_grafana_hmac_signature_with_its_timestamp_on_the_grafana_hook(server: Server, stage: Stage) -> None:
    body = (PAYLOADS / "grafana-firing.json").read_bytes()
    now = str(int(stage.clock.now().timestamp()))
    stamped = server.post("/hooks/grafana", body, token=None, **{
        "X-Grafana-Alerting-Signature": sign_grafana(SECRET, now, body), "X-Grafana-Alerting-Timestamp": now})
    assert stamped.status_code == 202, stamped.text
    stale = str(int(stage.clock.now().timestamp()) - 3600)
    old = server.post("/hooks/grafana", body, token=None, **{
        "X-Grafana-Alerting-Signature": sign_grafana(SECRET, stale, body), "X-Grafana-Alerting-Timestamp": stale})
    assert old.status_code == 401
    forged = server.post("/hooks/grafana", body, token=None, **{
        "X-Grafana-Alerting-Signature": sign_grafana("a-guessed-secret-000", now, body),
        "X-Grafana-Alerting-Timestamp": now})
    assert forged.status_code == 401


@pytest.mark.parametrize("body, status, field", [
    (b"{not json", 400, "body"),
    (b"[1, 2]", 400, "body"),
    (json.dumps({"summary": "x", "colour": "red"}).encode(), 422, None),
    (json.dumps({"summary": "x", "labels": "sev=1"}).encode(), 422, "labels"),
    (json.dumps({"summary": "x", "class": "nonsense"}).encode(), 422, "class"),
])
def test_malformed_bodies_are_refused_naming_the_field(server: Server, body: bytes, status: int,
                                                       field: str | None) -> None:
    answer = server.post("/hooks/generic", body)
    assert answer.status_code == status, answer.text
    if field:
        assert answer.json()["field"] == field
    assert server.store.incidents() == []


def test_oversize_bodies_get_413_and_nothing_stored(server: Server) -> None:
    big = json.dumps({"summary": "x", "description": "y" * (1024 * 1024)}).encode()
    assert server.post("/hooks/generic", big).status_code == 413
    assert server.store.incidents() == []


def test_ack_and_resolve_over_the_api(server: Server) -> None:
    incident_id = server.post("/hooks/generic", {"class": "security", "summary": "admin login from Tor"}).json()[
        "incident"]
    assert server.post(f"/incidents/{incident_id}/ack", {}).status_code == 422  # who acknowledges?
    ack = server.post(f"/incidents/{incident_id}/ack", {"by": "Support Manager A"}).json()
    assert ack["acknowledged"] is True and ack["status"] == "acknowledged"
    assert server.post("/incidents/SEC-1999-001/ack", {"by": "x"}).status_code == 404
    listed = server.get("/incidents").json()["incidents"]
    assert [i["id"] for i in listed] == [incident_id]
    done = server.post(f"/incidents/{incident_id}/resolve", {"message": "false positive"}).json()
    assert done["resolved"] is True
    assert server.get(f"/incidents/{incident_id}").json()["resolved_at"] is not None


def test_reclassify_over_the_api_confirms_or_changes_the_class(server: Server, stage: Stage) -> None:
    body = {"summary": "Disk 91% full on build-agent-7", "reported_by": "jane@acme.example"}
    incident_id = server.post("/hooks/generic", body).json()["incident"]  # no rule matched: needs review
    path = f"/incidents/{incident_id}/reclassify"
    assert server.post(path, {"class": "technical", "by": "Dana"}, token=None).status_code == 401
    missing = server.post(path, {"class": "technical"})
    assert (missing.status_code, missing.json()["field"]) == (422, "by")
    unknown = server.post(path, {"class": "securty", "by": "Dana"})
    assert unknown.status_code == 422 and "the known classes are security, outage" in unknown.json()["error"]
    assert server.post("/incidents/TEC-1999-001/reclassify", {"class": "security", "by": "Dana"}).status_code == 404

    confirmed = server.post(path, {"class": "technical", "by": "Dana"}).json()
    assert (confirmed["outcome"], confirmed["from"], confirmed["to"], confirmed["notices"]) == \
        ("confirmed", "technical", "technical", 1)  # the held customer notice, released
    server.worker.tick()
    assert [m["To"] for m in stage.smtp.messages].count("jane@acme.example") == 1
    changed = server.post(f"/incidents/{incident_id.lower()}/reclassify", {"class": "Security", "by": "Dana"}).json()
    assert (changed["outcome"], changed["from"], changed["to"]) == ("changed", "technical", "security")
    timeline = server.get(f"/incidents/{incident_id}").json()["timeline"]
    assert [e["kind"] for e in timeline if e["by"] == "Dana"] == ["class-confirmed", "reclassified"]
    assert server.post(f"/incidents/{incident_id}/resolve", {"by": "Dana"}).status_code == 200
    closed = server.post(path, {"class": "outage", "by": "Dana"})
    assert closed.status_code == 409 and "its class can no longer change" in closed.json()["error"]


def test_healthz_reports_store_and_worker(server: Server) -> None:
    assert server.get("/healthz", token=None).status_code == 503  # the worker loop has not ticked yet
    server.worker.tick()
    health = server.get("/healthz")
    assert health.status_code == 200 and health.json()["store"]["ok"] is True


@pytest.mark.parametrize("path", ["/hooks/generic", "/hooks/alertmanager"])
def test_a_store_failure_answers_503_so_the_sender_retries(server: Server, path: str) -> None:
    server.store._conn.close()  # the disk went away under us
    body = alertmanager() if path.endswith("alertmanager") else {"summary": "disk gone"}
    answer = server.post(path, body)
    assert answer.status_code == 503 and "retry" in answer.json()["error"]
    server.store._reader.close()  # reads fail too: /healthz says so in its own JSON, not a hook's error
    health = server.get("/healthz")
    assert health.status_code == 503 and health.json()["ok"] is False and health.json()["store"]["ok"] is False
    assert "notify.db" in health.json()["store"]["error"]


def test_unknown_routes_and_known_ones_asked_with_the_wrong_method(server: Server) -> None:
    assert server.get("/nope").status_code == 404
    deleted = requests.delete(server.url + "/incidents", headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=5)
    assert (deleted.status_code, deleted.headers["allow"]) == (405, "GET")
    hook = server.get("/hooks/generic")  # a curl without -X POST: the route is there, the method is not
    assert (hook.status_code, hook.headers["allow"]) == (405, "POST")
    assert hook.json()["error"] == "/hooks/generic takes POST, not GET"
    ack = requests.get(server.url + "/incidents/SEC-2024-001/ack", headers={"Authorization": f"Bearer {API_TOKEN}"},
                       timeout=5)
    assert (ack.status_code, ack.headers["allow"]) == (405, "POST")
    expire = requests.get(server.url + "/silences/S-000001/expire", headers={"Authorization": f"Bearer {API_TOKEN}"},
                          timeout=5)  # a route object's own path: it says its methods too
    assert (expire.status_code, expire.headers["allow"]) == (405, "POST")
    silences = requests.delete(server.url + "/silences", headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=5)
    assert (silences.status_code, silences.headers["allow"]) == (405, "GET, POST")


def test_the_outbound_webhook_gets_every_step_of_a_hook_opened_incident(stage: Stage) -> None:
    from dispatcher.testing.providers import RecordingServer, Reply

    with RecordingServer(Reply(200, "ok")) as hook:
        srv = Server(stage, webhook_token=TOKEN, webhook_url=hook.url + "/out")
        try:
            incident_id = srv.post("/hooks/generic", {"class": "security", "summary": "admin login from Tor"}).json()[
                "incident"]
            srv.worker.tick()
            stage.clock.advance(timedelta(minutes=16))
            srv.worker.tick()
        finally:
            srv.stop()
    steps = sorted(r.json["incident"]["step"] for r in hook.requests)
    assert steps == [0, 1] and all(r.json["incident"]["id"] == incident_id for r in hook.requests)


def test_an_incident_id_in_lower_case_names_the_same_incident_over_the_api(server: Server) -> None:
    """The CLI takes `out-2026-001`; so must the API, or a script's resolve would quietly do nothing."""
    incident_id = server.post("/hooks/generic", {"class": "outage", "summary": "API down"}).json()["incident"]
    lower = incident_id.lower()
    assert server.get(f"/incidents/{lower}").json()["incident"]["id"] == incident_id
    assert server.post(f"/incidents/{lower}/ack", {"by": "Support Manager A"}).json()["acknowledged"] is True
    update = server.post("/hooks/generic", {"action": "update", "incident": lower, "summary": "EU only"}).json()
    assert update["outcome"] == "updated" and update["incident"] == incident_id
    resolved = server.post("/hooks/generic", {"action": "resolve", "incident": lower, "summary": "fixed"}).json()
    assert resolved["outcome"] == "resolved" and server.store.incident(incident_id).status == "resolved"


@pytest.mark.parametrize("escape", ["\\u0000", "\\ud800", "\\uDFFF"])
def test_an_unstorable_character_is_refused_naming_the_field_not_stored_to_fail_later(
        server: Server, escape: str) -> None:
    body = json.dumps(alertmanager()).replace('"alertname": "', f'"alertname": "{escape}', 1).encode()
    answer = server.post("/hooks/alertmanager", body)
    assert answer.status_code == 422 and "NUL character or a lone surrogate" in answer.json()["error"]
    assert answer.json()["field"].endswith(".labels.alertname")
    assert server.store.inbox_counts() == (0, 0, 0)


def test_text_that_only_looks_like_such_an_escape_is_accepted(server: Server) -> None:
    literal = json.dumps({"summary": "a path like C:\\u0000 is only text, \U0001F600 a real emoji"}).encode()
    assert server.post("/hooks/generic", literal).status_code == 202


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_a_body_not_in_utf8_is_refused_before_anything_is_stored(server: Server, encoding: str) -> None:
    answer = server.post("/hooks/alertmanager", json.dumps(alertmanager()).encode(encoding))
    assert answer.status_code == 400 and answer.json()["field"] == "body" and "UTF-8" in answer.json()["error"]
    assert server.store.inbox_counts() == (0, 0, 0)


# As the CLI and `notify ingest` refuse them (test_operator_mistakes.py, test_ingest_cli.py): validated once,
# in domain/incident.py; the answer is 422 naming the field, and nothing is stored.
@pytest.mark.parametrize(("body", "field", "error"), [
    ({"class": "security", "summary": "x", "started": "2099-01-01T00:00:00Z"}, "started",
     "started: 2099-01-01T00:00:00+00:00 is in the future"),
    ({"class": "outage", "summary": "x", "incident": "SEC-2026-001"}, "incident",
     "incident: 'SEC-2026-001' does not start with this class's prefix OUT-"),
    ({"summary": "x", "plan": "platinum"}, "plan", "plan: 'platinum' is not a plan: use basic, pro, enterprise"),
    ({"class": "security", "summary": "x", "acv": -5}, "acv", "acv: '-5' is not a contract value: expected 0 or more dollars"),
])
def test_the_api_refuses_invalid_incident_input_as_the_cli_does(server: Server, body: dict, field: str,
                                                                 error: str) -> None:
    answer = server.post("/hooks/generic", body)
    assert answer.status_code == 422 and answer.json() == {"error": error, "field": field}
    assert server.store.incidents() == []


def test_an_alertmanager_start_ahead_of_our_clock_pages_now(server: Server, stage: Stage) -> None:
    payload = alertmanager()
    ahead = (stage.clock.now() + timedelta(hours=1)).isoformat()
    for alert in payload["alerts"]:
        alert["startsAt"] = ahead  # that host's clock, not a typo: a page must not wait for clocks to agree
    assert server.post("/hooks/alertmanager", payload).status_code == 202
    server.worker.tick()
    [incident] = server.store.incidents()
    assert incident.started == stage.clock.now()

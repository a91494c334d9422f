"""`notify serve` behind a real Alertmanager process (Debian's prometheus-alertmanager).

The webhook parser is tested against recorded payloads elsewhere; this proves
the whole path an operator sets up: Alertmanager's own grouping, bearer
authorization, repeat and resolved notifications, against `notify serve` as a
process whose providers are an in-process SMTP server and a TLS proxy. The
Alertmanager config written here is the one docs/integrations/alertmanager.md
shows.

Timeline (group_wait 1s, group_interval 2s, repeat_interval 3s): the first
notification about 1 s after the alert is posted, a repeat at the first group
flush at least 3 s later (about 5 s), and the resolved notification at the
flush after the alert is ended (at most 2 s).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, TypeVar

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.slow  # a real Alertmanager in front of a notify serve process


TOKEN = "am-test-token-7f3c"  # Alertmanager posts hooks with it
API_TOKEN = "am-test-api-token-91d2"  # the test reads the API with it
BINARIES = ("prometheus-alertmanager", "alertmanager")  # Debian's name, then upstream's
# Read at import: the autouse clean_env fixture removes every NOTIFY_* variable before each test.
REQUIRED = os.environ.get("NOTIFY_REQUIRE_ALERTMANAGER") == "1"
LABELS = {"alertname": "ApiDown", "severity": "critical", "service": "api"}
SUMMARY = "API returns 503 for all tenants"

T = TypeVar("T")

CONFIG = """\
route:
  receiver: notify
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 3s
receivers:
  - name: notify
    webhook_configs:
      - url: http://127.0.0.1:{port}/hooks/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


def _alertmanager_binary() -> str:
    for name in BINARIES:
        if path := shutil.which(name):
            return path
    why = ("Alertmanager binary not found: install the Debian package prometheus-alertmanager "
           "(apt-get install prometheus-alertmanager); .ci/run does")
    if REQUIRED:  # CI: this test must run, never skip
        pytest.fail(f"NOTIFY_REQUIRE_ALERTMANAGER=1 but {why}", pytrace=False)
    pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, check: Callable[[], T | None], timeout: float, every: float = 0.1,
             show: Callable[[], Any] | None = None) -> T:
    """Poll check() until it returns something truthy; fail naming `what` (and show()) after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except requests.ConnectionError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}" + (f"; last seen: {show()}" if show else ""))
        time.sleep(every)




class Notify:
    """`notify serve` as a subprocess, and what the test asks it."""

    def __init__(self, provider_env: dict[str, str], tmp_path: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "notify-serve.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFY_")}
        env.update(provider_env, NOTIFY_WEBHOOK_TOKEN=TOKEN, NOTIFY_API_TOKEN=API_TOKEN,
                   NOTIFY_STATE_DIR=str(tmp_path / "state"))
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "dispatcher", "serve", "--port", str(self.port),
                                          "--interval", "0.2"], env=env, stdout=log, stderr=subprocess.STDOUT)
        self.session = requests.Session()
        self.session.trust_env = False  # 127.0.0.1 directly, never through the provider proxy
        self.session.headers["Authorization"] = f"Bearer {API_TOKEN}"

    def alive(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"notify serve exited with {self.proc.returncode}:\n{self.log.read_text(errors='replace')}")
        return True

    def get(self, path: str) -> Any:
        answer = self.session.get(self.url + path, timeout=5)
        answer.raise_for_status()
        return answer.json()

    def incidents(self) -> list[dict[str, Any]]:
        return self.get("/incidents")["incidents"]

    def ingested(self) -> dict[str, int]:
        """notify_ingested_total for source alertmanager, by outcome: what Alertmanager's posts became."""
        text = self.session.get(self.url + "/metrics", timeout=5).text
        return {s.labels["outcome"]: int(s.value) for family in text_string_to_metric_families(text)
                for s in family.samples
                if s.name == "notify_ingested_total" and s.labels.get("source") == "alertmanager"}

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return self.log.read_text(errors="replace")


class Alertmanager:
    """A real Alertmanager process: temp config and storage, no cluster gossip, debug log to a file."""

    def __init__(self, binary: str, notify_port: int, tmp_path: Path, *, config: str = CONFIG,
                 name: str = "alertmanager") -> None:
        """`config`: Alertmanager's YAML with {port} and {token}; `name`: its files' stem (one per run)."""
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = tmp_path / f"{name}.yml"
        self.config.write_text(config.format(port=notify_port, token=TOKEN))
        self.log = tmp_path / f"{name}.log"
        storage = tmp_path / f"{name}-data"
        storage.mkdir()
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [binary, f"--config.file={self.config}", f"--storage.path={storage}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=",
                 "--log.level=debug"],
                env=env, stdout=log, stderr=subprocess.STDOUT)
        self.session = requests.Session()
        self.session.trust_env = False

    def alive(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"Alertmanager exited with {self.proc.returncode}:\n{self.log.read_text(errors='replace')}")
        return True

    def errors(self) -> list[str]:
        """Alertmanager's own error and warning lines (a refused webhook shows up here)."""
        return [line for line in self.log.read_text(errors="replace").splitlines()
                if "level=error" in line or "level=warn" in line]

    def post_alert(self, starts: datetime, ends: datetime | None = None) -> None:
        alert: dict[str, Any] = {"labels": LABELS, "annotations": {"summary": SUMMARY},
                                 "startsAt": starts.isoformat(), "generatorURL": "http://prometheus.test/graph"}
        if ends is not None:
            alert["endsAt"] = ends.isoformat()
        answer = self.session.post(self.url + "/api/v2/alerts", json=[alert], timeout=5)
        assert answer.status_code == 200, answer.text

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return self.log.read_text(errors="replace")


def test_real_alertmanager_opens_one_incident_repeats_page_nobody_resolved_resolves(providers,
                                                                                     tmp_path: Path) -> None:
    binary = _alertmanager_binary()
    smtp, proxy, provider_env = providers
    began = time.monotonic()
    notify = Notify(provider_env, tmp_path)
    try:
        am = Alertmanager(binary, notify.port, tmp_path)
    except BaseException:
        notify.stop()
        raise

    def sent() -> int:
        return len(smtp.messages) + len(proxy.requests)

    def settled(incident_id: str, kind: str) -> list[dict[str, Any]] | None:
        """The incident's deliveries of this kind, once there are some and none is still pending."""
        rows = [d for d in notify.get(f"/incidents/{incident_id}")["deliveries"] if d["kind"] == kind]
        return rows if rows and all(d["outcome"] != "pending" for d in rows) else None

    try:
        wait_for("notify serve /healthz", lambda: notify.alive() and
                 notify.session.get(notify.url + "/healthz", timeout=1).ok, 15)
        wait_for("Alertmanager /-/ready", lambda: am.alive() and am.session.get(am.url + "/-/ready", timeout=1).ok, 10)
        ready = time.monotonic()

        # Firing: Alertmanager waits group_wait, then posts; notify opens one outage incident and pages step 0.
        starts = datetime.now(timezone.utc)  # an alert older than group_wait would be sent at once
        am.post_alert(starts)
        posted = time.monotonic()
        (incident,) = wait_for("the incident Alertmanager's first notification opens", notify.incidents, 10,
                               show=am.errors)
        opened = time.monotonic()
        assert incident["class"] == "outage" and incident["status"] == "open", incident
        assert incident["summary"] == SUMMARY
        step0 = wait_for("step-0 deliveries to finish", lambda: settled(incident["id"], "step"), 10,
                         show=lambda: notify.get(f"/incidents/{incident['id']}")["deliveries"])
        assert all(d["step"] == 0 for d in step0)
        delivered = [d for d in step0 if d["outcome"] == "delivered"]
        assert {d["channel"] for d in delivered} >= {"email", "slack", "sms", "phone"}, step0
        assert not [d for d in step0 if d["outcome"].startswith("failed")], step0
        assert any(m["To"] == "outage-response@teamflow.com" for m in smtp.messages)
        pages = sent()
        assert pages >= len(delivered)

        # Repeat: after repeat_interval Alertmanager posts the unchanged group again; nobody is paged.
        counts = wait_for("Alertmanager's repeat notification", lambda: (c := notify.ingested()).get("duplicate")
                          and c, 12)
        repeated = time.monotonic()
        assert counts.get("opened") == 1 and counts.get("duplicate", 0) >= 1, counts
        time.sleep(0.5)  # a page the repeat planned would be sent within a worker tick (0.2 s)
        assert len(notify.incidents()) == 1
        doc = notify.get(f"/incidents/{incident['id']}")
        assert [d for d in doc["deliveries"] if d["kind"] != "step"] == []
        assert len([d for d in doc["deliveries"] if d["step"] == 0]) == len(step0)
        assert sent() == pages, "a repeat notification paged someone"

        # Resolved: the same alert with endsAt in the past; Alertmanager sends resolved at its next flush.
        am.post_alert(starts, ends=datetime.now(timezone.utc) - timedelta(seconds=1))
        (done,) = wait_for("the incident to be resolved",
                           lambda: [i for i in notify.incidents() if i["status"] == "resolved"], 10)
        resolved = time.monotonic()
        assert done["id"] == incident["id"] and done["resolved_at"]
        notices = wait_for("the resolution notices to finish", lambda: settled(incident["id"], "resolved"), 10,
                           show=lambda: notify.get(f"/incidents/{incident['id']}")["deliveries"])
        assert [d for d in notices if d["outcome"] == "delivered"], notices
        assert sent() > pages, "the resolution notice went nowhere"
        assert len(notify.incidents()) == 1
        doc = notify.get(f"/incidents/{incident['id']}")
        assert len([d for d in doc["deliveries"] if d["kind"] == "step"]) == len(step0)
        am_log = am.stop()  # no notification in flight from here on: the counts below are final
        final = notify.ingested()
        assert final.get("opened") == 1 and final.get("resolved") == 1, final
    finally:
        am_log = am.stop()
        notify_log = notify.stop()

    successes = am_log.count("Notify success")
    print(f"\nalertmanager: {am_log.splitlines()[0] if am_log else ''}\n"
          f"Alertmanager notifications delivered (its 'Notify success' log lines): {successes}\n"
          f"ingested by outcome: {final}; step-0 deliveries: {len(step0)} ({len(delivered)} delivered); "
          f"provider requests after step 0: {pages}, after resolve: {sent()}; resolution notices: {len(notices)}\n"
          f"timings (s): ready {ready - began:.1f}, opened {opened - posted:.1f} after post, "
          f"repeat {repeated - opened:.1f} after open, resolved {resolved - repeated:.1f} after ending the alert, "
          f"total {time.monotonic() - began:.1f}")
    assert "Notify for alerts failed" not in am_log, am_log
    assert not [line for line in am_log.splitlines() if "level=error" in line], am_log
    assert "Notify attempt failed" not in am_log, am_log
    assert successes >= 3, f"expected firing, repeat and resolved notifications, Alertmanager logged:\n{am_log}"
    assert successes == sum(final.values()), f"Alertmanager delivered {successes}, notify ingested {final}"
    assert TOKEN not in notify_log and TOKEN not in am_log and API_TOKEN not in notify_log
    assert notify.proc.returncode == 0, notify_log

"""Alertmanager's Watchdog as notify's dead man's switch, with a real Alertmanager process (Debian's package).

The Watchdog alert always fires; Alertmanager re-sends it every second here
(repeat_interval 1s), each notification a beat of the `alertmanager-watchdog`
heartbeat, whose interval (1 s) and grace (2 s) this test's routing.toml
declares. Stopping Alertmanager silences it: the worker's tick finds the
heartbeat late and opens one `monitoring` incident paging the on-call rotation
and #outage-response. A new Alertmanager, given the Watchdog again (as
Prometheus would on its next evaluation), beats again and resolves it.

The one real wait is the grace of a few seconds: that silence is what is tested.
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from .helpers import make_private
from .test_alertmanager_real import TOKEN, Alertmanager, Notify, _alertmanager_binary, wait_for

pytestmark = pytest.mark.slow  # a real Alertmanager, stopped and started again, and a few seconds of silence

REPO = Path(__file__).resolve().parent.parent
INTERVAL, GRACE = 1, 2  # seconds, as this test's routing.toml declares them

CONFIG = """\
route:
  receiver: notify
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1s
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


def config_with_a_fast_watchdog(tmp_path: Path) -> Path:
    """The shipped configuration, the Watchdog heartbeat declared with a 1 s interval and a 2 s grace."""
    target = tmp_path / "config"
    target.mkdir()
    for name in ("contacts.toml", "policy.toml"):
        shutil.copy(REPO / name, target / name)
    shutil.copytree(REPO / "templates", target / "templates")
    routing = (REPO / "routing.toml").read_text()
    shipped = '[heartbeats.alertmanager-watchdog]\ninterval = "1m"\ngrace = "4m"\n'
    assert shipped in routing
    (target / "routing.toml").write_text(routing.replace(
        shipped, f'[heartbeats.alertmanager-watchdog]\ninterval = "{INTERVAL}s"\ngrace = "{GRACE}s"\n'))
    make_private(target)
    return target


class WatchdogAlertmanager(Alertmanager):
    """A real Alertmanager whose one alert is the Watchdog, routed to notify's ordinary Alertmanager hook."""

    def __init__(self, binary: str, notify_port: int, tmp_path: Path, run: int) -> None:
        super().__init__(binary, notify_port, tmp_path, config=CONFIG, name=f"alertmanager-{run}")

    def ready(self) -> bool:
        self.alive()
        return self.session.get(self.url + "/-/ready", timeout=1).ok

    def fire_watchdog(self) -> None:
        """What Prometheus sends for the Watchdog rule (`vector(1)`): firing, with no end in sight."""
        alert = {"labels": {"alertname": "Watchdog", "severity": "none"},
                 "annotations": {"summary": "An alert that should always be firing"},
                 "startsAt": datetime.now(UTC).isoformat(),
                 "endsAt": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
        answer = self.session.post(self.url + "/api/v2/alerts", json=[alert], timeout=5)
        assert answer.status_code == 200, answer.text


def test_stopping_alertmanager_silences_its_watchdog_opens_a_monitoring_incident_and_a_restart_resolves_it(
        providers, tmp_path: Path) -> None:
    binary = _alertmanager_binary()
    smtp, proxy, provider_env = providers
    notify = Notify({**provider_env, "NOTIFY_CONFIG_DIR": str(config_with_a_fast_watchdog(tmp_path))}, tmp_path)
    ams: list[WatchdogAlertmanager] = []
    try:
        wait_for("notify serve /healthz", lambda: notify.alive() and
                 notify.session.get(notify.url + "/healthz", timeout=1).ok, 15)
        ams.append(WatchdogAlertmanager(binary, notify.port, tmp_path, 1))
        wait_for("Alertmanager /-/ready", ams[0].ready, 10)
        ams[0].fire_watchdog()
        wait_for("the Watchdog's beats", lambda: (notify.ingested().get("heartbeat", 0) >= 3), 15)
        # Beating for longer than interval + grace: no incident, nobody paged.
        time.sleep(INTERVAL + GRACE + 1)
        assert notify.incidents() == [], "the Watchdog opened an incident while it was beating"
        beats_before = notify.ingested()["heartbeat"]

        stopped = time.monotonic()
        ams[0].stop()
        (incident,) = wait_for("the monitoring incident of the silence", notify.incidents, 15)
        opened = time.monotonic()
        assert incident["class"] == "monitoring" and incident["status"] == "open", incident
        assert incident["summary"] == "monitoring has gone silent: alertmanager-watchdog"
        doc = notify.get(f"/incidents/{incident['id']}")
        assert {(d["role"], d["channel"]) for d in doc["deliveries"]} == {
            ("slack:outage-response", "slack"), ("rotation:primary", "phone"), ("rotation:primary", "sms")}
        wait_for("the page to the on-call primary", lambda: [r for r in proxy["api.twilio.com"].requests
                                                             if r.path.endswith("/Calls.json")], 10)

        ams.append(WatchdogAlertmanager(binary, notify.port, tmp_path, 2))
        wait_for("the new Alertmanager /-/ready", ams[1].ready, 10)
        ams[1].fire_watchdog()
        (done,) = wait_for("the incident to be resolved by the beats resuming",
                           lambda: [i for i in notify.incidents() if i["status"] == "resolved"], 15)
        resolved = time.monotonic()
        assert done["id"] == incident["id"] and len(notify.incidents()) == 1
        assert notify.ingested()["heartbeat"] > beats_before
        assert set(notify.ingested()) == {"heartbeat"}, "a Watchdog notification was handled as an alert"
    finally:
        logs = [am.stop() for am in ams]
        notify_log = notify.stop()
    print(f"\nsilence detected {opened - stopped:.1f} s after stopping Alertmanager (interval {INTERVAL} s + grace "
          f"{GRACE} s, worker tick 0.2 s); resolved {resolved - opened:.1f} s after it opened (restart included)")
    assert all("level=error" not in line for log in logs for line in log.splitlines()), logs
    assert TOKEN not in notify_log and notify.proc.returncode == 0, notify_log

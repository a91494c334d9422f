"""A real Alertmanager (Debian's prometheus-alertmanager) firing a silenced alert pages nobody; `notify silence
expire` while it still fires pages at once, without waiting for Alertmanager's next notification.

`notify serve` runs as a process, its providers are the local stand-ins, and the silence is made and expired
with the `notify` command line on the same store, as an operator would. The silence lasts two hours: nothing
here waits for it to run out. Alertmanager's own timings are those of test_alertmanager_real.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from .test_alertmanager_real import API_TOKEN, TOKEN, Alertmanager, Notify, _alertmanager_binary, wait_for

pytestmark = pytest.mark.slow  # a real Alertmanager in front of a notify serve process


def notify_cli(provider_env: dict[str, str], tmp_path: Path, *args: str) -> dict[str, Any]:
    """`notify ARGS --json` as its own process on the server's store; its JSON answer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFY_")}
    env.update(provider_env, NOTIFY_STATE_DIR=str(tmp_path / "state"))
    done = subprocess.run([sys.executable, "-m", "dispatcher", *args, "--json"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_silenced_alert_from_a_real_alertmanager_pages_nobody_until_the_silence_is_expired(
        providers, tmp_path: Path) -> None:
    binary = _alertmanager_binary()
    smtp, proxy, provider_env = providers
    notify = Notify(provider_env, tmp_path)
    try:
        am = Alertmanager(binary, notify.port, tmp_path)
    except BaseException:
        notify.stop()
        raise

    def sent() -> int:
        return len(smtp.messages) + len(proxy.requests)

    def deliveries(incident_id: str) -> list[dict[str, Any]]:
        return notify.get(f"/incidents/{incident_id}")["deliveries"]

    try:
        wait_for("notify serve /healthz", lambda: notify.alive() and
                 notify.session.get(notify.url + "/healthz", timeout=1).ok, 15)
        wait_for("Alertmanager /-/ready", lambda: am.alive() and am.session.get(am.url + "/-/ready", timeout=1).ok, 10)
        made = notify_cli(provider_env, tmp_path, "silence", "add", "--match", 'alertname="ApiDown"',
                          "--match", 'service=~"api|web"', "--for", "2h", "--by", "alice",
                          "--reason", "API maintenance")["silence"]

        am.post_alert(datetime.now(timezone.utc))
        (incident,) = wait_for("the incident Alertmanager's first notification stores", notify.incidents, 10,
                               show=am.errors)
        counts = wait_for("Alertmanager's repeat notification of the silenced group",
                          lambda: (c := notify.ingested()).get("duplicate") and c, 12)
        assert counts.get("silenced") == 1 and "opened" not in counts, counts
        doc = notify.get(f"/incidents/{incident['id']}")
        assert doc["incident"]["status"] == "open" and doc["deliveries"] == []
        [held] = [e for e in doc["timeline"] if e["kind"] == "silenced"]
        assert made["id"] in held["detail"]
        assert sent() == 0, "a silenced alert paged someone"

        # Expired by hand while Alertmanager still fires it: the group pages now, from the stored state.
        expired = notify_cli(provider_env, tmp_path, "silence", "expire", made["id"])
        # The command releases the held group at once; serve's worker, whose tick notices the ended silence
        # too, may have released it a moment before (one CI run): either way once, as the timeline shows below.
        assert expired["released"] in ([incident["id"]], [])
        step0 = wait_for("the released step-0 deliveries to finish",
                         lambda: (rows := [d for d in deliveries(incident["id"]) if d["kind"] == "step"]) and
                         all(d["outcome"] != "pending" for d in rows) and rows, 10,
                         show=lambda: deliveries(incident["id"]))
        assert all(d["step"] == 0 for d in step0)
        assert {d["channel"] for d in step0 if d["outcome"] == "delivered"} >= {"email", "slack", "sms", "phone"}
        assert any(m["To"] == "outage-response@teamflow.com" for m in smtp.messages)
        kinds = [e["kind"] for e in notify.get(f"/incidents/{incident['id']}")["timeline"]]
        assert kinds.index("silenced") < kinds.index("released") and "escalation" not in kinds
        assert kinds.count("released") == 1
        firing = am.session.get(am.url + "/api/v2/alerts", params={"active": "true"}, timeout=5).json()
        assert [a["labels"]["alertname"] for a in firing] == ["ApiDown"]  # it was still firing when it paged
        held_metric = [line for line in notify.session.get(notify.url + "/metrics", timeout=5).text.splitlines()
                       if line.startswith('notify_pages_held_total{reason="silence"}')]
        assert held_metric and held_metric[0].endswith(" 1.0")
        am_log = am.stop()
    finally:
        am_log = am.stop()
        notify_log = notify.stop()
    assert "Notify for alerts failed" not in am_log, am_log
    assert TOKEN not in notify_log and API_TOKEN not in notify_log
    assert notify.proc.returncode == 0, notify_log

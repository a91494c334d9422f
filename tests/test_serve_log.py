"""`notify serve` logs a line per event, as a real process: text by default, JSON lines on request, no secret.

The server runs as `python -m dispatcher serve` with its sender child; its stderr
is the log. Canary secrets sit in the inbound token, the outbound webhook's URL
(which the receiver echoes back in its error) and the SMTP password.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest
import requests

from dispatcher.store import open_store
from dispatcher.testing.providers import RecordingServer, Reply

from .helpers import run, wait_for
from .providers_fixtures import closed_port

PAYLOADS = Path(__file__).parent / "payloads"
TOKEN = "CANARYINBOUND7731"  # NOTIFY_WEBHOOK_TOKEN
HOOK_KEY = "CANARYOUTBOUND4242"  # in NOTIFY_WEBHOOK_URL's query, echoed by the receiver's error
SMTP_PASSWORD = "CANARYSMTPPASS9090"  # in NOTIFY_EMAIL_URL
CANARIES = (TOKEN, HOOK_KEY, SMTP_PASSWORD)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the sender child inherits a Unix socket")




def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve:
    """`notify serve` with the inbound token, an outbound webhook and SMTP that fail, stderr to a file."""

    def __init__(self, tmp_path: Path, receiver: RecordingServer, **env: str) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        store_url = f"sqlite:///{tmp_path / 'notify.db'}"
        store = open_store(store_url)  # a webhook stored by an older notify, that no longer parses
        store.enqueue("alertmanager", "alertmanager:old", '{"status": "firing"}', datetime.now(timezone.utc))
        store.close()
        environ = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFY_") and "proxy" not in k.lower()}
        environ.update(NOTIFY_STORE_URL=store_url, NOTIFY_WEBHOOK_TOKEN=TOKEN,
                       NOTIFY_WEBHOOK_URL=f"{receiver.url}/out?key={HOOK_KEY}",
                       NOTIFY_EMAIL_URL=f"mailto://ops:{SMTP_PASSWORD}@127.0.0.1:{closed_port()}"
                                        "?from=notify@teamflow.example", **env)
        self.log = tmp_path / "serve.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "dispatcher", "serve", "--port",
                                          self.url.rsplit(":", 1)[1], "--interval", "60"], env=environ, stderr=log)
        wait_for("/healthz", self.healthy)

    def healthy(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"notify serve exited with {self.proc.returncode}:\n{self.log.read_text()}")
        try:
            return requests.get(self.url + "/healthz", timeout=2).status_code in (200, 503)
        except requests.ConnectionError:
            return False

    def post(self, path: str, body: dict) -> dict:
        answer = requests.post(self.url + path, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert answer.status_code == 202, answer.text
        return answer.json()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


LOGFMT = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')
TEXT_LINE = re.compile(r"^(\S+Z) (INFO|WARNING|ERROR) (\S+) (incident=\S+.*)$")


def events(log: str, log_format: str) -> list[dict]:
    """The event lines as dicts (at, level, event, incident, fields); every line must be one in JSON."""
    found = []
    for line in log.splitlines():
        if log_format == "json":
            found.append(json.loads(line))  # every line, the start and stop lines included
            continue
        match = TEXT_LINE.match(line)
        if match is None:
            continue  # the start and stop lines, as `notify serve` has always written them
        at, level, event, rest = match.groups()
        fields = {k: json.loads(v) if v.startswith('"') else v for k, v in LOGFMT.findall(rest)}
        fields["incident"] = None if fields["incident"] == "-" else fields["incident"]
        found.append({"at": at, "level": level.lower(), "event": event, **fields})
    return found


@pytest.fixture
def receiver() -> Iterator[RecordingServer]:
    with RecordingServer(Reply(400, f"bad key {HOOK_KEY}")) as running:
        yield running


@pytest.mark.slow
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_serve_logs_a_line_per_event_with_the_incident_and_no_secret(tmp_path, receiver, log_format) -> None:
    serve = Serve(tmp_path, receiver, **({"NOTIFY_LOG_FORMAT": "json"} if log_format == "json" else {}))
    try:
        opened = serve.post("/hooks/generic", {"class": "outage", "summary": "API down"})["incident"]
        queued = serve.post("/hooks/alertmanager", json.loads((PAYLOADS / "alertmanager-0.25-webhook-v4.json")
                                                              .read_text()))["event"]

        def seen() -> list[dict]:
            return events(serve.log.read_text(), log_format)

        wait_for("two incidents opened, a given-up webhook and the webhook's failure", lambda: (
            len([e for e in seen() if e["event"] == "incident.opened"]) == 2
            and any(e["event"] == "inbox.given-up" for e in seen())
            and any(e["event"] == "delivery.failed" and e["channel"] == "webhook" for e in seen())))
    finally:
        status = serve.stop()
    log = serve.log.read_text()
    assert status == 0, log
    assert not [c for c in CANARIES if c in log], log
    lines = events(log, log_format)
    assert all("incident" in e for e in lines)
    by_event = {name: [e for e in lines if e["event"] == name] for name in {e["event"] for e in lines}}

    generic, stored = sorted(by_event["hook.received"], key=lambda e: e["source"] != "generic")
    assert (generic["source"], generic["incident"], generic["outcome"]) == ("generic", opened, "opened")
    assert (stored["source"], stored["incident"], stored["outcome"]) == ("alertmanager", None, "queued")
    assert int(stored["inbox_event"]) == queued
    first, second = by_event["incident.opened"]
    assert (first["incident"], first["source"], first["class"]) == (opened, "generic", "outage")
    assert second["source"] == "alertmanager" and int(second["inbox_event"]) == queued
    assert second["incident"] and second["incident"] != opened

    failed = by_event["delivery.failed"]
    assert {e["incident"] for e in failed} == {opened, second["incident"]}  # every failure names its incident
    hook = [e for e in failed if e["channel"] == "webhook" and e["incident"] == opened]
    assert [(e["level"], e["reason"], str(e["final"]).lower()) for e in hook] == [("error", "bad-request", "true")]
    assert "bad key ***" in hook[0]["detail"]  # the receiver's answer, its echo of the secret masked
    assert {e["channel"] for e in failed} >= {"email", "webhook"}

    (gave_up,) = by_event["inbox.given-up"]
    assert (gave_up["level"], gave_up["incident"], int(gave_up["inbox_event"])) == ("error", None, 1)
    assert gave_up["source"] == "alertmanager" and gave_up["reason"].startswith("PayloadError")


def test_an_unknown_log_format_is_refused_naming_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("NOTIFY_LOG_FORMAT", "xml")
    refused = run("serve", "--no-auth")
    assert refused.exit_code == 2 and "NOTIFY_LOG_FORMAT: Input should be 'text' or 'json'" in refused.stderr

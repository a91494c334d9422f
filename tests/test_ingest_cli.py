"""`notify ingest` for command-style hooks, and `notify serve` as a process, the way an operator runs them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from .helpers import run

PAYLOADS = Path(__file__).parent / "payloads"


def test_ingest_opens_then_dedups_then_resolves(providers) -> None:
    smtp, proxy, _ = providers
    sample = (PAYLOADS / "alertmanager-0.25-webhook-v4.json").read_bytes()
    first = run("ingest", "--format", "alertmanager", "-", "--json", input=sample)
    assert first.exit_code == 0, first.stdout
    doc = json.loads(first.stdout)
    assert doc["ingest"]["outcome"] == "opened" and doc["summary"]["delivered"] >= 1
    sent = len(proxy.requests) + len(smtp.messages)
    again = run("ingest", "--format", "alertmanager", "-", input=sample)
    assert again.exit_code == 0 and "nobody was paged again" in again.stdout
    assert len(proxy.requests) + len(smtp.messages) == sent
    resolved = json.loads(sample)
    resolved["status"] = "resolved"
    done = run("ingest", "--format", "alertmanager", "-", "--json", input=json.dumps(resolved).encode())
    assert json.loads(done.stdout)["ingest"]["outcome"] == "resolved"


def test_ingest_rejects_a_bad_payload_with_exit_2_and_stores_nothing(providers, tmp_path: Path) -> None:
    bad = tmp_path / "alert.json"
    bad.write_text('{"version": "3", "status": "firing", "alerts": []}')
    result = run("ingest", "--format", "alertmanager", str(bad))
    assert result.exit_code == 2 and "version" in result.stderr and "nothing was stored" in result.stderr
    assert run("incidents").stdout.strip() == "no incidents"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_serve_process_needs_the_token_pages_with_it_and_counts_it(providers, tmp_path: Path) -> None:
    smtp, proxy, provider_env = providers
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFY_")}
    env.update(provider_env, NOTIFY_WEBHOOK_TOKEN="s3cret-inbound-token", NOTIFY_STATE_DIR=str(tmp_path / "state"))
    proc = subprocess.Popen([sys.executable, "-m", "dispatcher", "serve", "--port", str(port), "--interval", "0.2"],
                            env=env, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
        body = {"class": "outage", "summary": "API returns 503 for all tenants"}
        assert requests.post(url + "/hooks/generic", json=body, timeout=5).status_code == 401
        refused = requests.get(url + "/incidents", timeout=5)  # the API needs its own token, not set here
        assert refused.status_code == 403 and "set NOTIFY_API_TOKEN" in refused.json()["error"]
        answer = requests.post(url + "/hooks/generic", json=body, timeout=5,
                               headers={"Authorization": "Bearer s3cret-inbound-token"})
        assert answer.status_code == 202 and answer.json()["outcome"] == "opened"
        counted = 'notify_deliveries_total{channel="email",outcome="delivered"}'

        def done() -> bool:  # the worker loop sends after the 202, then records and counts each attempt
            mailed = any(m["To"] == "outage-response@teamflow.com" for m in smtp.messages)
            return mailed and counted in requests.get(url + "/metrics", timeout=5).text

        while time.monotonic() < deadline and not done():
            time.sleep(0.02)
        assert done()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "s3cret-inbound-token" not in err


def test_serve_refuses_to_start_without_inbound_auth(clean_env: Path) -> None:
    result = run("serve")
    assert result.exit_code == 2 and "NOTIFY_WEBHOOK_TOKEN" in result.stderr


def test_a_generic_alert_is_named_by_its_summary_in_the_timeline(providers) -> None:
    """A generic body has no alertname: its timeline line shows the summary, not 'alert'."""
    result = run("ingest", "--format", "generic", "-", "--json",
                 input=json.dumps({"class": "outage", "summary": "API down in eu-west"}))
    incident = json.loads(result.stdout)["ingest"]["incident"]
    status = json.loads(run("status", incident, "--json").stdout)
    assert [e["detail"] for e in status["timeline"] if e["kind"] == "alert"] == ["API down in eu-west"]


# As the CLI refuses `notify security --started 2099-...` (test_operator_mistakes.py) and the API answers 422
# (test_server.py): validated once, in domain/incident.py, naming the field; nothing is stored.
@pytest.mark.parametrize(("body", "message"), [
    ({"class": "security", "summary": "x", "started": "2099-01-01T00:00:00Z"},
     "ingest: started: 2099-01-01T00:00:00+00:00 is in the future; nothing was stored"),
    ({"class": "outage", "summary": "x", "incident": "SEC-2026-001"},
     "ingest: incident: 'SEC-2026-001' does not start with this class's prefix OUT-; nothing was stored"),
])
def test_ingest_refuses_invalid_incident_input_as_the_cli_does(providers, body: dict, message: str) -> None:
    result = run("ingest", "--format", "generic", "-", "--json", input=json.dumps(body).encode())
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert json.loads(result.stdout)["status"] == "rejected"
    assert run("incidents").stdout.strip() == "no incidents"

"""The 3 a.m. command, end to end: a real `notify` process, a real SMTP server, providers behind a proxy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dispatcher.testing.providers import Reply
from dispatcher.testing.proxy import PROVIDER_HOSTS

from .helpers import SID, channel_env, provider_stand_ins, replace_in, run_process

pytestmark = pytest.mark.slow  # every test runs notify as a process, over real sockets

COMMAND = ["security", "--incident", "SEC-2024-001", "--customer", "Acme Corp", "--reported-by",
           "jane@acme.example", "--summary", "Unusual admin logins from a new ASN"]


@pytest.fixture
def world(tmp_path: Path):
    with provider_stand_ins(PROVIDER_HOSTS + ("api.telegram.org",)) as (smtp, proxy):
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFY_")}
        env.update(proxy.env(ca_bundle=True), XDG_STATE_HOME=str(tmp_path / "state"),
                   **channel_env(smtp.url(**{"from": "notify@teamflow.example"}), token="authtoken"))
        yield smtp, proxy, env


def test_security_command_delivers_step_zero_logs_it_and_never_pages_twice(world) -> None:
    smtp, proxy, env = world
    first = run_process(env, *COMMAND)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "5 deliveries: 5 accepted" in first.stdout
    assert len(smtp.messages) == 2 and len(proxy.requests) == 3

    log = run_process(env, "log", "--incident", "SEC-2024-001", "--json")
    attempts = json.loads(log.stdout)["attempts"]
    assert log.returncode == 0 and len(attempts) == 5
    assert {a["channel"] for a in attempts} == {"email", "slack", "phone", "sms"}
    assert all(a["outcome"] == "delivered" and a["incident"] == "SEC-2024-001" for a in attempts)

    again = run_process(env, *COMMAND)
    assert again.returncode == 0 and "nobody was paged again" in again.stdout
    assert len(smtp.messages) == 2 and len(proxy.requests) == 3


def test_someone_not_reached_exits_1_and_says_who(world) -> None:
    smtp, proxy, env = world
    proxy["hooks.slack.com"].script(Reply(404, "no_service"))
    result = run_process(env, *COMMAND, "--json")
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert doc["summary"]["unreached"] == ["slack:security-alerts"]
    slack = next(d for d in doc["deliveries"] if d["channel"] == "slack")
    assert (slack["outcome"], slack["attempts"]) == ("failed-permanent", 1)


def test_log_filters_by_since_and_limit(world) -> None:
    smtp, proxy, env = world
    assert run_process(env, *COMMAND).returncode == 0
    assert len(json.loads(run_process(env, "log", "--limit", "2", "--json").stdout)["attempts"]) == 2
    assert len(json.loads(run_process(env, "log", "--since", "1h", "--json").stdout)["attempts"]) == 5
    assert json.loads(run_process(env, "log", "--since", "2999-01-01T00:00:00Z", "--json").stdout)["attempts"] == []
    bad = run_process(env, "log", "--since", "last tuesday")
    assert bad.returncode == 2 and "--since" in bad.stderr


def give_the_managers_telegram_urls(config_dir: Path, token: str) -> None:
    """Both support managers (one is the primary, whatever the week) fall back to their own Telegram bot."""
    for who in ("a", "b"):
        replace_in(config_dir / "contacts.toml", f'slack = "U0SUP0000{who.upper()}"\nchannels = ["phone", "sms", "email"]',
                   f'slack = "U0SUP0000{who.upper()}"\napprise = "tgram://123456789:{token}/987654321"\n'
                   'channels = ["phone", "sms", "apprise", "email"]')


def test_a_canary_secret_in_every_setting_never_reaches_output_errors_or_the_store(world, tmp_path: Path,
                                                                                    config_dir: Path) -> None:
    from dispatcher.testing.providers import RecordingServer

    smtp, proxy, env = world
    canary = "CANARYSECRET456"
    # Both primaries page their own PagerDuty service, and PagerDuty's error repeats the key.
    routing_key = canary + "0" * 17
    contacts = config_dir / "contacts.toml"
    contacts.write_text(contacts.read_text().replace(
        'channels = ["phone", "sms", "email"]',
        f'channels = ["phone", "sms", "email"]\npagerduty_routing_key = "{routing_key}"', 2))
    proxy["events.pagerduty.com"].script(Reply(400, {"status": "invalid event", "message": f"key {routing_key}",
                                                     "errors": [f"routing_key {routing_key} is unknown"]}))
    give_the_managers_telegram_urls(config_dir, canary)  # a personal apprise URL is a setting too
    env["NOTIFY_CONFIG_DIR"] = str(config_dir)
    proxy["hooks.slack.com"].script(Reply(500, body=lambda request: f"invalid hook {request.path}"))
    proxy["api.twilio.com"].script(Reply(401, {"code": 20003, "message": f"bad token {canary}"}))
    proxy["api.telegram.org"].script(Reply(401, body=lambda request: {"ok": False, "description": request.path}))
    with RecordingServer(Reply(500, body=lambda request: request.headers.get("Authorization", ""))) as hook:
        env.update(NOTIFY_SLACK_URL=f"https://hooks.slack.com/services/T0000/B0000/{canary}",
                   NOTIFY_SMS_URL=f"twilio://{SID}:{canary}@+15550100000",
                   NOTIFY_PHONE_URL=f"twilio://{SID}:{canary}@+15550100000?method=call",
                   NOTIFY_EMAIL_URL=smtp.url(user="notify", password=canary, **{"from": "notify@teamflow.example"}),
                   NOTIFY_WEBHOOK_URL=hook.url.replace("http://", f"http://notify:{canary}@") + "/in",
                   NOTIFY_RETRY_ATTEMPTS="2")
        results = [run_process(env, "who", "security"), run_process(env, *COMMAND, "--dry-run"),
                   run_process(env, *COMMAND), run_process(env, *COMMAND, "--json"), run_process(env, "log"),
                   run_process(env, "log", "--json"), run_process(env, "check"), run_process(env, "channels"),
                   run_process(env, "db", "upgrade")]
    assert results[2].returncode == 1  # the failures really happened
    assert [r.json["routing_key"] for r in proxy["events.pagerduty.com"].requests] == [routing_key]
    for result in results:
        assert canary not in result.stdout + result.stderr
    files = list((tmp_path / "state" / "notify").glob("notify.db*"))  # the database and its WAL
    assert files and all(canary.encode() not in f.read_bytes() for f in files)
    assert proxy["api.telegram.org"].requests[0].path == f"/bot123456789:{canary}/sendMessage"  # via the fallback


def test_the_log_names_whom_a_fallback_stands_in_for(world, rotation_week) -> None:
    smtp, proxy, env = world
    env["NOTIFY_NOW"] = rotation_week.now  # the primary on duty, whose phone and SMS fall back to email
    primary = rotation_week.primary
    proxy["api.twilio.com"].script(Reply(400, {"code": 21211, "message": "Invalid 'To' Phone Number"}))
    run_process(env, *COMMAND)
    attempts = json.loads(run_process(env, "log", "--json").stdout)["attempts"]
    stand_ins = [a for a in attempts if a["fallback_of"]]
    assert stand_ins and {a["fallback_of"] for a in stand_ins} <= {f"{primary}/phone", f"{primary}/sms"}
    assert all(a["recipient"] == primary and a["channel"] == "email" for a in stand_ins)
    text = run_process(env, "log").stdout
    assert "email" in text and f"fallback for {primary}/" in text
    assert text.count("step 0") == len(attempts)

"""A person's own apprise URL: enough to reach them, and never shown or stored in clear.

senior-tech-1 carries a Telegram bot URL in contacts.toml and is reached on it
first; Telegram is behind the provider proxy, so the test sees the request
Telegram would receive. NOTIFY_APPRISE_URL is never set.
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from dispatcher.app import engine
from dispatcher.clock import FakeClock
from dispatcher.config.settings import load_settings
from dispatcher.store import open_store
from dispatcher.testing.providers import Reply
from dispatcher.testing.proxy import PROVIDER_HOSTS, ProviderProxy

from .helpers import SLACK_HOOK, replace_in, run_process

TOKEN = "123456789:AAHsecretBotTokenXYZ"
SECRET = "AAHsecretBotTokenXYZ"
URL = f"tgram://{TOKEN}/987654321"
MASKED = "tgram://1...9:A...Z/9...1"
TELEGRAM = "api.telegram.org"
SENIOR = 'slack = "U0STS00001"\nchannels = ["slack", "email"]'


def give_senior_tech_a_telegram_url(config_dir: Path, url: str = URL) -> None:
    replace_in(config_dir / "contacts.toml", SENIOR,
               f'slack = "U0STS00001"\napprise = "{url}"\nchannels = ["apprise", "slack", "email"]')


@pytest.fixture
def world(config_dir: Path, tmp_path: Path):
    give_senior_tech_a_telegram_url(config_dir)
    with ProviderProxy(PROVIDER_HOSTS + (TELEGRAM,)) as proxy:
        proxy[TELEGRAM].script(Reply(200, {"ok": True, "result": {"message_id": 7}}))
        proxy["hooks.slack.com"].script(Reply(200, "ok"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFY_")}
        env.update(proxy.env(ca_bundle=True), XDG_STATE_HOME=str(tmp_path / "state"),
                   NOTIFY_CONFIG_DIR=str(config_dir),
                   NOTIFY_SLACK_URL=SLACK_HOOK)
        yield proxy, env, tmp_path / "state" / "notify"


@pytest.mark.slow
def test_a_personal_apprise_url_is_enough_to_reach_its_owner(world) -> None:
    proxy, env, _ = world
    result = run_process(env, "technical", "--summary", "Partner API returns 500s", "--json")
    doc = json.loads(result.stdout)
    apprise = next(d for d in doc["deliveries"] if d["channel"] == "apprise")
    assert (apprise["recipient"], apprise["outcome"]) == ("senior-tech-1", "delivered"), result.stdout
    (request,) = proxy[TELEGRAM].requests  # the real URL, read from the directory at send time
    assert request.path == f"/bot{TOKEN}/sendMessage"
    assert str(request.json["chat_id"]) == "987654321" and "Partner API returns 500s" in request.json["text"]

    checked = run_process(env, "check")
    complaints = [line for line in checked.stdout.splitlines() if line.startswith(("error", "warning"))]
    about_apprise = [line for line in complaints if "'apprise'" in line or "APPRISE" in line or ".apprise" in line]
    assert complaints and not about_apprise, complaints  # the person's own URL is the channel's setting for them


@pytest.mark.slow
def test_check_names_a_personal_url_apprise_cannot_read_without_printing_it(world, config_dir: Path) -> None:
    _, env, _ = world
    replace_in(config_dir / "contacts.toml", URL, f"tgram://{SECRET}/987654321")  # no bot id: unusable
    checked = run_process(env, "check")
    assert checked.returncode == 2
    assert "people.senior-tech-1.apprise" in checked.stdout and "cannot parse tgram:// URL" in checked.stdout
    assert SECRET not in checked.stdout + checked.stderr


@pytest.mark.slow
def test_a_personal_apprise_url_is_masked_in_every_output_and_in_the_store(world) -> None:
    proxy, env, state = world
    # Telegram echoes the bot path in its refusal: that must not leak through apprise's complaint either.
    proxy[TELEGRAM].script(Reply(401, body=lambda request: {"ok": False, "description": f"no bot {request.path}"}),
                           Reply(200, {"ok": True}))
    command = ("technical", "--incident", "TEC-2026-001", "--summary", "Partner API returns 500s")
    results = [run_process(env, "who", "technical"), run_process(env, "who", "technical", "--json"),
               run_process(env, *command, "--dry-run"), run_process(env, *command, "--dry-run", "--json"),
               run_process(env, *command), run_process(env, "log"), run_process(env, "log", "--json"),
               run_process(env, "test", "senior-tech-1", "--channel", "apprise", "--json")]
    assert len(proxy[TELEGRAM].requests) == 3 and all(TOKEN in r.path for r in proxy[TELEGRAM].requests)
    for result in results:
        assert SECRET not in result.stdout + result.stderr, result.args
    assert MASKED in results[0].stdout and MASKED in results[2].stdout and MASKED in results[5].stdout

    files = list(state.glob("notify.db*"))
    assert files and all(SECRET.encode() not in f.read_bytes() for f in files)
    db = sqlite3.connect(state / "notify.db")
    stored = db.execute("SELECT target, masked_target FROM deliveries WHERE channel = 'apprise'").fetchall()
    logged = db.execute("SELECT masked_target FROM attempts WHERE channel = 'apprise'").fetchall()
    assert stored == [(MASKED, MASKED)] * 2 and logged == [(MASKED,)] * 3


def test_a_masked_url_is_never_sent_to_once_the_directory_no_longer_has_it(config_dir: Path, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    give_senior_tech_a_telegram_url(config_dir)
    with ProviderProxy(PROVIDER_HOSTS + (TELEGRAM,)) as proxy:
        for name, value in proxy.env().items():
            monkeypatch.setenv(name, value)
        proxy[TELEGRAM].script(Reply(500, {"ok": False}))
        settings = load_settings(slack_url=SLACK_HOOK,
                                 ca_bundle=proxy.ca_bundle_path)
        clock, store = FakeClock(), open_store(f"sqlite:///{tmp_path / 'notify.db'}")
        rt = engine.load_runtime(config_dir, settings)
        incident = engine.new_incident(rt, "technical", {"summary": "Partner API down"}, now=clock.now(),
                                       drill=False)
        engine.trigger(rt, "technical", incident, store=store, clock=clock, wait=0)  # the retry is left pending
        assert len(proxy[TELEGRAM].requests) == 1

        replace_in(config_dir / "contacts.toml", f'apprise = "{URL}"\nchannels = ["apprise", ', 'channels = [')
        rt = engine.load_runtime(config_dir, settings)
        registry = engine.Registry(rt.settings, rt.directory)
        sender = engine.make_sender(rt, store, clock, registry, owner="worker", incidents=lambda _: incident)
        clock.advance(timedelta(minutes=5))
        sender.attempt_due()
        registry.close()
        (row,) = [d for d in store.deliveries("TEC-2026-001") if d.channel == "apprise"]
        store.close()
    assert len(proxy[TELEGRAM].requests) == 1  # nothing was sent to the masked copy
    assert (row.status, row.reason) == ("failed-permanent", "bad-address")
    assert "no apprise URL in the directory" in row.detail


@pytest.mark.parametrize("url", [URL, "json://user:hunter22@hooks.example.com/in?+Authorization=Bearer%20s3cretvalue",
                                 "opsgenie://APIKEY0123456789abcdef/@oncall", "pover://USERKEY12345@APPTOKEN67890"])
def test_mask_url_keeps_no_credential_and_is_stable(url: str) -> None:
    from dispatcher.api import mask_url

    masked = mask_url(url)
    for secret in ("AAHsecretBotTokenXYZ", "hunter22", "s3cretvalue", "APIKEY0123456789abcdef", "USERKEY12345",
                   "APPTOKEN67890"):
        assert secret not in masked
    assert masked.startswith(url.split("://")[0] + "://") and mask_url(masked) == masked

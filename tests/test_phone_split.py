"""`phone` split into `voice` (Twilio calls) and `pagerduty`, with `phone` kept as an alias chosen by its URL's
scheme and noted as deprecated by `notify check`. The contract table (test_channel_contract.py) runs both."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from channels.phone import PagerDutyChannel, TwilioVoiceChannel
from dispatcher.api import ChannelConfig
from dispatcher.app.check import run_check
from dispatcher.config.settings import load_settings

from .helpers import SID
from .stage import Stage, make_stage

CALL_URL = f"twilio://{SID}:authtoken@+15550100000"
PD_URL = "pagerduty://0123456789abcdef0123456789abcdef@apikey/"


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    yield from make_stage(config_dir, tmp_path, monkeypatch)


def test_the_shipped_policy_pages_the_primary_by_a_voice_call_on_the_voice_channel(stage, config_dir, rotation_week):
    policy = config_dir / "policy.toml"  # the security and outage classes both call the primary
    policy.write_text(policy.read_text().replace('channel = "phone" }', 'channel = "voice" }'))
    stage.start_in(rotation_week)
    report = stage.trigger(phone_url=None, voice_url=CALL_URL)
    assert {(d.recipient, d.channel, d.outcome) for d in report.deliveries if d.channel == "voice"} == {
        (rotation_week.primary, "voice", "delivered")}
    (call,) = stage.twilio("Calls")
    assert call.form["To"] == "+14155550199" and "<Say" in call.form["Twiml"]  # the slot's shared number, spoken


def test_each_channel_takes_only_its_own_scheme_and_says_which_channel_the_other_is_for() -> None:
    (problem,) = TwilioVoiceChannel(ChannelConfig(url=PD_URL)).problems()
    assert "is for the pagerduty channel (NOTIFY_PAGERDUTY_URL)" in problem and "0123456789abcdef" not in problem
    (problem,) = PagerDutyChannel(ChannelConfig(url=CALL_URL)).problems()
    assert "is for the voice channel (NOTIFY_VOICE_URL)" in problem and "authtoken" not in problem
    assert TwilioVoiceChannel(ChannelConfig(url=CALL_URL)).problems() == []


@pytest.mark.parametrize(("url", "advice"), [
    (CALL_URL + "?method=call", "name voice instead, with NOTIFY_VOICE_URL"),
    (PD_URL, "name pagerduty instead, with NOTIFY_PAGERDUTY_URL"),
])
def test_check_notes_that_phone_is_a_deprecated_alias_and_names_its_replacement(config_dir, url, advice) -> None:
    result = run_check(config_dir, load_settings(phone_url=url))
    (alias,) = [p for p in result.problems if "deprecated alias" in p.message]
    assert alias.severity.value == "note" and alias.key == "NOTIFY_PHONE_URL" and advice in alias.message
    assert "used by classes.security.steps[0].notify[2]" in alias.message


def test_check_does_not_call_a_set_outbound_webhook_unused(config_dir) -> None:
    """The outbound webhook gets every step without a step naming it: set is used. Another channel set but named
    by no step is still noted."""
    settings = load_settings(webhook_url="https://hooks.example.test/notify", pagerduty_url=PD_URL)
    unused = {p.key for p in run_check(config_dir, settings).problems if "no policy step uses it" in p.message}
    assert unused == {"NOTIFY_PAGERDUTY_URL"}

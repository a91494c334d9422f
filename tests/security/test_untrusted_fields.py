"""Item 10 of issue 16: untrusted field values cannot format, link, forge lines or reverse text.

Slack gets Block Kit: the template's own lines as mrkdwn, every field value in a
`plain_text` element (mrkdwn has no escape for *, _ or ~), and an escaped plain-text
fallback. Bidirectional overrides and carriage returns are neutralised in Slack, SMS,
email and the operator's `notify status`.
"""

from __future__ import annotations



from dispatcher.api import Span
from tests.providers_fixtures import proxy  # noqa: F401 - fixture
from tests.helpers import run
from tests.stage import Stage

BIDI = "\u202e"
HOSTILE = {
    "customer": "*Acme* _Corp_ ~x~",
    "reported_by": "jane@acme.example",
    "summary": f"```rm -rf``` <!channel> @here https://evil.example/login\r\n*Incident Commander:* Mallory {BIDI}lanif",
}
TEMPLATE = (":rotating_light: *Security* `{{ incident.id }}`\n"
            "*Customer:* {{ incident.customer }} | *Reported by:* {{ incident.reported_by }}\n"
            "{{ incident.summary }}\n"
            "Coordinate in #security-alerts.\n")
WJ = "\u2060"  # word joiner: breaks @here and bare links without changing what a reader sees


def slack_bodies(stage: Stage) -> list[dict]:
    return [request.json for request in stage.proxy["hooks.slack.com"].requests]


def test_slack_gets_untrusted_fields_as_plain_text_blocks_and_an_escaped_fallback(stage: Stage) -> None:
    (stage.config_dir / "templates" / "security" / "slack.text.j2").write_text(TEMPLATE)
    stage.trigger(fields=HOSTILE)
    [body] = slack_bodies(stage)
    summary = f"```rm -rf``` <!channel> @{WJ}here https:{WJ}//evil.example/login *Incident Commander:* Mallory lanif"
    assert body == {
        "text": (":rotating_light: *Security* `SEC-2024-001`\n"
                 "*Customer:* *Acme* _Corp_ ~x~ | *Reported by:* jane@acme.example\n"
                 f"```rm -rf``` &lt;!channel&gt; @{WJ}here https:{WJ}//evil.example/login "
                 "*Incident Commander:* Mallory lanif\n"
                 "Coordinate in #security-alerts."),
        "blocks": [
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": ":rotating_light: *Security*"},
                {"type": "plain_text", "text": "SEC-2024-001", "emoji": False}]},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": "*Customer:*"},
                {"type": "plain_text", "text": "*Acme* _Corp_ ~x~", "emoji": False},
                {"type": "mrkdwn", "text": "| *Reported by:*"},
                {"type": "plain_text", "text": "jane@acme.example", "emoji": False}]},
            {"type": "section", "text": {"type": "plain_text", "text": summary, "emoji": False}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "Coordinate in #security-alerts."}},
        ],
        "unfurl_links": False, "unfurl_media": False,
    }


def test_the_shipped_slack_template_never_puts_a_field_value_into_mrkdwn(stage: Stage) -> None:
    stage.trigger(fields=HOSTILE)
    [body] = slack_bodies(stage)
    mrkdwn = [t["text"] for t in texts(body["blocks"]) if t["type"] == "mrkdwn"]
    plain = [t["text"] for t in texts(body["blocks"]) if t["type"] == "plain_text"]
    assert "*Acme* _Corp_ ~x~" in plain
    assert not any("Acme" in text or "rm -rf" in text or "Mallory" in text for text in mrkdwn)
    assert any("Security Incident" in text for text in mrkdwn)  # the template's own formatting stays


def texts(blocks: list[dict]) -> list[dict]:
    found = []
    for block in blocks:
        found += block.get("elements", []) + ([block["text"]] if "text" in block else [])
    return found


def test_bidi_overrides_and_carriage_returns_reach_no_channel(stage: Stage) -> None:
    stage.trigger(fields=HOSTILE)
    sent = [str(body) for body in slack_bodies(stage)]
    sent += [request.form.get("Body", "") for request in stage.twilio("Messages")]
    for message in stage.smtp.messages:
        sent += [str(message["Subject"])] + [part.get_content() for part in message.walk()
                                             if part.get_content_maintype() == "text"]
    assert len(sent) >= 4 and any("Mallory" in text for text in sent)
    for text in sent:
        assert BIDI not in text and "\r" not in text, text[:200]


def test_notify_status_prints_no_bidi_override_nor_carriage_return(stage: Stage, monkeypatch) -> None:
    stage.trigger(fields=HOSTILE)
    monkeypatch.setenv("NOTIFY_STORE_URL", f"sqlite:///{stage.store_path}")
    update = run("--config-dir", str(stage.config_dir), "update", "SEC-2024-001", "--by",
                 "cto", "--message", f"fixed\rOK {BIDI}enod", "--dry-run")
    store = stage.store()
    try:
        store.record_event("SEC-2024-001", "note-1", "update", stage.clock.now(),
                           f"contained\r*all clear* {BIDI}gnihton")
    finally:
        store.close()
    result = run("--config-dir", str(stage.config_dir), "status", "SEC-2024-001")
    assert result.exit_code == 0, result.output + update.output
    assert "contained" in result.stdout and "gnihton" in result.stdout
    assert BIDI not in result.stdout and "\r" not in result.stdout


LINES = ((Span("*Customer:* "), Span("*Acme*", literal=True)),)


def test_a_mention_and_a_bot_message_carry_the_same_plain_text_blocks(proxy) -> None:  # noqa: F811
    from channels.slack import SlackChannel
    from dispatcher.api import ChannelConfig
    from dispatcher.testing import Reply
    from tests.providers_fixtures import make_address, make_notice

    notice = make_notice(text="*Customer:* *Acme*", lines=LINES)
    value = [{"type": "context", "elements": [{"type": "mrkdwn", "text": "*Customer:*"},
                                              {"type": "plain_text", "text": "*Acme*", "emoji": False}]}]
    hook = SlackChannel(ChannelConfig(url="https://hooks.slack.com/services/T0001/B0001/Xsecret",
                                      ca_bundle=proxy.ca_bundle_path, read_timeout=2))
    hook.send(notice, make_address("slack", "U0CTO00001"))
    [mention] = proxy["hooks.slack.com"].requests
    assert mention.json["blocks"] == [{"type": "section", "text": {"type": "mrkdwn", "text": "<@U0CTO00001>"}}] + value
    assert mention.json["text"] == "<@U0CTO00001> *Customer:* *Acme*"

    proxy["slack.com"].script(Reply(200, {"ok": True, "channel": "D1", "ts": "1.2"}))
    bot = SlackChannel(ChannelConfig(url="slack://xoxb-1111-2222-BotTokenSecret/", ca_bundle=proxy.ca_bundle_path,
                                     read_timeout=2))
    bot.send(notice, make_address("slack", "#security-alerts"))
    [message] = proxy["slack.com"].requests
    assert message.json == {"channel": "#security-alerts", "text": notice.text, "blocks": value,
                            "unfurl_links": False, "unfurl_media": False}


def test_the_outbound_webhook_json_carries_no_bidi_override_nor_carriage_return(stage: Stage) -> None:
    from dispatcher.testing import Reply

    # The outbound webhook's receiver, played by a host the provider proxy impersonates.
    stage.proxy["events.pagerduty.com"].script(Reply(200, "ok"))
    stage.trigger(fields=HOSTILE, webhook_url="https://events.pagerduty.com/outbound-hook")
    [request] = stage.proxy["events.pagerduty.com"].requests
    fields = request.json["fields"]
    assert fields["summary"].endswith("*Incident Commander:* Mallory lanif")
    assert "\r" not in str(request.json) and BIDI not in str(request.json)

"""mask_secrets (dispatcher.api) skips an expression whose literal the text lacks: it masks exactly as before."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatcher.api import _ACTION_LINK, _SECRET_IN_URL, _SECRET_QUERY, _SLACK_HOOK, mask_secrets

SECRETS = ("hunter22", "s3cr3t-token")
PIECES = ["token=", "KEY=", "api_key=", "Routing_Key=", "paſs=", "sıg=", "ﬆ", "password=", "x", " ", "&", "@",
          "://", "https://", "u:p@", "hooks.slack.com/services/", "/a/", "abcdefghijklmnop", "hunter22", "=",
          "s3cr3t-token", "\u212aey=", "é", "\n"]


def every_expression(text: str) -> str:
    """mask_secrets as it was: every expression on every text."""
    text = _SECRET_IN_URL.sub(lambda m: m.group("scheme") + "***@", text)
    text = _SECRET_QUERY.sub(lambda m: m.group("key") + "***", text)
    text = _SLACK_HOOK.sub(r"\1***", text)
    text = _ACTION_LINK.sub(r"\1***", text)
    for secret in SECRETS:
        text = text.replace(secret, "***")
    return text


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), max_size=12).map("".join))
def test_masking_is_what_every_expression_on_every_text_gave(text: str) -> None:
    assert mask_secrets(text, SECRETS) == every_expression(text)


def test_a_log_line_s_key_and_url_credentials_are_masked() -> None:
    line = 'hook.received group="a=b" url=https://u:pw@host/x?API_KEY=abc&sig=def token=hunter22'
    assert mask_secrets(line, SECRETS) == 'hook.received group="a=b" url=https://***@host/x?API_KEY=***&sig=*** token=***'

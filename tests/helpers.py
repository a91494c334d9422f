"""Helpers every kind of test shares: one of each, so a change to how notify is run or faked is made once.

- :func:`run`: ``notify ARGS`` in process, through click's CliRunner; :func:`run_process`: as a process;
- :func:`provider_stand_ins`: a local SMTP server and a TLS proxy standing in for Twilio, Slack and PagerDuty;
- :data:`SID` and :func:`channel_env`: the suite's one Twilio account and every channel's settings;
- :func:`replace_in` and :func:`make_private`: editing the TOML fixtures.
"""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

if TYPE_CHECKING:
    from click.testing import Result

    from dispatcher.testing.proxy import ProviderProxy
    from dispatcher.testing.smtp import SmtpServer

# The suite's one Twilio Account SID (AC + 32 hex digits, the form the Twilio channel checks).
SID = "AC0123456789abcdef0123456789abcdef"
SLACK_HOOK = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX"
FROM_NUMBER = "+15550100000"


def twilio_url(token: str = "token", method: str | None = None) -> str:
    """A Twilio channel URL for the suite's account, sending from FROM_NUMBER."""
    return f"twilio://{SID}:{token}@{FROM_NUMBER}" + (f"?method={method}" if method else "")


def channel_env(email_url: str, token: str = "token") -> dict[str, str]:
    """NOTIFY_*_URL for every channel: email at `email_url`; Slack and Twilio at their real hosts,
    which a ProviderProxy stands in for; `token` is the Twilio auth token (a canary in secret tests)."""
    return {"NOTIFY_EMAIL_URL": email_url, "NOTIFY_SLACK_URL": SLACK_HOOK,
            "NOTIFY_SMS_URL": twilio_url(token), "NOTIFY_PHONE_URL": twilio_url(token, "call"),
            "NOTIFY_STATUSPAGE_URL": f"statuspage://statuspage-{token}"}


# Every channel with valid settings that point nowhere: a dry run connects to nothing, so with these it
# predicts exit status 0 (everyone would be reached), as a real send with working providers would.
CONFIGURED = channel_env("mailto://127.0.0.1:2525?from=notify@teamflow.example")


def run(*args: str, input: str | bytes | None = None, env: dict[str, str | None] | None = None,
        now: str | None = None, terminal: bool = False, catch_exceptions: bool = False) -> Result:
    """`notify ARGS` in this process; `now` sets NOTIFY_NOW, `terminal` lets colour through.

    An exception other than SystemExit propagates with its traceback (unless `catch_exceptions`),
    so a crash is never mistaken for an exit status.
    """
    from click.testing import CliRunner

    from dispatcher.cli import main

    if now is not None:
        env = {**(env or {}), "NOTIFY_NOW": now}
    return CliRunner().invoke(main, list(args), input=input, env=env, color=terminal,
                              catch_exceptions=catch_exceptions)


def run_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m dispatcher ARGS` as a process of its own, in exactly `env`, its output captured."""
    return subprocess.run([sys.executable, "-m", "dispatcher", *args], env=env, capture_output=True, text=True,
                          timeout=60)


@contextmanager
def provider_stand_ins(hosts: Iterable[str] | None = None) -> Iterator[tuple[SmtpServer, ProviderProxy]]:
    """A local SMTP server and a ProviderProxy (for `hosts`, default the providers') whose Twilio
    accepts every message and call and whose Slack webhook answers ok: (smtp, proxy)."""
    from dispatcher.testing.providers import Reply
    from dispatcher.testing.proxy import PROVIDER_HOSTS, ProviderProxy
    from dispatcher.testing.smtp import SmtpServer

    with SmtpServer() as smtp, ProviderProxy(tuple(hosts or PROVIDER_HOSTS)) as proxy:
        proxy["api.twilio.com"].script(Reply(201, {"sid": "SM0001", "status": "queued"}))
        proxy["hooks.slack.com"].script(Reply(200, "ok"))
        if "api.statuspage.io" in proxy.hosts:
            proxy["api.statuspage.io"].script(Reply(201, {"id": "spstandin001"}))
        yield smtp, proxy


def replace_in(path: Path, old: str, new: str) -> None:
    """Replace exactly one occurrence of `old`, so a fixture edit cannot silently miss."""
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new))


def make_private(root: Path) -> None:
    """Remove group and other write bits below `root`, whatever the checkout's or the process's umask:
    notify ignores a working-directory configuration others can write."""
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o022)


def wait_for(what: str, condition: Callable[[], object], timeout: float = 30.0, every: float = 0.02) -> None:
    """Poll until `condition()` holds: another thread or process is doing the work (no timer is waited out)."""
    import pytest

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(every)

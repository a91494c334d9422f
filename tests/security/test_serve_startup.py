"""`notify serve` refuses to start with credentials anyone could guess, or none where anyone can reach it.

Each refusal must come before the store is opened: the store here cannot be opened, so a serve
that got past the checks fails on it instead (and never listens).
"""

from __future__ import annotations

import pytest

from tests.helpers import run

UNOPENABLE_STORE = "mysql://nowhere/notify"  # refused by open_store: what a serve that got this far says


def serve(monkeypatch: pytest.MonkeyPatch, *args: str, **env: str):
    monkeypatch.setenv("NOTIFY_STORE_URL", UNOPENABLE_STORE)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return run("serve", *args)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "notify.internal.example"])
def test_no_auth_on_an_address_others_can_reach_is_refused(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    refused = serve(monkeypatch, "--no-auth", "--host", host)
    assert refused.exit_code == 2 and "not a loopback address" in refused.stderr, refused.stderr
    assert "--insecure-no-auth" in refused.stderr


@pytest.mark.parametrize("args", [["--no-auth"], ["--no-auth", "--host", "::1"], ["--no-auth", "--host", "localhost"],
                                  ["--no-auth", "--insecure-no-auth", "--host", "0.0.0.0"]])
def test_no_auth_on_loopback_or_when_insisted_on_gets_as_far_as_the_store(monkeypatch: pytest.MonkeyPatch,
                                                                         args: list[str]) -> None:
    started = serve(monkeypatch, *args)
    assert started.exit_code == 2 and "unsupported store 'mysql'" in started.stderr, started.stderr


@pytest.mark.parametrize("variable, value, problem", [
    ("NOTIFY_WEBHOOK_TOKEN", "x", "is 1 characters; use at least 16"),
    ("NOTIFY_WEBHOOK_TOKEN", " " * 20, "is empty or only whitespace"),
    ("NOTIFY_API_TOKEN", "short-token", "is 11 characters; use at least 16"),
    ("NOTIFY_WEBHOOK_HMAC_SECRET", "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t", "is empty or only whitespace"),
    ("NOTIFY_METRICS_TOKEN", "a-long-enough-metrics-token,", "(value 2) is empty"),
    ("NOTIFY_WEBHOOK_TOKEN", "first-token-0000001,second-token-000002,third-token-0000003", "at most two"),
])
def test_a_weak_token_is_refused_naming_its_variable_never_its_value(monkeypatch: pytest.MonkeyPatch, variable: str,
                                                                    value: str, problem: str) -> None:
    env = {"NOTIFY_WEBHOOK_TOKEN": "a-good-monitoring-token-01", variable: value}
    refused = serve(monkeypatch, **env)
    assert refused.exit_code == 2 and f"{variable}" in refused.stderr and problem in refused.stderr, refused.stderr
    for part in value.split(","):
        assert len(part.strip()) < 5 or part not in refused.stderr


def test_good_tokens_get_as_far_as_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    started = serve(monkeypatch, NOTIFY_WEBHOOK_TOKEN="old-monitoring-token-01,new-monitoring-token-02",
                    NOTIFY_API_TOKEN="operator-api-token-000001")
    assert started.exit_code == 2 and "unsupported store 'mysql'" in started.stderr, started.stderr

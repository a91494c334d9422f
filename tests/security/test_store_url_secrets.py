"""A store URL's password is never shown, whatever form the URL takes, and a bad one exits 2 with a message."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run

CANARY = "Canary7pw"

# Every way an operator may write (or mistype) a PostgreSQL store with a password.
FORMS = {
    "key=value": f"host=127.0.0.1 port=1 user=postgres password={CANARY} dbname=test",
    "key=value, quoted": f"host=127.0.0.1 port=1 user=postgres password='{CANARY} x' dbname=test",
    "key=value, spaced": f"host=127.0.0.1 port=1 user=postgres password = {CANARY} dbname=test",
    "unbalanced [": f"postgresql://postgres:{CANARY}@[::1/test",
    "unbalanced [ in the query": f"postgresql://postgres@127.0.0.1:1/test?password={CANARY}&host=[::1",
    "raw @ in the password": f"postgresql://postgres:{CANARY}@x@127.0.0.1:1/test",
    "password in the query": f"postgresql://postgres@127.0.0.1:1/test?password={CANARY}",
    "bad port": f"postgresql://postgres:{CANARY}@127.0.0.1:notaport/test",
}


def _run(args: list[str], url: str):
    env = {"NOTIFY_STORE_URL": url, "NOTIFY_WEBHOOK_TOKEN": "inbound-token-123"}
    return run(*args, env=env, catch_exceptions=True)  # an escaping exception is what the tests look for


def _assert_refused_without_the_password(result) -> None:
    shown = result.stdout + result.stderr + repr(result.exception or "")
    assert CANARY not in shown, shown
    assert result.exception is None or isinstance(result.exception, SystemExit), shown  # no traceback
    assert result.exit_code == 2, (result.exit_code, shown)
    assert "store" in result.stderr.lower(), shown  # the message says what is wrong


@pytest.mark.parametrize("url", FORMS.values(), ids=FORMS.keys())
def test_serve_refuses_a_bad_store_url_without_showing_its_password(url: str, config_dir: Path) -> None:
    result = _run(["serve", "--config-dir", str(config_dir)], url)
    _assert_refused_without_the_password(result)


@pytest.mark.parametrize("url", FORMS.values(), ids=FORMS.keys())
def test_json_errors_never_carry_the_store_password(url: str) -> None:
    result = _run(["incidents", "--json"], url)
    _assert_refused_without_the_password(result)
    assert result.stdout.strip().startswith("{"), result.stdout  # a script still gets a document to read


@pytest.mark.parametrize("url", FORMS.values(), ids=FORMS.keys())
def test_check_reports_a_bad_store_url_without_its_password(url: str, config_dir: Path) -> None:
    result = _run(["check", "--json", "--config-dir", str(config_dir)], url)
    shown = result.stdout + result.stderr
    assert CANARY not in shown, shown
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "NOTIFY_STORE_URL" in result.stdout

"""The console script ends as any Python program does, and nothing is lost or printed at that end.

Each test runs the real command line in a subprocess under `-X dev` (which
shows the ResourceWarnings and "Exception ignored" lines a careless teardown
prints) and checks what a caller sees: exit status, complete output, a quiet
stderr, and an exit that does not wait on a stray thread or pool.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import CONFIGURED, channel_env, provider_stand_ins

pytestmark = pytest.mark.slow  # every test runs notify as a process, to see what it prints at exit

REPO = Path(__file__).resolve().parent.parent
TEARDOWN_NOISE = ("Exception ignored", "Traceback", "ResourceWarning", "BrokenPipeError")


def notify(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess[str]:
    env = {**(env or os.environ), "PYTHONPATH": str(REPO)}
    kw.setdefault("capture_output", True)
    return subprocess.run([sys.executable, "-X", "dev", "-m", "dispatcher", *args], text=True, env=env, timeout=120,
                          **kw)


def assert_quiet_teardown(stderr: str) -> None:
    assert not [noise for noise in TEARDOWN_NOISE if noise in stderr], stderr


def test_the_exit_status_and_message_of_a_rejected_command_survive(clean_env: Path) -> None:
    done = notify("security", "--dry-run")
    assert done.returncode == 2
    assert "missing required option(s): --summary" in done.stderr
    assert_quiet_teardown(done.stderr)


def test_a_long_json_document_arrives_whole_through_a_pipe(clean_env: Path) -> None:
    done = notify("security", "--summary", "x", "--dry-run", "--json", env={**os.environ, **CONFIGURED})
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["deliveries"]) >= 5
    assert_quiet_teardown(done.stderr)


def test_a_send_to_every_channel_ends_without_a_word_at_exit(clean_env: Path, tmp_path: Path) -> None:
    """SMTP, Slack, SMS and a call over real sockets: their clients and pools are closed before exit."""
    with provider_stand_ins() as (smtp, proxy):
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFY_")}
        env.update(proxy.env(ca_bundle=True), XDG_STATE_HOME=str(tmp_path / "state"),
                   **channel_env(smtp.url(**{"from": "notify@teamflow.example"}), token="authtoken"))
        done = notify("security", "--summary", "Unusual admin logins", "--customer", "Acme Corp", env=env)
        assert done.returncode == 0, done.stderr
        assert len(smtp.messages) == 2 and len(proxy.requests) == 3
    assert_quiet_teardown(done.stderr)


def test_a_reader_that_has_gone_away_costs_no_traceback(clean_env: Path) -> None:
    """`notify security --dry-run --json | head -0`: the pipe is closed under the command, which stops quietly."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # no reader at all: the command's first write meets a broken pipe
    try:
        done = notify("security", "--summary", "x", "--dry-run", "--json", env={**os.environ, **CONFIGURED},
                      stdout=write_end, capture_output=False, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert done.returncode == 1  # click's answer to EPIPE
    assert_quiet_teardown(done.stderr)
